"""``app/domain`` does no I/O: every import in it is from an allow-list of pure modules."""

from __future__ import annotations

import ast
from pathlib import Path

import app.domain

DOMAIN = Path(app.domain.__file__).parent

# Standard-library modules without I/O, pydantic, and the domain itself. Anything else (os, pathlib,
# socket, httpx, sqlalchemy, app.clients, app.config, ...) is refused.
ALLOWED_ROOTS = frozenset(
    {
        "__future__",
        "abc",
        "collections",
        "dataclasses",
        "datetime",
        "decimal",
        "enum",
        "functools",
        "hashlib",
        "zlib",  # crc32 for lane partitions: pure arithmetic
        "itertools",
        "json",
        "math",
        "operator",
        "re",
        "string",
        "types",
        "typing",
        "pydantic",
        "pydantic_core",
        "annotated_types",
        "base64",
        "binascii",
        "cryptography",  # signature checks over bytes given (Spark messages)
        "defusedxml",  # parsing bytes given, with DTDs and entities refused (Outbound Messages)
    }
)
# Parts of packages that also hold I/O (urllib.request, xml's parsers that fetch entities): only these.
ALLOWED_MODULES = frozenset({"urllib.parse", "xml.sax.saxutils", "xml.etree.ElementTree"})


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"__import__", "open"}
        ):
            found.append(f"<call {node.func.id}>")
    return found


def _allowed(module: str) -> bool:
    if module.startswith("."):
        return True  # relative: stays inside app.domain
    return (
        module == "app.domain"
        or module.startswith("app.domain.")
        or module.split(".")[0] in ALLOWED_ROOTS
        or module in ALLOWED_MODULES
    )


def test_domain_modules_import_only_pure_modules() -> None:
    modules = sorted(DOMAIN.rglob("*.py"))
    assert len(modules) > 10  # the walk really sees the package
    offending = {
        str(path.relative_to(DOMAIN)): bad
        for path in modules
        if (bad := [name for name in _imports(path) if not _allowed(name)])
    }
    assert offending == {}


def test_the_check_catches_io_imports() -> None:
    assert not _allowed("os")
    assert not _allowed("pathlib")
    assert not _allowed("httpx")
    assert not _allowed("app.clients.vault")
    assert not _allowed("app.config")
    assert _allowed("app.domain.names")
    assert _allowed("pydantic")
