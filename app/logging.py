"""Structured logs: one event, key-value pairs, never a secret or a person's name or email."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, TextIO

import orjson
import structlog

# Keys whose values never reach a log line, whatever code passes them.
_REDACTED_KEYS = re.compile(
    r"(secret|password|passwd|token|authorization|api_?key|session_?id|cookie|email|first_?name|"
    r"last_?name|full_?name|^name$|subject|from__v|from_vod)",
    re.IGNORECASE,
)
# SQLAlchemy appends the bound values to its error text; they carry record content (names, emails).
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_WHSEC = re.compile(r"whsec_[A-Za-z0-9+/=]+")
REDACTED = "[redacted]"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        # the substring tests first: neither pattern can match without them, and most values have neither
        if "@" in value:
            value = _EMAIL.sub(REDACTED, value)
        return _WHSEC.sub(REDACTED, value) if "whsec_" in value else value
    if isinstance(value, dict):
        return {k: (REDACTED if _is_secret_key(str(k)) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


_SECRET_KEYS: dict[str, bool] = {}


def _is_secret_key(key: str) -> bool:
    """Whether a key's values are never logged; remembered per key (a process logs a few hundred keys)."""
    known = _SECRET_KEYS.get(key)
    if known is None:
        known = bool(_REDACTED_KEYS.search(key))
        if len(_SECRET_KEYS) < 10_000:
            _SECRET_KEYS[key] = known
    return known


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _safe_text(text: str) -> str:
    return _scrub(_SQL_PARAMETERS.sub("[parameters: hidden]", text))  # type: ignore[no-any-return]


def format_exception(exc_info: ExcInfo) -> str:
    """A traceback without SQL parameters or emails: the exception texts are scrubbed line by line."""
    return _safe_text("".join(traceback.format_exception(*exc_info)))


def safe_exc_info(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        elif not isinstance(exc_info, tuple):
            exc_info = sys.exc_info()
        if exc_info[0] is not None:
            event_dict["exception"] = format_exception(exc_info)
    return event_dict


class SafeFormatter(logging.Formatter):
    """For the standard library's records (arq, uvicorn, SQLAlchemy): the same scrubbing as ours."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 - the standard library's name
        return format_exception(ei)

    def format(self, record: logging.LogRecord) -> str:
        return _safe_text(super().format(record))


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in ("event", "level", "timestamp", "logger"):
            event_dict[key] = _scrub(event_dict[key])
        elif _is_secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def _json(event: Any, **_: Any) -> str:
    """One log line (orjson: a few µs less per line than the standard library); anything it cannot
    encode is written as its repr, as structlog's own fallback does."""
    return orjson.dumps(event, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()


def configure_logging(level: str = "INFO", json: bool = True, stream: TextIO | None = None) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json) if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            safe_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries log through the standard library: keep them quiet and on the same stream.
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("arq").setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
