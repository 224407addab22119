"""Domain errors become HTTP responses here, and only here."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import ValidationException

from chronoflow.exceptions import Conflict, InvalidInput, NotFound


def _error(status: int, detail: str, field: str | None = None) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"statusCode": status, "detail": detail}
    if field is not None:
        body["field"] = field
    return Response(body, status_code=status)


def invalid_input(_: Request[Any, Any, Any], exc: InvalidInput) -> Response[dict[str, Any]]:
    return _error(422, str(exc), exc.field)


def not_found(_: Request[Any, Any, Any], exc: NotFound) -> Response[dict[str, Any]]:
    return _error(404, str(exc))


def conflict(_: Request[Any, Any, Any], exc: Conflict) -> Response[dict[str, Any]]:
    return _error(409, str(exc))


def _camel(key: object) -> str | None:
    """Parameter names as clients write them (``is_active`` -> ``isActive``)."""
    if not isinstance(key, str):
        return None
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def validation_failed(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    """Litestar's body/parameter validation: say which field and what is wrong in ``detail``."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    field = None
    for problem in problems:
        if isinstance(problem, dict):
            key = _camel(problem.get("key"))
            message = str(problem.get("message", "invalid"))
            field = field or key
            parts.append(f"{key}: {message}" if key else message)
    detail = "; ".join(parts) or exc.detail
    return _error(400, detail, field)


EXCEPTION_HANDLERS = {
    InvalidInput: invalid_input,
    NotFound: not_found,
    Conflict: conflict,
    ValidationException: validation_failed,
}
