"""What the OpenAPI document says beyond Litestar's defaults, so that it matches what the API does.

- Every error answer is one component, :class:`~chronoflow.api.errors.ErrorBody`; each operation
  lists the statuses it can answer with :func:`errors`.
- Security: the document requires the bearer token by default; :class:`PublicOperation` marks an
  operation open (``security: []``) and webhook routes name their own schemes (:data:`WAHA_HMAC_SCHEME`,
  :data:`EVOLUTION_SECRET_SCHEME`).
- Request bodies refuse unknown fields, so their schemas say ``additionalProperties: false``
  (:class:`ClosedBodySchemaPlugin`).
- :func:`checked` states in the document what a service checks for a field (bounds, enums,
  patterns) without making the decoder check it first: the service answers with its own message
  naming the field (422), and clients and fuzzers learn what will be refused before sending it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Example,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.params import KwargDefinition

from chronoflow.api.errors import ErrorBody

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

BEARER_SCHEME = "bearer"
WAHA_HMAC_SCHEME = "wahaHmac"
EVOLUTION_SECRET_SCHEME = "evolutionSecret"
EVOLUTION_QUERY_SCHEME = "evolutionSecretQuery"

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    BEARER_SCHEME: SecurityScheme(
        type="http", scheme="bearer",
        description="One of the tokens in CHRONOFLOW_API_TOKENS: `Authorization: Bearer <token>`.",
    ),
    WAHA_HMAC_SCHEME: SecurityScheme(
        type="apiKey", name="X-Webhook-Hmac", security_scheme_in="header",
        description="Hex HMAC-SHA512 of the raw request body, keyed with WAHA_WEBHOOK_HMAC_KEY.",
    ),
    EVOLUTION_SECRET_SCHEME: SecurityScheme(
        type="apiKey", name="X-Webhook-Secret", security_scheme_in="header",
        description="The shared secret EVOLUTION_WEBHOOK_SECRET.",
    ),
    EVOLUTION_QUERY_SCHEME: SecurityScheme(
        type="apiKey", name="secret", security_scheme_in="query",
        description="The shared secret EVOLUTION_WEBHOOK_SECRET, for gateways that cannot set a header.",
    ),
}
"""Every way a request proves who sent it."""

DEFAULT_SECURITY: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
"""What the document requires unless an operation says otherwise."""


@dataclass
class PublicOperation(Operation):
    """An operation anyone may call: ``security: []`` lifts the document's bearer requirement.

    Litestar drops an empty ``security`` of a route handler (the operation would then inherit the
    document's), so open routes use this class as their ``operation_class``.
    """

    def __post_init__(self) -> None:
        self.security = []


@dataclass
class WebhookOperation(Operation):
    """A provider webhook: the handler reads the raw body (its signature covers the bytes), so the
    document says here that the body is a JSON object."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="The provider's event, as the provider sends it",
            content={"application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT))},
        )


@dataclass
class QrOperation(Operation):
    """The QR route answers an image, or JSON when the client asks for it."""

    def __post_init__(self) -> None:
        json_qr = Schema(
            type=OpenAPIType.OBJECT, required=["data", "mimetype"],
            properties={"mimetype": Schema(type=OpenAPIType.STRING),
                        "data": Schema(type=OpenAPIType.STRING, description="the image, base64")},
        )
        self.responses = {**(self.responses or {}), "200": OpenAPIResponse(
            description="The QR code to scan with the phone",
            content={"image/png": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)),
                     "application/json": OpenAPIMediaType(schema=json_qr)},
        )}


REQUEST_ID_HEADER = ResponseHeader(
    name="X-Request-Id", documentation_only=True, required=True,
    description="The request's id, also in error bodies (requestId) and in the server's log",
)
"""Documented on every answer; :mod:`chronoflow.api.request_ids` sets it."""


ERROR_MEANINGS: dict[int, str] = {
    400: "Malformed request: a parameter or body field has the wrong type, a body field is unknown, "
         "or a value is out of the bounds the document states (`field` names it).",
    401: "Missing or wrong credentials.",
    404: "The id in the path names nothing.",
    409: "The request clashes with the current state of the resource.",
    413: "The body, or one of its fields, is larger than this server accepts (`field` names it).",
    422: "A field is well-formed but wrong: unknown time zone, unreadable schedule, refused URL... "
         "(`field` names it).",
    502: "The WhatsApp gateway answered wrongly or could not be reached (`provider` names it).",
    503: "A dependency this request needs is down or not configured.",
}
"""What each error status means in this API, as the document describes it."""


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """The error answers an operation can give, all with the one error body."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description=ERROR_MEANINGS[status], generate_examples=False)
        for status in statuses
    }


class _Rules(KwargDefinition):
    """Hashed by identity: ``typing`` hashes the metadata of an ``Annotated`` inside a union, and the
    lists these rules hold (enum, examples) cannot be hashed field by field."""

    __hash__ = object.__hash__


def checked(
    *,
    description: str | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
    enum: Sequence[Any] | None = None,
    ge: int | None = None,
    le: int | None = None,
    max_items: int | None = None,
    examples: Sequence[Any] = (),
    schema_extra: dict[str, Any] | None = None,
) -> KwargDefinition:
    """A body field's rules as its service checks them, for ``Annotated[type, checked(...)]``.

    msgspec ignores this metadata, so decoding accepts the value and the service refuses it with
    a 422 naming the field; the document shows the same rule up front.
    """
    bounds = {key: value for key, value in (("minimum", ge), ("maximum", le)) if value is not None}
    return _Rules(
        description=description, min_length=min_length, max_length=max_length, pattern=pattern,
        enum=list(enum) if enum is not None else None, max_items=max_items,
        examples=[Example(value=value) for value in examples] or None,
        # Bounds go in as schema keys: Litestar leaves out a ``ge`` or ``le`` of 0.
        schema_extra={**bounds, **(schema_extra or {})} or None,
    )


NOT_BLANK = r"\S"
"""Pattern of a text that must hold more than spaces (JSON Schema patterns are not anchored)."""


class ClosedBodySchemaPlugin(StructSchemaPlugin):
    """Schemas of structs that refuse unknown fields say ``additionalProperties: false``.

    Registered before Litestar's own struct plugin, which handles every other struct.
    """

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        config = getattr(field_definition.type_, "__struct_config__", None)
        return super().is_plugin_supported_field(field_definition) and bool(config and config.forbid_unknown_fields)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


__all__ = [
    "BEARER_SCHEME",
    "DEFAULT_SECURITY",
    "ERROR_MEANINGS",
    "EVOLUTION_QUERY_SCHEME",
    "EVOLUTION_SECRET_SCHEME",
    "NOT_BLANK",
    "REQUEST_ID_HEADER",
    "SECURITY_SCHEMES",
    "WAHA_HMAC_SCHEME",
    "ClosedBodySchemaPlugin",
    "PublicOperation",
    "QrOperation",
    "WebhookOperation",
    "checked",
    "errors",
]
