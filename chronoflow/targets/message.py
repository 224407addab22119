"""MESSAGE target: send a templated WhatsApp text to each recipient through a channel.

Checked when the chrono is saved, so nothing surprising reaches a customer:

- ``channelId`` names an existing channel;
- ``messageTemplate`` is well-formed, and every placeholder has a value for every recipient
  (``{{phone}}``, the recipient object's own keys, the chrono's ``extras``): a missing variable is
  a 422, never a blank in someone's message;
- ``recipients`` is a non-empty list of numbers (or objects with a ``phone``), each normalized
  (:func:`~chronoflow.channels.normalize_number`); an invalid one is a 422, duplicates are dropped.

At run time the channel must be ``WORKING``: any other status fails the run at once, without a
retry, with "channel not connected". A send that reached the gateway without a clear answer (read
timeout, connection reset mid-answer, 5xx) may have been delivered: that recipient fails with
``maybeDelivered: true``, the rest are not attempted, and the run is not retried. Opted-out numbers
are skipped. A retry (a later attempt of the same occurrence, after the gateway could not be
reached) skips the numbers an earlier attempt already sent to, so nobody gets a text twice.
The run's ``result`` holds, per recipient, the provider's message id or the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from chronoflow.channels import (
    DeliveryReport,
    InvalidPhoneNumber,
    Outcome,
    RecipientResult,
    TemplateSyntaxError,
    deliver,
    normalize_number,
    template_variables,
)
from chronoflow.channels.connected import connected_provider
from chronoflow.channels.delivery import STOPPED_AFTER_MAYBE_DELIVERED
from chronoflow.channels.errors import ChannelNotConnected
from chronoflow.channels.optout_store import opted_out_among
from chronoflow.channels.service import existing_channel_id
from chronoflow.errors import InvalidInput
from chronoflow.store.models import Channel, ChronoRun, RunStatus
from chronoflow.targets.base import ExecutionContext, Target, TargetResult

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from chronoflow.config import Settings
    from chronoflow.store.models import Chrono

MAX_RECIPIENTS = 1000
"""Recipients of one MESSAGE chrono; bulk sends belong to campaigns."""

MAX_TEMPLATE_CHARS = 4096
"""Longest template accepted."""

PHONE_KEYS = ("phone", "number", "to")
"""Keys a recipient object may name its number with (stored as ``phone``)."""

NOT_CONNECTED = "channel not connected"
"""Start of the error of a run whose channel is not WORKING."""


def _recipient_parts(index: int, item: object) -> tuple[str, dict[str, Any]]:
    """The normalized number and the template values of one recipient; InvalidInput when wrong."""
    own: dict[str, Any] = {}
    given: object = item
    if isinstance(item, Mapping):
        key = next((k for k in PHONE_KEYS if k in item), None)
        if key is None:
            raise InvalidInput("recipients", f"item {index} has no phone (give 'phone', 'number' or 'to')")
        given = item[key]
        own = {str(k): v for k, v in item.items() if k != key}
        for name, value in own.items():
            if value is not None and not isinstance(value, str | int | float | bool):
                raise InvalidInput("recipients", f"item {index}: value of {name!r} must be text or a number")
    elif not isinstance(item, str):
        raise InvalidInput("recipients", f"item {index} must be a phone number or an object with a phone")
    try:
        number = normalize_number(given)  # type: ignore[arg-type]
    except InvalidPhoneNumber as exc:
        raise InvalidInput("recipients", f"item {index} {given!r} is not a valid number: {exc.reason}") from None
    return number, own


def _values(extras: Mapping[str, Any] | None, own: Mapping[str, Any], number: str) -> dict[str, Any]:
    """Template values of one recipient: extras, then its own keys, then ``phone``."""
    return {**(extras or {}), **own, "phone": number}


class MessageTarget(Target):
    """Sends ``messageTemplate`` to ``recipients`` through the channel ``channelId``."""

    fields = frozenset({"channelId", "messageTemplate", "recipients"})

    async def validate(self, fields: dict[str, Any], session: AsyncSession, settings: Settings) -> dict[str, Any]:
        channel_id = fields.get("channelId")
        if not isinstance(channel_id, str) or not channel_id.strip():
            raise InvalidInput("channelId", "is required for a MESSAGE chrono")
        await existing_channel_id(session, channel_id, "channelId")

        template = fields.get("messageTemplate")
        if not isinstance(template, str) or not template.strip():
            raise InvalidInput("messageTemplate", "is required for a MESSAGE chrono")
        if len(template) > MAX_TEMPLATE_CHARS:
            raise InvalidInput("messageTemplate", f"must be at most {MAX_TEMPLATE_CHARS} characters")
        try:
            variables = template_variables(template)
        except TemplateSyntaxError as exc:
            raise InvalidInput("messageTemplate", str(exc)) from None

        extras = fields.get("extras")
        if extras is not None and not isinstance(extras, dict):
            raise InvalidInput("extras", "must be an object of template values")

        recipients = fields.get("recipients")
        if not isinstance(recipients, list) or not recipients:
            raise InvalidInput("recipients", "must be a non-empty list of phone numbers")
        if len(recipients) > MAX_RECIPIENTS:
            raise InvalidInput("recipients", f"at most {MAX_RECIPIENTS} per chrono; use a campaign for more")

        parts = [_recipient_parts(index, item) for index, item in enumerate(recipients)]  # numbers first
        stored: list[Any] = []
        seen: set[str] = set()
        for index, (item, (number, own)) in enumerate(zip(recipients, parts, strict=True)):
            values = _values(extras, own, number)
            missing = sorted(name for name in variables if values.get(name) is None)
            if missing:
                names = ", ".join("{{" + name + "}}" for name in missing)
                raise InvalidInput(
                    "messageTemplate",
                    f"unknown variable {names} for recipient {index} ({number}): "
                    "give it in the recipient object or in extras",
                )
            if number in seen:
                continue
            seen.add(number)
            stored.append({**own, "phone": number} if own or isinstance(item, Mapping) else number)
        return {"channel_id": channel_id, "message_template": template, "recipients": stored, "extras": extras}

    async def execute(self, chrono: Chrono, run: ChronoRun, context: ExecutionContext) -> TargetResult:
        recipients = [_stored_parts(item) for item in chrono.recipients or []]
        async with context.db.session() as session:
            channel = await session.get(Channel, chrono.channel_id) if chrono.channel_id else None
            blocked = await opted_out_among(session, [number for number, _ in recipients])
            already, settled = await _earlier_attempts(session, chrono.id, run.scheduled_for, run.attempt)
        if channel is None:
            return TargetResult(RunStatus.FAILED, error_message="channel not found: it was deleted")
        try:
            provider = connected_provider(channel, context.settings, client=context.http)
        except ChannelNotConnected as exc:
            return TargetResult(RunStatus.FAILED, error_message=f"{NOT_CONNECTED}: {exc}")
        except InvalidInput as exc:
            return TargetResult(RunStatus.FAILED, error_message=f"channel {channel.name!r} is misconfigured: {exc}")

        results: list[RecipientResult] = []
        stop_reason: str | None = None
        stop_retryable = True
        async with provider:
            for number, own in recipients:
                if stop_reason is not None:
                    results.append(RecipientResult(number, number, Outcome.NOT_ATTEMPTED, reason=stop_reason,
                                                   retryable=stop_retryable))
                    continue
                if number in settled and number not in already:
                    # A final failure of an earlier attempt (a 4xx, or a send that may have arrived):
                    # trying again could double a message, so it stays failed.
                    results.append(RecipientResult(number, number, Outcome.FAILED,
                                                   reason=f"not retried: {settled[number]}"))
                    continue
                # One recipient per call: deliver() keeps the skip/render/send rules, and each
                # recipient gets its own {{phone}}.
                report = await deliver(
                    provider, [number], chrono.message_template or "", _values(chrono.extras, own, number),
                    opted_out=blocked, already_sent=already,
                )
                result = report.results[0]
                results.append(result)
                if result.maybe_delivered:
                    # The gateway took the request and gave no clear answer: not one more send into it,
                    # and no retry of the run (DeliveryReport.retryable is False).
                    stop_reason, stop_retryable = STOPPED_AFTER_MAYBE_DELIVERED, False
                elif result.outcome is Outcome.FAILED and result.retryable:
                    stop_reason = f"not attempted: the provider was failing ({result.reason})"
        return _outcome(DeliveryReport(tuple(results)))


def _stored_parts(item: object) -> tuple[str, dict[str, Any]]:
    """A stored recipient (normalized at validation) as number and own values."""
    if isinstance(item, Mapping):
        return str(item.get("phone")), {str(k): v for k, v in item.items() if k != "phone"}
    return str(item), {}


async def _earlier_attempts(
    session: AsyncSession, chrono_id: str, scheduled_for: datetime, attempt: int
) -> tuple[set[str], dict[str, str]]:
    """What earlier attempts of the same occurrence did: numbers sent to, and final failures (reason).

    Only recipients that failed retryably or were not attempted are tried again.
    """
    if attempt <= 1:
        return set(), {}
    rows = await session.scalars(
        select(ChronoRun.result).where(
            ChronoRun.chrono_id == chrono_id, ChronoRun.scheduled_for == scheduled_for, ChronoRun.attempt < attempt
        ).order_by(ChronoRun.attempt)
    )
    sent: set[str] = set()
    settled: dict[str, str] = {}
    for result in rows:
        for item in (result or {}).get("recipients", []) if isinstance(result, dict) else []:
            if not isinstance(item, dict) or not item.get("number"):
                continue
            number = str(item["number"])
            if item.get("outcome") == Outcome.SENT:
                sent.add(number)
            elif item.get("outcome") == Outcome.FAILED and not item.get("retryable"):
                settled[number] = str(item.get("reason") or "failed").removeprefix("not retried: ")
    return sent, settled


def _outcome(report: DeliveryReport) -> TargetResult:
    summary = report.summary()
    if report.ok:
        return TargetResult(RunStatus.SUCCESS, response_snippet=summary, result=report.as_dict())
    first = next(r for r in report.results if r.outcome in (Outcome.FAILED, Outcome.NOT_ATTEMPTED))
    return TargetResult(
        RunStatus.FAILED, response_snippet=summary, result=report.as_dict(),
        error_message=f"{summary}; {first.number or first.recipient}: {first.reason}",
        retryable=report.retryable,
    )
