"""What both simulators add to their /_sim/docs: the fields each object takes, and example bodies."""

from __future__ import annotations

from typing import Any


def teach(operation: dict[str, Any], rule: str, objects: str, examples: dict[str, Any]) -> None:
    """Append `rule` (how picklist values are checked) and the objects' fields to an OpenAPI operation's
    description, and give its JSON request body the examples."""
    operation["description"] = operation.get("description", "") + "\n\n" + rule + "\n\n" + objects
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None and examples:
        content["examples"] = examples
