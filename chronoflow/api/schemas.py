"""Request and response bodies: msgspec structs, camelCase on the wire, unknown fields refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import Parameter
from msgspec import UNSET, Struct, UnsetType

from chronoflow.api.openapi import NOT_BLANK, checked
from chronoflow.channels import ProviderKind
from chronoflow.channels.validation import MAX_API_KEY_LENGTH, MAX_SESSION_NAME_LENGTH
from chronoflow.checks import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS
from chronoflow.config import MAX_MISFIRE_GRACE_SECONDS, SAFE_METHODS
from chronoflow.nlcron.parser import MAX_EXPRESSION_CHARS
from chronoflow.sandbox.policy import LIMIT_BOUNDS
from chronoflow.store.models import OverlapPolicy, TargetType
from chronoflow.targets.http import hide_headers

T = TypeVar("T")


class Body(Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=False):
    """Base of request bodies."""

    def fields(self) -> dict[str, Any]:
        """The fields the client sent, camelCase, without the unset ones."""
        return msgspec.to_builtins(self)  # UNSET fields are omitted


# --- field rules shared by several bodies ------------------------------------------------------
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


Name = Annotated[str, checked(min_length=1, max_length=MAX_NAME_CHARS, pattern=NOT_BLANK,
                              description=f"1-{MAX_NAME_CHARS} characters, not only spaces")]
Expression = Annotated[str, checked(
    min_length=1, max_length=MAX_EXPRESSION_CHARS, pattern=NOT_BLANK,
    description="A 5-field cron (6 with seconds first), an @alias, an ISO date-time, or an English or "
                "Brazilian Portuguese phrase",
    examples=["0 8 * * *", "every 5 minutes", "todo dia às 08:00"],
)]
Timezone = Annotated[str, checked(description="IANA time zone (empty: DEFAULT_TIMEZONE)",
                                  examples=["UTC", "America/Sao_Paulo"])]
Description = Annotated[str, checked(max_length=MAX_DESCRIPTION_CHARS)]
TargetTypeName = Annotated[str, checked(enum=[kind.value for kind in TargetType if kind is not TargetType.CAMPAIGN])]
"""Target types a client may create; CAMPAIGN chronos belong to campaigns."""
Code = Annotated[str, checked(
    min_length=1, pattern=NOT_BLANK, description="Python source defining def run(ctx)",
    examples=["def run(ctx):\n    ctx.log('hello')\n    return {'ok': True}\n"],
)]
ChannelRef = Annotated[str, checked(min_length=1, description="id of a channel")]
SESSION_NAME = r"^(?!\.\.?$)[^\s/\\\x00-\x1f\x7f]+$"
"""A session or instance name usable as one URL path segment (the channel checks also refuse
Unicode control and format characters)."""
SessionName = Annotated[str, checked(
    min_length=1, max_length=MAX_SESSION_NAME_LENGTH, pattern=SESSION_NAME,
    description="Session (WAHA) or instance (Evolution) name: one URL path segment, no spaces", examples=["default"],
)]
ProviderName = Annotated[str, checked(enum=[kind.value for kind in ProviderKind])]
ProviderQuery = Annotated[str | None, Parameter(
    query="provider", pattern="^(" + "|".join(
        "".join(f"[{c.upper()}{c.lower()}]" for c in kind.value) for kind in ProviderKind) + ")$",
    description="WAHA or EVOLUTION, in any case",
)]
"""The ``provider`` filter of a list, refused (400) unless it names a provider."""
HTTP_URL = "^https?://[!-~]+$"
"""An http:// or https:// URL in printable ASCII without spaces."""
ApiKey = Annotated[str, checked(
    max_length=MAX_API_KEY_LENGTH, pattern="^([!-~]([ -~]*[!-~])?)?$",
    description="Sent in an HTTP header: printable ASCII, no leading or trailing space; empty means none",
)]
ChannelConfig = Annotated[dict[str, Any], checked(
    description="WAHA: session (default \"default\"); EVOLUTION: instance. Both: baseUrl (default the "
                "provider's base URL setting) and apiKey (stored apart, never returned)",
    schema_extra={
        "properties": {
            "session": Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_SESSION_NAME_LENGTH,
                              pattern=SESSION_NAME),
            "instance": Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_SESSION_NAME_LENGTH,
                               pattern=SESSION_NAME),
            "baseUrl": Schema(one_of=[Schema(type=OpenAPIType.STRING, pattern=HTTP_URL),
                                      Schema(type=OpenAPIType.NULL)]),
            "apiKey": Schema(one_of=[Schema(type=OpenAPIType.STRING, max_length=MAX_API_KEY_LENGTH,
                                            pattern="^([!-~]([ -~]*[!-~])?)?$"),
                                     Schema(type=OpenAPIType.NULL)]),
        },
        "additional_properties": False,
    },
)]
WebhookUrl = Annotated[str, checked(pattern=HTTP_URL, description="An http:// or https:// URL with a host")]
Limits = Annotated[dict[str, Any], checked(
    description="Run limits; a missing one keeps its default",
    schema_extra={
        "properties": {_camel(name): Schema(type=OpenAPIType.INTEGER, minimum=low, maximum=high)
                       for name, (low, high) in LIMIT_BOUNDS.items()},
        "additional_properties": False,
    },
)]


class _ChronoOptionalFields(Body, kw_only=True):
    """Fields a chrono may carry on create and update alike.

    Fields of one target type are read only for chronos of that type (``HTTP``: url, method,
    headers, payload, signingSecret; ``MESSAGE``: channelId, messageTemplate, recipients, extras;
    ``FUNCTION``: functionId or functionCode and functionLimits, channelId, extras).
    """

    description: Description | None | UnsetType = UNSET
    timezone: Timezone | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    misfire_grace_seconds: Annotated[int, checked(ge=0, le=MAX_MISFIRE_GRACE_SECONDS)] | UnsetType = UNSET
    overlap_policy: Annotated[str, checked(
        enum=[policy.value for policy in OverlapPolicy],
        description="An occurrence due while the previous run still runs: skip (recorded skipped; default), "
                    "allow (runs alongside) or buffer-one (one waits and runs after)",
    )] | UnsetType = UNSET
    url: Annotated[str, checked(description="HTTP: the http:// or https:// URL to call",
                                examples=["https://example.com/hooks/billing"])] | UnsetType = UNSET
    method: Annotated[str, checked(
        enum=SAFE_METHODS, description="HTTP: one of ALLOWED_METHODS (default GET, POST, PUT, PATCH, DELETE)",
    )] | UnsetType = UNSET
    headers: Annotated[dict[str, str], checked(
        description="HTTP: header names and values (printable ASCII); sensitive values are answered as ***",
    )] | None | UnsetType = UNSET
    payload: Annotated[Any, checked(description="HTTP: the JSON body sent")] | UnsetType = UNSET
    signing_secret: Annotated[str, checked(
        description="HTTP: at least 16 characters; requests then carry X-Chronoflow-Signature",
    )] | None | UnsetType = UNSET
    channel_id: Annotated[str, checked(description="MESSAGE, FUNCTION: id of a channel")] | None | UnsetType = UNSET
    message_template: Annotated[str, checked(
        description="MESSAGE: the text, with {{variables}} from each recipient and extras",
    )] | None | UnsetType = UNSET
    recipients: Annotated[list[Any], checked(
        description="MESSAGE: phone numbers, or objects with phone (or number, to) and template values",
    )] | None | UnsetType = UNSET
    function_id: Annotated[str, checked(description="FUNCTION: id of a stored function")] | None | UnsetType = UNSET
    function_code: Annotated[str, checked(
        description="FUNCTION: Python source defining def run(ctx); creates a function",
        examples=["def run(ctx):\n    return {'ok': True}\n"],
    )] | UnsetType = UNSET
    function_limits: Annotated[dict[str, Any], checked(
        description="FUNCTION: limits of the function created from functionCode",
    )] | UnsetType = UNSET
    extras: Annotated[dict[str, Any], checked(
        description="MESSAGE: template values; FUNCTION: ctx.extras",
    )] | None | UnsetType = UNSET


class ChronoCreate(_ChronoOptionalFields, kw_only=True):
    name: Name
    cron: Expression
    target_type: TargetTypeName


class ChronoUpdate(_ChronoOptionalFields, kw_only=True):
    name: Name | UnsetType = UNSET
    cron: Expression | UnsetType = UNSET
    target_type: TargetTypeName | UnsetType = UNSET


class ChronoOut(Struct, rename="camel"):
    id: str
    name: str
    description: str | None
    cron: str
    timezone: str
    target_type: str
    is_active: bool
    is_recurring: bool
    misfire_grace_seconds: int
    overlap_policy: str
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_run_status: str | None
    created_at: datetime
    updated_at: datetime
    url: str | None = None
    method: str | None = None
    headers: dict[str, str] | None = None
    payload: Any = None
    has_signing_secret: bool = False
    channel_id: str | None = None
    message_template: str | None = None
    recipients: list[Any] | None = None
    function_id: str | None = None
    extras: dict[str, Any] | None = None

    @classmethod
    def of(cls, chrono: Any) -> ChronoOut:
        return _chrono_out(chrono)


CHRONO_DERIVED: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "headers": ("headers", hide_headers),
    "has_signing_secret": ("signing_secret", bool),
}
"""Output fields that are not a stored column as it is (secrets are hidden or only flagged): the
column each is made from, and how."""


def chrono_columns(form: type[Any]) -> tuple[str, ...]:
    """The stored columns ``form`` (a struct of chrono fields) is made of."""
    return tuple(sorted({CHRONO_DERIVED.get(name, (name,))[0] for name in form.__struct_fields__}))


def chrono_reader(form: type[T], columns: tuple[str, ...] | None = None) -> Callable[[Any], T]:
    """A function that builds ``form`` (a struct of chrono fields) from a stored chrono or, given
    ``columns``, from a row of those columns in that order.

    Every form of a chrono reads its fields here: one getter made once takes every source value in
    the form's order (a list builds fifty forms per request), and only the derived fields are
    transformed after it.
    """
    fields: tuple[str, ...] = form.__struct_fields__  # type: ignore[attr-defined]
    if len(fields) < 2:  # a getter of one name gives the value, not a tuple of it
        raise ValueError(f"{form.__name__} has fewer than two fields; a chrono form reads several")
    sources = [CHRONO_DERIVED.get(name, (name, None)) for name in fields]
    names = [column for column, _ in sources]
    get_all = attrgetter(*names) if columns is None else itemgetter(*[columns.index(name) for name in names])
    derived = [(position, derive) for position, (_, derive) in enumerate(sources) if derive is not None]

    def read(chrono: Any) -> T:
        values = list(get_all(chrono))
        for position, derive in derived:
            values[position] = derive(values[position])
        return form(*values)

    return read


_chrono_out = chrono_reader(ChronoOut)


class RunOut(Struct, rename="camel"):
    id: str
    chrono_id: str
    scheduled_for: datetime
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    trigger: str
    attempt: int
    duration_ms: int | None
    http_status: int | None
    response_snippet: str | None
    error_message: str | None
    result: Any
    logs: list[Any] | None
    function_version: int | None

    @classmethod
    def of(cls, run: Any) -> RunOut:
        return cls(
            id=run.id, chrono_id=run.chrono_id, scheduled_for=run.scheduled_for, started_at=run.started_at,
            finished_at=run.finished_at, status=run.status, trigger=run.trigger, attempt=run.attempt,
            duration_ms=run.duration_ms, http_status=run.http_status, response_snippet=run.response_snippet,
            error_message=run.error_message, result=run.result, logs=run.logs,
            function_version=run.function_version,
        )


class TriggerOut(Struct, rename="camel"):
    run_id: str
    chrono_id: str
    status: str


class Page(Struct, Generic[T]):
    items: list[T]
    total: int
    skip: int
    take: int


class ParseRequest(Body):
    expression: Expression
    timezone: Timezone | UnsetType = UNSET


class Descriptions(Struct):
    en: str
    pt_br: str = msgspec.field(name="pt-BR")


class ParseOut(Struct, rename="camel"):
    kind: str
    is_recurring: bool
    cron: str | None
    run_at: datetime | None
    timezone: str
    description: Descriptions
    next_fire_times: list[datetime]


class CheckOut(Struct):
    """One dependency in ``/health``; failed checks add ``error`` (a fixed word, never a raw exception)."""

    ok: bool
    error: str | UnsetType = UNSET


class HealthOut(Struct):
    """``/health``: 200 when every check is ok, else 503 with the same body."""

    status: Annotated[str, checked(enum=["ok", "down"])]
    database: CheckOut
    redis: CheckOut
    scheduler: CheckOut
    workers: CheckOut
