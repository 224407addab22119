"""SQLAlchemy 2.0 models: the database is the source of truth; Redis holds jobs only."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy import inspect as inspect_mapped
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column

from chronoflow.store.engine import UTCDateTime, utcnow


class TargetType(StrEnum):
    HTTP = "HTTP"
    MESSAGE = "MESSAGE"
    FUNCTION = "FUNCTION"
    CAMPAIGN = "CAMPAIGN"
    """A campaign's send step; such chronos are created and driven by ``/campaigns`` only."""


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    MISSED = "missed"


class OverlapPolicy(StrEnum):
    """What a recurring chrono does with an occurrence due while its previous run is still running."""

    SKIP = "skip"
    """Record the occurrence ``skipped``, with the reason, and do not run it (the default)."""
    ALLOW = "allow"
    """Run it alongside the previous run."""
    BUFFER_ONE = "buffer-one"
    """Let one occurrence wait and run after the previous run; others meanwhile are skipped."""


class RunTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


ModelT = TypeVar("ModelT", bound=Base)


def filled(model: type[ModelT], values: Mapping[str, Any]) -> ModelT:
    """An object of ``model`` holding ``values``, not in any session, filled as the ORM fills one it loads.

    Straight into the object's attributes: its constructor's per-attribute events cost about ten
    times as much, which counts on hot paths (a creation, a worker's claim). Attributes left out
    read as ``None``, as on a new object.
    """
    make = _EMPTY_MAKERS.get(model)
    if make is None:
        configure_mappers()  # reading attributes needs it, and no constructor call did it
        make = _EMPTY_MAKERS[model] = inspect_mapped(model).class_manager.new_instance
    instance = make()
    instance.__dict__.update(values)
    return instance


_EMPTY_MAKERS: dict[type[Any], Callable[[], Any]] = {}
"""Per model, what makes an object with its ORM state and no attribute set."""


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Channel(Timestamped, Base):
    """A WhatsApp connection: a WAHA session or an Evolution API instance."""

    __tablename__ = "channels"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    api_key: Mapped[str | None] = mapped_column(String(500), default=None)
    status: Mapped[str] = mapped_column(String(32), default="STOPPED")
    """A ``ChannelStatus`` value; the longest is ``PASSKEY_CONFIRMATION_REQUIRED`` (migration 0004)."""


class Function(Timestamped, Base):
    """User Python source run by FUNCTION chronos; ``state`` persists between runs."""

    __tablename__ = "functions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    code: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    checksum: Mapped[str] = mapped_column(String(64))
    limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channel_id: Mapped[str | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), default=None)


class Chrono(Timestamped, Base):
    """A schedule that fires one target."""

    __tablename__ = "chronos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    cron: Mapped[str] = mapped_column(String(500))
    """The schedule as the user wrote it."""
    schedule_cron: Mapped[str | None] = mapped_column(String(200), default=None)
    """Normalized cron of a recurring schedule."""
    run_at: Mapped[datetime | None] = mapped_column(default=None)
    """Instant of a one-shot schedule."""
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    target_type: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_recurring: Mapped[bool] = mapped_column(Boolean, default=True)
    misfire_grace_seconds: Mapped[int] = mapped_column(Integer, default=300)
    overlap_policy: Mapped[str] = mapped_column(String(16), default=OverlapPolicy.SKIP,
                                                server_default=OverlapPolicy.SKIP.value)
    """An :class:`OverlapPolicy` value (migration 0005)."""

    url: Mapped[str | None] = mapped_column(Text, default=None)
    method: Mapped[str | None] = mapped_column(String(10), default=None)
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    payload: Mapped[Any | None] = mapped_column(JSON, default=None)
    signing_secret: Mapped[str | None] = mapped_column(String(500), default=None)

    channel_id: Mapped[str | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), default=None)
    message_template: Mapped[str | None] = mapped_column(Text, default=None)
    recipients: Mapped[list[Any] | None] = mapped_column(JSON, default=None)

    function_id: Mapped[str | None] = mapped_column(ForeignKey("functions.id", ondelete="SET NULL"), default=None)
    extras: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    next_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_run_status: Mapped[str | None] = mapped_column(String(16), default=None)

    __table_args__ = (
        Index("ix_chronos_target_active", "target_type", "is_active"),
        Index("ix_chronos_created", "created_at", "id"),  # lists, newest first (migration 0009)
    )


class ChronoRun(Base):
    """One execution attempt of one occurrence; the unique key is what makes runs at-most-once."""

    __tablename__ = "chrono_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    chrono_id: Mapped[str] = mapped_column(ForeignKey("chronos.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column()
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    trigger: Mapped[str] = mapped_column(String(16), default=RunTrigger.SCHEDULE)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    http_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_snippet: Mapped[str | None] = mapped_column(Text, default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[Any | None] = mapped_column(JSON, default=None)
    logs: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    function_version: Mapped[int | None] = mapped_column(Integer, default=None)
    advances_to: Mapped[datetime | None] = mapped_column(default=None)
    """The chrono's next occurrence when this run finishes; a database trigger (migration 0003)
    applies it, with the run's outcome, to the chrono as the run leaves ``running``."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("chrono_id", "scheduled_for", "attempt", name="uq_chrono_runs_occurrence"),
        Index("ix_chrono_runs_chrono_scheduled", "chrono_id", "scheduled_for"),
        Index("ix_chrono_runs_scheduled_status", "scheduled_for", "status"),
        Index("ix_chrono_runs_status_scheduled", "status", "scheduled_for"),
    )


class InboundEvent(Base):
    """A provider webhook as received (after authentication), kept raw for audit and replay."""

    __tablename__ = "inbound_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(64))
    """The provider's event name (``session.status``, ``messages.upsert``…), empty when absent."""
    session: Mapped[str | None] = mapped_column(String(200), default=None)
    payload: Mapped[Any] = mapped_column(JSON)
    """The body as received, credentials blanked (``chronoflow.channels.records.redact_secrets``)."""
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    event_key: Mapped[str | None] = mapped_column(String(255), default=None)
    """What identifies the event at its provider (message id, else event id); unique per provider,
    so a delivery seen before is acknowledged without being stored or applied again. ``None`` when
    the event carries no id."""

    __table_args__ = (
        Index("ix_inbound_events_received", "received_at"),
        Index("uq_inbound_events_key", "provider", "event_key", unique=True),
    )


class OptOut(Base):
    """A number that asked not to be messaged: no chrono or campaign sends to it again."""

    __tablename__ = "opt_outs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    """Normalized digits (see ``chronoflow.channels.normalize_number``)."""
    channel_id: Mapped[str | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"), default=None)
    """The channel the opt-out arrived through, when known."""
    source: Mapped[str] = mapped_column(Text)
    """How it was recorded, e.g. ``waha:default: "PARE"``."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OptOutConfirmation(Base):
    """When a number was last told its opt-out is done: confirmations are rate-limited per number."""

    __tablename__ = "opt_out_confirmations"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    """Normalized digits."""
    sent_at: Mapped[datetime] = mapped_column()


class WhatsAppState(StrEnum):
    """What a channel's gateway said about a contact's number (``POST /contacts/validate``)."""

    UNKNOWN = "unknown"
    VALID = "valid"
    INVALID = "invalid"


class Tag(Timestamped, Base):
    """A label on contacts; campaigns choose their audience by tags."""

    __tablename__ = "tags"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Contact(Timestamped, Base):
    """A person messages can go to, keyed by the normalized phone number.

    Whether the contact opted out is not stored here: it follows :class:`OptOut` by ``phone``.
    """

    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    """Normalized digits (see ``chronoflow.channels.normalize_number``)."""
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Free values; their keys are template placeholders."""
    whatsapp: Mapped[str] = mapped_column(String(16), default=WhatsAppState.UNKNOWN)
    whatsapp_chat_id: Mapped[str | None] = mapped_column(String(100), default=None)
    """The chat id the gateway returned when it validated the number; messages go there."""
    whatsapp_checked_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_contacts_created", "created_at", "id"),  # ascending scans: snapshot, validation
        Index("ix_contacts_newest", text("created_at DESC"), "id"),  # GET /contacts (migration 0011)
    )


class ContactTag(Base):
    """One tag on one contact. The primary key answers "tags of a contact"; the reverse index
    answers "contacts with tag X" and the all/any/exclude audience queries built from it."""

    __tablename__ = "contact_tags"

    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[str] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_contact_tags_tag_contact", "tag_id", "contact_id"),)


class CampaignStatus(StrEnum):
    """A campaign's life: ``draft → scheduled → sending ⇄ paused → completed``, or ``cancelled``."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RecipientStatus(StrEnum):
    """One contact's message in a campaign. ``sending`` is the claim taken before the gateway
    call; ``uncertain`` a claim whose step died, so whether the message left is unknown."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"


class Campaign(Timestamped, Base):
    """A message sent to an audience of tagged contacts, paced, windowed and rationed per channel.

    It owns one chrono (target ``CAMPAIGN``) whose runs are its send steps.
    """

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    channel_ids: Mapped[list[Any]] = mapped_column(default=list)
    message_template: Mapped[str] = mapped_column(Text)
    variants: Mapped[list[Any]] = mapped_column(default=list)
    """Alternative texts; each recipient gets the template or one of these, chosen at snapshot."""
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"tags": [...], "allTags": [...], "excludeTags": [...]}`` (tag names)."""
    delay_min_seconds: Mapped[float] = mapped_column(default=0.0)
    delay_max_seconds: Mapped[float] = mapped_column(default=0.0)
    window: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """``{"start": "08:00", "end": "20:00", "days": ["mon", ...], "timezone": "..."}``; None: always."""
    daily_quota_per_channel: Mapped[int | None] = mapped_column(Integer, default=None)
    hourly_quota_per_channel: Mapped[int | None] = mapped_column(Integer, default=None)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    max_consecutive_failures: Mapped[int] = mapped_column(Integer, default=10)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    start_at: Mapped[str | None] = mapped_column(String(500), default=None)
    """The schedule string the first step waits for (as a chrono accepts it); None: at once."""
    rewrite_function_id: Mapped[str | None] = mapped_column(String(36), default=None)
    """A user function that turns each rendered text into the text sent; None: sent as rendered."""
    validate_numbers: Mapped[bool] = mapped_column(Boolean, default=False)
    """Check a contact's number through the channel before its first send when it was never checked."""
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT)
    paused_reason: Mapped[str | None] = mapped_column(Text, default=None)
    pacing: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Per channel id, the ISO instant its next send may happen (the random delay after its last)."""
    chrono_id: Mapped[str | None] = mapped_column(ForeignKey("chronos.id", ondelete="SET NULL"), default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class CampaignRecipient(Base):
    """One contact of one campaign: what it is sent, through which channel, and what happened."""

    __tablename__ = "campaign_recipients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str | None] = mapped_column(String(100), default=None)
    """The gateway's chat id of a validated contact, copied at snapshot: the send goes there."""
    channel_id: Mapped[str | None] = mapped_column(String(36), default=None)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    sent_text: Mapped[str | None] = mapped_column(Text, default=None)
    """The text handed to the gateway (after the rewrite function, if any); kept so a retry is not rewritten again."""
    variant: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=RecipientStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(36), default=None)
    """The run (send step) holding the ``sending`` claim."""
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", name="uq_campaign_recipients_contact"),
        Index("ix_campaign_recipients_next", "campaign_id", "status", "next_attempt_at"),
        Index("ix_campaign_recipients_quota", "campaign_id", "channel_id", "sent_at"),
        Index("ix_campaign_recipients_message", "provider_message_id"),
    )
