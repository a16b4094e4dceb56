"""Signing in with an operator API key, and out again."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from app.api.deps import ResourcesDep
from app.console.session import clear_cookie, same_origin, set_cookie
from app.console.web import (
    PREFIX,
    SignInRequired,
    WriterDep,
    WriteRefused,
    authenticate,
    console_router,
    render,
    see_other,
    session_keys,
)

router = console_router()


def _safe_next(target: str | None) -> str:
    """Only a console path of this bridge: never an open redirect."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target.removeprefix(PREFIX)
    return "/"


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None, reason: str | None = None) -> Response:
    return render(request, "sign_in.html", None, next=next or "", error=reason)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    resources: ResourcesDep,
    api_key: Annotated[str, Form(max_length=512)] = "",
    next: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if not same_origin(request):
        raise WriteRefused("this sign-in came from another site")
    try:
        await authenticate(resources, api_key.strip())
    except SignInRequired as exc:
        message = exc.reason or "the API key is not known to this bridge"
        return render(request, "sign_in.html", None, status_code=401, next=next, error=message)
    response = see_other(_safe_next(next))
    set_cookie(response, request, session_keys(request).seal(api_key.strip()))
    return response


@router.post("/sign-out")
async def sign_out(request: Request, _operator: WriterDep) -> Response:
    response = see_other("/sign-in")
    clear_cookie(response, request)
    return response
