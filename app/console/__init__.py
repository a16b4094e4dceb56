"""The operator console at /console: server-rendered pages (Jinja2 + vendored htmx) over the operator API.

``router`` holds every page; ``static_files()`` serves the CSS and htmx from the package itself, so the
console needs no build step and nothing from the internet at run time.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from app.console.pages import admin, connections, dead_letters, overview, sign_in, timeline
from app.console.web import HERE, PREFIX

STATIC_PATH = PREFIX + "/static"

router = APIRouter(include_in_schema=False)
for page in (sign_in, overview, timeline, dead_letters, connections, admin):
    router.include_router(page.router)


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")
