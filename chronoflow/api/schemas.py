"""Request and response bodies: msgspec structs, camelCase on the wire, unknown fields refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from msgspec import UNSET, Struct, UnsetType

T = TypeVar("T")


class Body(Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=False):
    """Base of request bodies."""

    def fields(self) -> dict[str, Any]:
        """The fields the client sent, camelCase, without the unset ones."""
        return msgspec.to_builtins(self)  # UNSET fields are omitted


class _ChronoOptionalFields(Body, kw_only=True):
    """Fields a chrono may carry on create and update alike."""

    description: str | None | UnsetType = UNSET
    timezone: str | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    misfire_grace_seconds: int | UnsetType = UNSET
    url: str | UnsetType = UNSET
    method: str | UnsetType = UNSET
    headers: dict[str, str] | None | UnsetType = UNSET
    payload: Any | UnsetType = UNSET
    signing_secret: str | None | UnsetType = UNSET
    channel_id: str | None | UnsetType = UNSET
    message_template: str | None | UnsetType = UNSET
    recipients: list[Any] | None | UnsetType = UNSET
    function_id: str | None | UnsetType = UNSET
    function_code: str | UnsetType = UNSET
    function_limits: dict[str, Any] | UnsetType = UNSET
    extras: dict[str, Any] | None | UnsetType = UNSET


class ChronoCreate(_ChronoOptionalFields, kw_only=True):
    name: str
    cron: str
    target_type: str


class ChronoUpdate(_ChronoOptionalFields, kw_only=True):
    name: str | UnsetType = UNSET
    cron: str | UnsetType = UNSET
    target_type: str | UnsetType = UNSET


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
        return cls(
            id=chrono.id, name=chrono.name, description=chrono.description, cron=chrono.cron,
            timezone=chrono.timezone, target_type=chrono.target_type, is_active=chrono.is_active,
            is_recurring=chrono.is_recurring, misfire_grace_seconds=chrono.misfire_grace_seconds,
            next_run_at=chrono.next_run_at, last_run_at=chrono.last_run_at, last_run_status=chrono.last_run_status,
            created_at=chrono.created_at, updated_at=chrono.updated_at, url=chrono.url, method=chrono.method,
            headers=chrono.headers, payload=chrono.payload, has_signing_secret=bool(chrono.signing_secret),
            channel_id=chrono.channel_id, message_template=chrono.message_template, recipients=chrono.recipients,
            function_id=chrono.function_id, extras=chrono.extras,
        )


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
    expression: str
    timezone: str | UnsetType = UNSET


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


class ErrorOut(Struct):
    status_code: int
    detail: str
    field: str | None = None
