"""A strict subset of VQL, parsed into a Query (vql_run.py runs it): the shapes a sync bridge needs.

    SELECT f1, f2, rel__vr.f3 FROM object
    [WHERE cond {AND|OR} cond ...]     cond: field op literal | field CONTAINS (literal, ...)
                                             | field [NOT] IN (literal, ...) | ( ... )
    [ORDER BY f [ASC|DESC], ...]        op: = != <> < <= > >=;  literal: 'text', 12, true, false, null
    [PAGESIZE n | LIMIT n] [PAGEOFFSET n]

``CONTAINS ('a', 'b')`` is VQL's operator for "any of these values"; ``IN`` with a literal list is accepted
too, as a convenience. Anything else is an INCORRECT_QUERY_SYNTAX_ERROR; unknown objects and fields are INVALID_DATA. LIMIT, as
in VQL before v20.3, sets the page size: it does not cap the total (see the PAGESIZE docs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.simulators.vault import responses as r

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {
    "contains",
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "pagesize",
    "pageoffset",
}
_LITERAL_WORDS = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, op, punct, word, end
    text: str
    pos: int

    def is_kw(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Membership:
    field: str
    values: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True)
class Junction:
    op: str  # "and" / "or"
    parts: tuple[Condition, ...]


Condition = Comparison | Membership | Junction


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    target: str
    where: Condition | None
    order: tuple[tuple[str, bool], ...]  # (field, descending)
    page_size: int | None
    page_offset: int


def _syntax(message: str) -> r.VaultError:
    return r.VaultError(r.INCORRECT_QUERY_SYNTAX_ERROR, message)


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise _syntax(f"Unexpected character at position {pos}: {text[pos : pos + 10]!r}")
        tokens.append(Token(match.lastgroup, match.group(match.lastgroup), match.start(match.lastgroup)))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect_kw(self, word: str) -> None:
        if not self.tok.is_kw(word):
            raise _syntax(
                f"Expected {word.upper()} at position {self.tok.pos}, found {self.tok.text or 'end of query'!r}"
            )
        self.take()

    def expect_punct(self, char: str) -> None:
        if self.tok.kind != "punct" or self.tok.text != char:
            raise _syntax(f"Expected {char!r} at position {self.tok.pos}")
        self.take()

    def name(self) -> str:
        token = self.tok
        if token.kind != "word" or token.text.lower() in _KEYWORDS | set(_LITERAL_WORDS):
            raise _syntax(
                f"Expected a field or object name at position {token.pos}, found {token.text or 'end of query'!r}"
            )
        self.take()
        return token.text

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise _syntax(f"Expected a whole number at position {token.pos}")
        return int(token.text)

    def parse(self) -> Query:
        self.expect_kw("select")
        fields = [self.name()]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.take()
            fields.append(self.name())
        self.expect_kw("from")
        target = self.name()
        if "." in target:
            raise _syntax(f"Invalid query target {target!r}")
        where = None
        if self.tok.is_kw("where"):
            self.take()
            where = self.disjunction()
        order: list[tuple[str, bool]] = []
        if self.tok.is_kw("order"):
            self.take()
            self.expect_kw("by")
            order.append(self.order_item())
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.take()
                order.append(self.order_item())
        page_size: int | None = None
        page_offset: int | None = None
        while self.tok.is_kw("limit", "pagesize", "pageoffset"):
            word = self.take().text.lower()
            if word == "pageoffset":
                if page_offset is not None:
                    raise _syntax("PAGEOFFSET given twice")
                page_offset = self.integer()
            else:
                if page_size is not None:
                    raise _syntax("PAGESIZE/LIMIT given twice")
                page_size = self.integer()
        if self.tok.kind != "end":
            raise _syntax(f"Unexpected {self.tok.text!r} at position {self.tok.pos}")
        return Query(tuple(fields), target, where, tuple(order), page_size, page_offset or 0)

    def order_item(self) -> tuple[str, bool]:
        field = self.name()
        descending = False
        if self.tok.is_kw("asc", "desc"):
            descending = self.take().text.lower() == "desc"
        return field, descending

    def disjunction(self) -> Condition:
        parts = [self.conjunction()]
        while self.tok.is_kw("or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Junction("or", tuple(parts))

    def conjunction(self) -> Condition:
        parts = [self.condition()]
        while self.tok.is_kw("and"):
            self.take()
            parts.append(self.condition())
        return parts[0] if len(parts) == 1 else Junction("and", tuple(parts))

    def condition(self) -> Condition:
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.take()
            inner = self.disjunction()
            self.expect_punct(")")
            return inner
        field = self.name()
        negated = False
        if self.tok.is_kw("not"):
            self.take()
            negated = True
            if not self.tok.is_kw("in"):
                raise _syntax(f"Expected IN after NOT at position {self.tok.pos}")
        if self.tok.is_kw("in") or (self.tok.is_kw("contains") and not negated):
            self.take()
            self.expect_punct("(")
            values = [self.literal()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.take()
                values.append(self.literal())
            self.expect_punct(")")
            return Membership(field, tuple(values), negated)
        if self.tok.kind != "op":
            raise _syntax(f"Expected an operator after {field!r} at position {self.tok.pos}")
        op = self.take().text
        return Comparison(field, "!=" if op == "<>" else op, self.literal())

    def literal(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "word" and token.text.lower() in _LITERAL_WORDS:
            return _LITERAL_WORDS[token.text.lower()]
        raise _syntax(f"Expected a value at position {token.pos}, found {token.text or 'end of query'!r}")


def parse(text: str) -> Query:
    return _Parser(text).parse()
