"""Checking a campaign's fields: every rule names the camelCase field it guards.

Checked before anything is written (invariant 5): unknown channels or tags, a malformed template
or variant, a placeholder no selected contact can fill, a bad window or zone, a delay range whose
minimum exceeds its maximum, quotas and attempts out of range.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chronoflow.campaigns.audience import Audience, placeholder_holders
from chronoflow.campaigns.window import SendingWindow
from chronoflow.channels import TemplateSyntaxError, template_variables
from chronoflow.channels.service import existing_channel_id
from chronoflow.checks import checked_name
from chronoflow.errors import InvalidInput
from chronoflow.scheduling.reading import read_schedule
from chronoflow.store.models import Function

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

MAX_TEMPLATE_CHARS = 4096
"""Longest template or variant, as for MESSAGE chronos."""
MAX_VARIANTS = 20
MAX_CHANNELS = 20
MAX_DELAY_SECONDS = 86_400.0
"""Longest pause between two sends on one channel: a day."""
MAX_QUOTA = 1_000_000
MAX_ATTEMPTS = 10
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_MAX_CONSECUTIVE_FAILURES = 10
MAX_CONSECUTIVE_FAILURES = 10_000
CONTACT_FIELDS = frozenset({"name", "phone"})
"""Placeholders every contact row answers from its own columns; others are attribute keys."""

EDITABLE_AFTER_START = frozenset({
    "name", "delayMinSeconds", "delayMaxSeconds", "window", "dailyQuotaPerChannel", "hourlyQuotaPerChannel",
    "maxAttempts", "maxConsecutiveFailures", "channelIds", "rewriteFunctionId", "validateNumbers",
})
"""What may change once rows exist: pacing, limits and what happens at send time (the rewrite, the number
check), never the rendered text or the audience of rows."""


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "is required and must be non-empty text")
    if len(value) > limit:
        raise InvalidInput(field, f"must be at most {limit} characters")
    return value


def _number(value: object, field: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(field, "must be a number of seconds")
    if not 0 <= value <= MAX_DELAY_SECONDS:
        raise InvalidInput(field, f"must be from 0 to {MAX_DELAY_SECONDS:g} seconds")
    return float(value)


def _count(value: object, field: str, low: int, high: int, default: int | None) -> int | None:
    if value is None:
        return default
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(field, f"must be an integer from {low} to {high}")
    return value


def _flag(value: object, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(field, "must be true or false")
    return value


async def _rewrite_function(value: object, session: AsyncSession) -> str | None:
    """The id of an existing function, or None; the function runs at each send, so it must exist now."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("rewriteFunctionId", "must be the id of a function (or null)")
    if await session.get(Function, value.strip()) is None:
        raise InvalidInput("rewriteFunctionId", f"no function with id {value.strip()!r}")
    return value.strip()


def template_placeholders(template: str, variants: list[str]) -> set[str]:
    """Placeholders of the template and every variant; InvalidInput naming the malformed one."""
    try:
        names = template_variables(template)
    except TemplateSyntaxError as exc:
        raise InvalidInput("messageTemplate", str(exc)) from None
    for index, variant in enumerate(variants):
        try:
            names |= template_variables(variant)
        except TemplateSyntaxError as exc:
            raise InvalidInput(f"variants[{index}]", str(exc)) from None
    return names


async def checked_campaign(fields: dict[str, Any], session: AsyncSession, default_timezone: str,
                           now: datetime) -> dict[str, Any]:
    """All fields checked, as :class:`~chronoflow.store.models.Campaign` attributes.

    Raises:
        InvalidInput: naming the first wrong field.
    """
    name = checked_name(fields.get("name"))
    channel_ids = fields.get("channelIds")
    if not isinstance(channel_ids, list) or not channel_ids:
        raise InvalidInput("channelIds", "must be a non-empty list of channel ids")
    if len(channel_ids) > MAX_CHANNELS:
        raise InvalidInput("channelIds", f"at most {MAX_CHANNELS} channels")
    for index, channel_id in enumerate(channel_ids):
        await existing_channel_id(session, channel_id, f"channelIds[{index}]")
    template = _text(fields.get("messageTemplate"), "messageTemplate", MAX_TEMPLATE_CHARS)
    variants = fields.get("variants") or []
    if not isinstance(variants, list) or len(variants) > MAX_VARIANTS:
        raise InvalidInput("variants", f"must be a list of at most {MAX_VARIANTS} texts")
    for index, variant in enumerate(variants):
        _text(variant, f"variants[{index}]", MAX_TEMPLATE_CHARS)
    placeholders = template_placeholders(template, variants)

    audience = await Audience.parse(fields.get("audience"), session)
    for placeholder in sorted(placeholders - {"phone"}):
        if not await placeholder_holders(session, audience, placeholder):
            raise InvalidInput("messageTemplate", f"no selected contact has a value for {{{{{placeholder}}}}}")

    delay_min = _number(fields.get("delayMinSeconds"), "delayMinSeconds", 0.0)
    delay_max = _number(fields.get("delayMaxSeconds"), "delayMaxSeconds", delay_min)
    if delay_min > delay_max:
        raise InvalidInput("delayMinSeconds", f"must not exceed delayMaxSeconds ({delay_max:g})")
    window = fields.get("window")
    window_json = None if window is None else SendingWindow.parse(window, default_timezone).as_json()
    start_at = fields.get("startAt")
    if start_at is not None:
        zone = window_json["timezone"] if window_json else default_timezone
        read_schedule(_text(start_at, "startAt", 500), zone, now, field="startAt")
    return {
        "name": name, "channel_ids": list(dict.fromkeys(channel_ids)), "message_template": template,
        "variants": variants, "audience": audience.as_json(),
        "delay_min_seconds": delay_min, "delay_max_seconds": delay_max, "window": window_json,
        "daily_quota_per_channel": _count(fields.get("dailyQuotaPerChannel"), "dailyQuotaPerChannel", 1, MAX_QUOTA,
                                          None),
        "hourly_quota_per_channel": _count(fields.get("hourlyQuotaPerChannel"), "hourlyQuotaPerChannel", 1,
                                           MAX_QUOTA, None),
        "max_attempts": _count(fields.get("maxAttempts"), "maxAttempts", 1, MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS),
        "max_consecutive_failures": _count(fields.get("maxConsecutiveFailures"), "maxConsecutiveFailures", 1,
                                           MAX_CONSECUTIVE_FAILURES, DEFAULT_MAX_CONSECUTIVE_FAILURES),
        "start_at": start_at.strip() if isinstance(start_at, str) else None,
        "rewrite_function_id": await _rewrite_function(fields.get("rewriteFunctionId"), session),
        "validate_numbers": _flag(fields.get("validateNumbers"), "validateNumbers"),
    }


__all__ = ["EDITABLE_AFTER_START", "checked_campaign", "template_placeholders"]
