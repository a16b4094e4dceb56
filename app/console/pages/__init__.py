"""One module per console page; each adds its routes to its own router."""
