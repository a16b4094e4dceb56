"""Request and response bodies of the operator API, next to the routers that use them."""
