"""What both simulators add to their /_sim/docs: the fields each object takes, and example bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


def teach(operation: dict[str, Any], rule: str, objects: str, examples: dict[str, Any]) -> None:
    """Append `rule` (how picklist values are checked) and the objects' fields to an OpenAPI operation's
    description, and give its JSON request body the examples."""
    operation["description"] = operation.get("description", "") + "\n\n" + rule + "\n\n" + objects
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None and examples:
        content["examples"] = examples


def install_teaching(
    app: FastAPI,
    paths: tuple[str, ...],
    rule: str,
    lesson: Callable[[], tuple[str, dict[str, Any]]],
) -> None:
    """Teach the POST and PATCH operations of ``paths`` in ``app``'s OpenAPI: ``lesson()`` gives the
    objects' text and the POST examples, read once, when the document is first built.

    Routers are shared by every simulated system, so this edits each app's generated document instead."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            objects, examples = lesson()
            for path in paths:
                for method in ("post", "patch"):
                    operation = document.get("paths", {}).get(path, {}).get(method)
                    if operation is not None:
                        teach(operation, rule, objects, examples if method == "post" else {})
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
