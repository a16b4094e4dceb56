"""Pure ASGI middleware that guards what a request carries before any route sees it."""

from app.api.middleware.body_timeout import BodyReadTimeoutMiddleware
from app.api.middleware.nul_guard import NulGuardMiddleware

__all__ = ["BodyReadTimeoutMiddleware", "NulGuardMiddleware"]
