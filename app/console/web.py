"""What every console page shares: templates, the signed-in operator, refusals rendered as pages."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from app.api.deps import ResourcesDep
from app.api.operator.roles import V1, required_role
from app.console.operator_api import ApiRefused, OperatorApi
from app.console.session import COOKIE, CSRF_FIELD, CSRF_HEADER, SessionKeys, same_origin
from app.context import Resources
from app.services import api_keys
from app.services.api_keys import Caller
from app.services.operator_errors import Unauthenticated

HERE = Path(__file__).parent
PREFIX = "/console"
templates = Jinja2Templates(directory=HERE / "templates")


class SignInRequired(Exception):
    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class WriteRefused(Exception):
    """A write without a valid CSRF token, or from another site: refused before it reaches the API."""


@dataclass(frozen=True)
class Operator:
    caller: Caller
    api: OperatorApi
    csrf: str

    def can(self, method: str, api_path: str) -> bool:
        """Whether this key's role may call an operator route (the API's own role matrix decides)."""
        needed = required_role(method, V1 + api_path)
        return needed is not None and self.caller.role.allows(needed)


def session_keys(request: Request) -> SessionKeys:
    keys = getattr(request.app.state, "console_session_keys", None)
    if not isinstance(keys, SessionKeys):
        resources = request.app.state.resources
        keys = request.app.state.console_session_keys = SessionKeys(resources.settings.encryption_key)
    return keys


async def signed_in(request: Request, resources: ResourcesDep) -> Operator:
    cookie = request.cookies.get(COOKIE)
    keys = session_keys(request)
    api_key = keys.open(cookie)
    if api_key is None or cookie is None:
        raise SignInRequired()
    caller = await authenticate(resources, api_key)
    return Operator(caller, OperatorApi(request.app, api_key), keys.csrf_token(cookie))


async def authenticate(resources: Resources, api_key: str) -> Caller:
    admin_key = resources.settings.admin_api_key
    try:
        async with resources.sessionmaker() as session, session.begin():
            return await api_keys.authenticate(
                session, api_key, bootstrap=admin_key.get_secret_value() if admin_key is not None else None
            )
    except Unauthenticated as exc:
        raise SignInRequired(exc.message) from None


async def writer(request: Request, operator: Annotated[Operator, Depends(signed_in)]) -> Operator:
    """The operator, for a request that changes something: same site, with the page's CSRF token."""
    if not same_origin(request):
        raise WriteRefused("this request came from another site")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    cookie = request.cookies.get(COOKIE, "")
    if not session_keys(request).csrf_ok(cookie, presented):
        raise WriteRefused("the form is out of date or was not sent by this console; reload the page")
    return operator


OperatorDep = Annotated[Operator, Depends(signed_in)]
WriterDep = Annotated[Operator, Depends(writer)]


def render(
    request: Request, template: str, operator: Operator | None, *, status_code: int = 200, **context: Any
) -> Response:
    return templates.TemplateResponse(
        request, template, {"op": operator, "prefix": PREFIX, **context}, status_code=status_code
    )


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303)


class ConsoleRoute(APIRoute):
    """Console pages answer in HTML: sign-in redirects and refusals become pages, never problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                target = f"/sign-in?next={quote(back, safe='/')}"  # the search or filter survives
                if exc.reason:
                    target += "&reason=" + quote(exc.reason)
                return see_other(target)
            except WriteRefused as exc:
                return render(
                    request, "refused.html", None, status_code=403, status=403, code="CSRF", detail=str(exc)
                )
            except ApiRefused as exc:
                return render(
                    request,
                    "refused.html",
                    None,
                    status_code=exc.status,
                    status=exc.status,
                    code=exc.code,
                    detail=exc.detail,
                )
            except RequestValidationError as exc:  # a tampered or oversized form field: a page, not JSON
                fields = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}"
                    for e in exc.errors()
                )
                return render(
                    request,
                    "refused.html",
                    None,
                    status_code=422,
                    status=422,
                    code="VALIDATION_FAILED",
                    detail=fields,
                )

        return run


def console_router() -> APIRouter:
    return APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


# ---- template filters ----------------------------------------------------------------------------------


def when(value: Any) -> str:
    """A UTC time as operators read it: 2026-11-20 10:15:02 UTC."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def span(value: timedelta | None) -> str:
    """A duration in its largest sensible unit: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    if value is None:
        return "–"
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"


def seconds(value: Any) -> str:
    """A number of seconds as a duration; what the operator typed, unchanged, when it is not one."""
    try:
        return span(timedelta(seconds=int(value)))
    except (TypeError, ValueError, OverflowError):
        return str(value)


templates.env.filters["when"] = when
templates.env.filters["seconds"] = seconds
templates.env.filters["span"] = span
templates.env.globals["csrf_field"] = CSRF_FIELD
