"""A strict parser for the SOQL the bridge (and simple clients) send; anything else is MALFORMED_QUERY.

    SELECT Id, Name, Account_vod__r.External_ID_vod__c | COUNT()
    FROM Object
    [WHERE cond]          cond: field op literal | field [NOT] IN (literal, ...) | field LIKE 'a%'
                                | NOT cond | (cond) | cond AND cond ... | cond OR cond ...
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

As in the platform, AND and OR cannot be mixed at one level without parentheses, and date and datetime
literals are written without quotes (``2026-11-20``, ``2026-11-20T10:00:00Z``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.simulators.salesforce.errors import ApiError

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op><>|!=|<=|>=|=|<|>)
    | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
    ]
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "name" and upper in _KEYWORDS else None


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, boolean, null, date, datetime
    value: Any


@dataclass(frozen=True)
class Condition:
    path: tuple[str, ...]
    op: str  # = != < <= > >= LIKE IN NOT IN
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Group:
    op: str  # AND, OR
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Negation:
    item: Node


Node = Condition | Group | Negation


@dataclass(frozen=True)
class OrderItem:
    path: tuple[str, ...]
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    object_name: str
    fields: tuple[tuple[str, ...], ...]
    count_only: bool
    where: Node | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def malformed(text: str, pos: int, message: str) -> ApiError:
    """The platform points at the offending column under the query."""
    return ApiError(
        400, "MALFORMED_QUERY", f"\n{text}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{message}"
    )


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise malformed(text, pos, f"unexpected token: '{text[pos]}'")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


def parse(text: str) -> Query:
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise malformed(self.text, len(self.text), "unexpected end of query")
        self.i += 1
        return token

    def fail(self, token: Token) -> ApiError:
        return malformed(self.text, token.pos, f"unexpected token: '{token.text}'")

    def at(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and (
            token.keyword in words or (token.kind == "punct" and token.text in words)
        )

    def expect(self, word: str) -> Token:
        token = self.take()
        if token.keyword != word and not (token.kind == "punct" and token.text == word):
            raise self.fail(token)
        return token

    def name(self) -> tuple[str, ...]:
        token = self.take()
        if token.kind != "name" or token.keyword is not None:
            raise self.fail(token)
        return tuple(token.text.split("."))

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def query(self) -> Query:
        self.expect("SELECT")
        count_only = False
        fields: list[tuple[str, ...]] = []
        first = self.peek()
        if first is not None and first.text.upper() == "COUNT" and self._next_is("("):
            self.take()
            self.expect("(")
            self.expect(")")
            count_only = True
        else:
            fields.append(self.name())
            while self.at(","):
                self.take()
                fields.append(self.name())
        self.expect("FROM")
        (object_name, *rest) = self.name()
        if rest:
            raise malformed(self.text, self.tokens[self.i - 1].pos, "unexpected token: '.'")
        where = None
        if self.at("WHERE"):
            self.take()
            where = self.condition()
        order_by: list[OrderItem] = []
        if self.at("ORDER"):
            self.take()
            self.expect("BY")
            order_by.append(self.order_item())
            while self.at(","):
                self.take()
                order_by.append(self.order_item())
        limit = offset = None
        if self.at("LIMIT"):
            self.take()
            limit = self.integer()
        if self.at("OFFSET"):
            self.take()
            offset = self.integer()
        trailing = self.peek()
        if trailing is not None:
            raise self.fail(trailing)
        return Query(object_name, tuple(fields), count_only, where, tuple(order_by), limit, offset)

    def _next_is(self, text: str) -> bool:
        following = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
        return following is not None and following.text == text

    def order_item(self) -> OrderItem:
        path = self.name()
        descending = False
        if self.at("ASC", "DESC"):
            descending = self.take().keyword == "DESC"
        nulls_last = descending
        if self.at("NULLS"):
            self.take()
            if not self.at("FIRST", "LAST"):
                raise self.fail(self.take())
            nulls_last = self.take().keyword == "LAST"
        return OrderItem(path, descending, nulls_last)

    def condition(self) -> Node:
        items = [self.unary()]
        joiner: str | None = None
        while self.at("AND", "OR"):
            token = self.take()
            if joiner is not None and token.keyword != joiner:
                raise self.fail(token)  # mixing AND and OR needs parentheses
            joiner = token.keyword
            items.append(self.unary())
        return items[0] if joiner is None else Group(joiner, tuple(items))

    def unary(self) -> Node:
        if self.at("NOT"):
            self.take()
            return Negation(self.unary())
        if self.at("("):
            self.take()
            inner = self.condition()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Condition:
        path = self.name()
        token = self.take()
        if token.kind == "op":
            op = "!=" if token.text == "<>" else token.text
            return Condition(path, op, (self.literal(),))
        if token.keyword == "LIKE":
            return Condition(path, "LIKE", (self.literal(),))
        negate = token.keyword == "NOT"
        if negate:
            token = self.take()
        if token.keyword != "IN":
            raise self.fail(token)
        self.expect("(")
        values = [self.literal()]
        while self.at(","):
            self.take()
            values.append(self.literal())
        self.expect(")")
        return Condition(path, "NOT IN" if negate else "IN", tuple(values))

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            body = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), token.text[1:-1])
            return Literal("string", body)
        if token.kind == "number":
            return Literal("number", float(token.text))
        if token.kind in ("date", "datetime"):
            return Literal(token.kind, token.text)
        if token.kind == "name" and token.text.lower() in ("true", "false"):
            return Literal("boolean", token.text.lower() == "true")
        if token.kind == "name" and token.text.lower() == "null":
            return Literal("null", None)
        raise self.fail(token)
