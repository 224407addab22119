"""Errors become HTTP responses here, and only here.

Every error answer has one body, :class:`ErrorBody`::

    {"statusCode": 422, "detail": "cron: ...", "field": "cron", "requestId": "..."}

``field`` appears when one field is at fault; a few errors add what a client acts on (``line`` and
``reason`` of refused code, ``provider`` of a failed gateway call). Domain errors find their status in :data:`ERROR_TABLE` (the nearest ancestor
class listed wins). Litestar's own errors (unknown route, wrong method, invalid parameter, body too
large) keep their status and take the same shape. Anything else is a bug: it is logged with its
traceback and the request id, and the client gets ``500 {"detail": "internal error"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from chronoflow.api.request_ids import request_id
from chronoflow.channels.errors import (
    InvalidPhoneNumber,
    ProviderError,
    TemplateError,
    UnsupportedCall,
    WebhookPayloadError,
)
from chronoflow.errors import (
    ChronoflowError,
    Conflict,
    Forbidden,
    InvalidCode,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
    UpstreamError,
)
from chronoflow.nlcron import ScheduleError
from chronoflow.sandbox import CodeError, SandboxUnavailable

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]


class ErrorBody(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """The body of every error answer; optional fields are left out when empty."""

    status_code: int
    detail: str
    field: str | None = None
    request_id: str
    line: int | None = None
    reason: str | None = None
    provider: str | None = None


@dataclass(frozen=True)
class Rule:
    """How one class of domain error is answered."""

    status: int | Callable[[Any], int]
    """The HTTP status, or a function of the error that picks it."""
    extra: Callable[[Any], Mapping[str, Any]] | None = None
    """Fields of :class:`ErrorBody` beyond ``detail`` and ``field`` (snake_case names)."""
    detail: str | None = None
    """A fixed detail, when the error's own message is for the log only (it may name host paths)."""
    headers: Mapping[str, str] | None = None


def _provider_status(exc: ProviderError) -> int:
    """404 unknown session, 409 refused in its current state, 502 unreachable or failing."""
    if exc.http_status == 404:
        return 404
    if exc.http_status is not None and 400 <= exc.http_status < 500 and exc.http_status not in (401, 403):
        return 409
    return 502


def _provider(exc: ProviderError) -> Mapping[str, Any]:
    return {"provider": exc.provider}


def _code(exc: InvalidCode | CodeError) -> Mapping[str, Any]:
    return {"line": exc.line, "reason": exc.reason}


ERROR_TABLE: Mapping[type[ChronoflowError], Rule] = {
    InvalidCode: Rule(422, extra=_code),
    InvalidInput: Rule(422),
    CodeError: Rule(422, extra=_code),
    ScheduleError: Rule(422),
    InvalidPhoneNumber: Rule(422),
    TemplateError: Rule(422),
    WebhookPayloadError: Rule(422),
    TooLarge: Rule(413),
    NotFound: Rule(404),
    Conflict: Rule(409),
    Forbidden: Rule(403),
    Unauthorized: Rule(401, headers={"WWW-Authenticate": 'Bearer realm="chronoflow"'}),
    SandboxUnavailable: Rule(503, detail="the function sandbox is unavailable on this server"),
    Unavailable: Rule(503),
    UnsupportedCall: Rule(409, extra=_provider),
    ProviderError: Rule(_provider_status, extra=_provider),
    UpstreamError: Rule(502),
}
"""Domain error class -> answer. ``ConfigError`` and bare roots are absent: reaching the edge,
they are bugs (500)."""


def rule_for(exc: BaseException) -> Rule | None:
    """The rule of the nearest listed ancestor of ``exc``'s class, if any."""
    for cls in type(exc).__mro__:
        rule = ERROR_TABLE.get(cls)  # type: ignore[call-overload]
        if rule is not None:
            return rule
    return None


def status_of(exc: ChronoflowError) -> int:
    """The HTTP status of a domain error (500 when unlisted): the console answers its pages with it."""
    rule = rule_for(exc)
    if rule is None:
        return 500
    return rule.status(exc) if callable(rule.status) else rule.status


def error_response(request: AnyRequest, status: int, detail: str, *, field: str | None = None,
                   headers: Mapping[str, str] | None = None, **extra: Any) -> Response[ErrorBody]:
    """The one place an error body is built."""
    present = {key: value for key, value in extra.items() if value is not None}
    body = ErrorBody(status_code=status, detail=detail, field=field, request_id=request_id(request.scope),
                     **present)
    return Response(body, status_code=status, headers=dict(headers or {}))


def domain_error(request: AnyRequest, exc: ChronoflowError) -> Response[ErrorBody]:
    rule = rule_for(exc)
    if rule is None:
        return unexpected_error(request, exc)
    status = rule.status(exc) if callable(rule.status) else rule.status
    if status >= 500:
        # Not the client's fault and not a bug: a dependency failed. The cause goes to the log.
        log.warning("%s %s answered %d (request id %s): %s", request.method, request.url.path, status,
                    request_id(request.scope), exc)
    field = getattr(exc, "field", None)
    extra = dict(rule.extra(exc)) if rule.extra else {}
    return error_response(request, status, rule.detail or str(exc), field=field if isinstance(field, str) else None,
                          headers=rule.headers, **extra)


def _camel(key: object) -> str | None:
    """Parameter names as clients write them (``is_active`` -> ``isActive``)."""
    if not isinstance(key, str):
        return None
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _validation_detail(exc: ValidationException) -> tuple[str, str | None]:
    """Litestar's body/parameter validation: which field, and what is wrong with it."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    field = None
    for problem in problems:
        if isinstance(problem, dict):
            key = _camel(problem.get("key"))
            message = str(problem.get("message", "invalid"))
            field = field or key
            parts.append(f"{key}: {message}" if key else message)
    return "; ".join(parts) or exc.detail, field


def http_error(request: AnyRequest, exc: HTTPException) -> Response[ErrorBody]:
    """Litestar's own errors (404, 405, 400, 413...) in the common shape."""
    if exc.status_code >= 500:
        return unexpected_error(request, exc)
    field = None
    detail = exc.detail
    if isinstance(exc, ValidationException):
        detail, field = _validation_detail(exc)
    elif isinstance(exc, RequestEntityTooLarge):
        handler = request.scope.get("route_handler")
        limit = handler.resolve_request_max_body_size() if handler is not None else None
        field, detail = "body", f"body: is larger than the {limit}-byte limit (MAX_REQUEST_BODY_BYTES)"
    return error_response(request, exc.status_code, detail, field=field, headers=exc.headers)


def unexpected_error(request: AnyRequest, exc: Exception) -> Response[ErrorBody]:
    """A bug: the traceback and the request id go to the log, nothing of it to the client."""
    log.error("unexpected error in %s %s (request id %s)", request.method, request.url.path,
              request_id(request.scope), exc_info=exc)
    return error_response(request, 500, "internal error")


EXCEPTION_HANDLERS: Mapping[type[Exception], Callable[[AnyRequest, Any], Response[ErrorBody]]] = {
    ChronoflowError: domain_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
"""What the app registers: every exception reaches one of these three."""

__all__ = ["ERROR_TABLE", "EXCEPTION_HANDLERS", "ErrorBody", "Rule", "error_response", "rule_for", "status_of"]
