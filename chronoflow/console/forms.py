"""From an HTML form to the REST API's own request bodies.

A console form is turned into the very struct the API decodes (``ChronoCreate``,
``FunctionUpdate``…) and handed to the same service, so the console can do nothing the API
cannot, and refuses what the API refuses, with the same field names.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from chronoflow.console.session import CSRF_FIELD, csrf_matches
from chronoflow.errors import Forbidden, InvalidInput

T = TypeVar("T")

_FIELD_IN_MESSAGE = re.compile(r"`\$\.([A-Za-z0-9_]+)|field `([A-Za-z0-9_]+)`")


async def posted(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted form, once its CSRF token matched (else Forbidden)."""
    form = await request.form()
    if not csrf_matches(request, form.get(CSRF_FIELD)):
        raise Forbidden("csrf: the form did not come from this console; reload the page and try again")
    return {key: value for key, value in form.items() if key != CSRF_FIELD and isinstance(value, str)}


def decoded(fields: dict[str, Any], kind: type[T]) -> T:
    """``fields`` as the API's body ``kind``; a type mismatch is InvalidInput naming the field."""
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as exc:
        found = _FIELD_IN_MESSAGE.search(str(exc))
        field = (found.group(1) or found.group(2)) if found else "body"
        raise InvalidInput(field, str(exc).split(" - at ")[0]) from exc


async def upload(request: Request[Any, Any, Any], name: str) -> bytes:
    """The bytes of the file input ``name`` of a multipart form (after :func:`posted`); none is InvalidInput."""
    sent = (await request.form()).get(name)
    if not isinstance(sent, UploadFile):
        raise InvalidInput(name, "choose a file to send")
    return await sent.read()


async def choices(request: Request[Any, Any, Any], name: str) -> list[str]:
    """Every value of a multiple ``<select>`` or checkbox group ``name`` (after :func:`posted`)."""
    return [value for value in (await request.form()).getall(name, []) if isinstance(value, str) and value]


def json_field(fields: dict[str, str], name: str) -> Any:
    """A textarea holding JSON, parsed; blank is absent. Bad JSON is InvalidInput naming it."""
    text = fields.get(name, "").strip()
    if not text:
        return msgspec.UNSET
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(name, f"is not valid JSON ({exc})") from exc


def lines_field(fields: dict[str, str], name: str) -> list[str]:
    """A textarea of one item a line, blanks dropped."""
    return [line.strip() for line in fields.get(name, "").splitlines() if line.strip()]


def field_key(field: str | None) -> str:
    """The form field an API error names: ``headers.X-Token`` and ``recipients[2]`` point at their input."""
    return re.split(r"[.\[]", field or "", maxsplit=1)[0] or "body"


def without_unset(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not msgspec.UNSET}


__all__ = ["choices", "decoded", "field_key", "json_field", "lines_field", "posted", "upload", "without_unset"]
