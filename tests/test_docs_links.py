"""Issue 18 point 2: the README and docs/ link only to files (and headings) inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces as hyphens."""
    text = FENCE.sub("", path.read_text())
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in HEADING.findall(text)}


def relative_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text())
    return [t for t in LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def test_the_docs_pages_exist_and_the_readme_links_them() -> None:
    names = {p.name for p in documents()}
    assert {"rules.md", "wire-formats.md", "troubleshooting.md"} <= names
    readme = relative_links(ROOT / "README.md")
    assert {"docs/rules.md", "docs/wire-formats.md", "docs/troubleshooting.md"} <= set(readme)


def test_every_relative_link_resolves_inside_the_repository() -> None:
    broken: list[str] = []
    checked = 0
    for doc in documents():
        for target in relative_links(doc):
            checked += 1
            file_part, _, anchor = target.partition("#")
            resolved = (doc.parent / file_part).resolve() if file_part else doc
            if ROOT not in resolved.parents and resolved != ROOT:
                broken.append(f"{doc.name}: {target} leaves the repository")
            elif not resolved.is_file():
                broken.append(f"{doc.name}: {target} is not a file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{doc.name}: {target} names no heading of {resolved.name}")
    assert checked > 10
    assert broken == []


def test_no_document_sends_readers_to_files_outside_the_repository() -> None:
    for doc in documents():
        text = doc.read_text()
        assert "SPEC.md" not in text, doc.name
        assert "CONTRACT.md" not in text, doc.name
