"""Send one templated message to a list of recipients, and report what happened to each.

This is the body of a MESSAGE run without the database: the caller loads the channel, the
opted-out numbers and (on a retry) the numbers already served, and stores the report on the run.
The rules that keep people from being spammed live here, in one place:

- the template is checked before anything is sent, so a typo never sends half a batch;
- every recipient is normalized, and a number appearing twice gets one message;
- opted-out numbers and numbers ``already_sent`` are skipped, with the reason;
- a recipient whose message cannot be rendered (missing variable) fails alone;
- when the gateway is unreachable (a retryable :class:`ProviderError`: the request never left),
  the remaining recipients are not attempted: the run fails as retryable, and its retry passes
  the numbers that did get the message as ``already_sent``;
- when a send reached the gateway without a clear answer (``maybe_delivered``: a read timeout, a
  connection broken mid-answer, a 5xx), the message may have gone out: that recipient fails with
  ``maybeDelivered``, the remaining ones are not attempted (a gateway in that state should not get
  more), and nothing is retryable, so no retry sends anyone a second message.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chronoflow.channels.base import WhatsAppProvider
from chronoflow.channels.errors import InvalidPhoneNumber, MissingVariable, ProviderError
from chronoflow.channels.phone import normalize_number
from chronoflow.channels.templates import render, template_variables

__all__ = ["DeliveryReport", "Outcome", "RecipientResult", "STOPPED_AFTER_MAYBE_DELIVERED", "deliver"]

STOPPED_AFTER_MAYBE_DELIVERED = (
    "not attempted: the previous send may have been delivered without a clear answer"
)
"""Reason of the recipients after one whose send may have been delivered: the batch stops there."""

PHONE_KEYS = ("phone", "number", "to")
"""Keys a recipient object may name its number with; the other keys are template values."""


class Outcome(StrEnum):
    """What happened to one recipient."""

    SENT = "sent"
    SKIPPED = "skipped"
    """Deliberately not sent: opted out, already sent, or a duplicate in the list."""
    FAILED = "failed"
    NOT_ATTEMPTED = "not_attempted"
    """Left for a retry because the gateway was failing."""


@dataclass(frozen=True)
class RecipientResult:
    """The fate of one recipient.

    Attributes:
        recipient: the recipient's number as given.
        number: its normalized form, ``None`` when it could not be normalized.
        outcome: what happened.
        message_id: the provider's id when sent.
        reason: why it was skipped, failed or not attempted.
        retryable: whether a later attempt may succeed (only for FAILED/NOT_ATTEMPTED).
        maybe_delivered: FAILED after the request reached the gateway without a clear answer: the
            message may have arrived, so it is never sent again automatically.
    """

    recipient: str
    number: str | None
    outcome: Outcome
    message_id: str | None = None
    reason: str | None = None
    retryable: bool = False
    maybe_delivered: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON form, camelCase like the REST API."""
        return {
            "recipient": self.recipient,
            "number": self.number,
            "outcome": self.outcome.value,
            "messageId": self.message_id,
            "reason": self.reason,
            "retryable": self.retryable,
            "maybeDelivered": self.maybe_delivered,
        }


@dataclass(frozen=True)
class DeliveryReport:
    """Results in recipient order."""

    results: tuple[RecipientResult, ...]

    def count(self, outcome: Outcome) -> int:
        """How many recipients had this outcome."""
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def sent_numbers(self) -> list[str]:
        """Numbers that got the message: the ``already_sent`` of a retry."""
        return [r.number for r in self.results if r.outcome is Outcome.SENT and r.number]

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing was left over (skips are fine)."""
        return all(r.outcome in (Outcome.SENT, Outcome.SKIPPED) for r in self.results)

    @property
    def retryable(self) -> bool:
        """Whether retrying the run could serve someone who was not served, and may do so safely.

        Never after a send that may have been delivered: the batch stopped there on purpose.
        """
        if any(r.maybe_delivered for r in self.results):
            return False
        return any(r.retryable for r in self.results if r.outcome in (Outcome.FAILED, Outcome.NOT_ATTEMPTED))

    def summary(self) -> str:
        """One line for the run's error message or log, e.g. ``sent 3, skipped 1, failed 1``."""
        return ", ".join(
            f"{outcome.value.replace('_', ' ')} {n}" for outcome in Outcome if (n := self.count(outcome))
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON for ``ChronoRun.result``."""
        return {
            "sent": self.count(Outcome.SENT),
            "skipped": self.count(Outcome.SKIPPED),
            "failed": self.count(Outcome.FAILED),
            "notAttempted": self.count(Outcome.NOT_ATTEMPTED),
            "recipients": [r.as_dict() for r in self.results],
        }


async def deliver(
    provider: WhatsAppProvider,
    recipients: Sequence[str | Mapping[str, Any]],
    template: str,
    values: Mapping[str, Any] | None = None,
    *,
    opted_out: Collection[str] = (),
    already_sent: Collection[str] = (),
    default_country_code: str | None = None,
) -> DeliveryReport:
    """Send ``template`` to each recipient through ``provider``, one by one.

    Args:
        provider: an open provider client (see :func:`~chronoflow.channels.provider_for_channel`).
        recipients: numbers, or objects with a ``phone`` (or ``number``/``to``) and more template
            values, e.g. ``{"phone": "+55 11 98765-4321", "name": "Ana"}``.
        template: the message template.
        values: template values common to all recipients; a recipient's own keys win.
        opted_out: normalized numbers that asked not to be messaged.
        already_sent: normalized numbers served by an earlier attempt of the same run.
        default_country_code: for numbers written without one (see ``normalize_number``).

    Returns:
        A result per recipient, in order.

    Raises:
        TemplateSyntaxError: the template is malformed (nothing was sent).
    """
    template_variables(template)  # malformed: raise before the first send
    common = dict(values or {})
    blocked = set(opted_out)
    served_before = set(already_sent)
    seen: set[str] = set()
    results: list[RecipientResult] = []
    stop_reason: str | None = None
    stop_retryable = True

    for recipient in recipients:
        given, own_values = _split(recipient)
        raw = given if isinstance(given, str) else repr(given)
        if stop_reason is not None:
            results.append(
                RecipientResult(
                    raw, None, Outcome.NOT_ATTEMPTED, reason=stop_reason, retryable=stop_retryable
                )
            )
            continue
        try:
            number = normalize_number(given, default_country_code=default_country_code)  # type: ignore[arg-type]
        except InvalidPhoneNumber as exc:
            results.append(RecipientResult(raw, None, Outcome.FAILED, reason=exc.reason))
            continue
        if number in blocked:
            results.append(RecipientResult(raw, number, Outcome.SKIPPED, reason="opted out"))
            continue
        if number in served_before:
            results.append(RecipientResult(raw, number, Outcome.SKIPPED, reason="already sent"))
            continue
        if number in seen:
            results.append(RecipientResult(raw, number, Outcome.SKIPPED, reason="duplicate recipient"))
            continue
        try:
            text = render(template, {**common, **own_values})
        except MissingVariable as exc:
            results.append(RecipientResult(raw, number, Outcome.FAILED, reason=str(exc)))
            continue
        seen.add(number)  # before sending: a duplicate later in the list is skipped even if this fails
        try:
            sent = await provider.send_text(number, text)
        except ProviderError as exc:
            results.append(_failed_send(raw, number, exc))
            if exc.maybe_delivered:
                stop_reason, stop_retryable = STOPPED_AFTER_MAYBE_DELIVERED, False
            elif exc.retryable:
                stop_reason = f"not attempted: {exc.provider} was failing ({exc})"
            continue
        results.append(RecipientResult(raw, number, Outcome.SENT, message_id=sent.id))
    return DeliveryReport(tuple(results))


def _failed_send(raw: str, number: str, exc: ProviderError) -> RecipientResult:
    """The result of a send the gateway refused, could not be reached for, or left unanswered."""
    if exc.maybe_delivered:
        return RecipientResult(raw, number, Outcome.FAILED, reason=f"may have been delivered: {exc}",
                               maybe_delivered=True)
    return RecipientResult(raw, number, Outcome.FAILED, reason=str(exc), retryable=exc.retryable)


def _split(recipient: object) -> tuple[object, dict[str, Any]]:
    """The number as given (maybe not even a string), and the recipient's own template values."""
    if isinstance(recipient, Mapping):
        key = next((k for k in PHONE_KEYS if k in recipient), None)
        own = {str(k): v for k, v in recipient.items() if k != key}
        return (recipient[key] if key else None), own
    return recipient, {}
