"""``/campaigns``: CRUD, the status actions, recipients, the CSV report and live progress (SSE).

Thin over :class:`~chronoflow.campaigns.CampaignService`; the rules are in :mod:`chronoflow.campaigns`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from litestar.response import ServerSentEvent, Stream
from litestar.response.sse import ServerSentEventMessage
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import UNSET, Struct, UnsetType

from chronoflow.api.openapi import checked, errors
from chronoflow.api.paging import Skip, Take
from chronoflow.api.schemas import Body, Page
from chronoflow.campaigns import CampaignService, Progress, estimated_finish, rate_per_minute, report_csv
from chronoflow.errors import NotFound
from chronoflow.store.engine import Database
from chronoflow.store.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus

EVENTS_POLL_SECONDS = 0.5
"""How often the event stream reads the campaign's counters."""
EVENTS_MAX_SECONDS = 3600
"""A stream ends after an hour at most; the browser's EventSource reconnects by itself."""
FINAL = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)

Seconds = Annotated[float, checked(description="seconds (fractions and 0 allowed)", examples=[30])]
Json = dict[str, Any]


class CampaignCreate(Body):
    name: Annotated[str, checked(min_length=1, max_length=200)]
    channel_ids: Annotated[list[str], checked(description="channels the sends rotate across", max_items=20)]
    message_template: Annotated[str, checked(min_length=1, max_length=4096, examples=["Olá {{name}}!"])]
    audience: Annotated[Json, checked(description="{tags: any of, allTags: all of, excludeTags}",
                                      examples=[{"tags": ["vip"]}])]
    variants: Annotated[list[str], checked(max_items=20)] | UnsetType = UNSET
    delay_min_seconds: Seconds | UnsetType = UNSET
    delay_max_seconds: Seconds | UnsetType = UNSET
    window: Annotated[Json, checked(examples=[{"start": "08:00", "end": "20:00", "days": ["mon", "fri"],
                                               "timezone": "America/Sao_Paulo"}])] | None | UnsetType = UNSET
    daily_quota_per_channel: int | None | UnsetType = UNSET
    hourly_quota_per_channel: int | None | UnsetType = UNSET
    max_attempts: int | UnsetType = UNSET
    max_consecutive_failures: int | UnsetType = UNSET
    start_at: Annotated[str, checked(description="any schedule a chrono accepts", examples=["amanhã às 9h"])
                        ] | None | UnsetType = UNSET
    rewrite_function_id: Annotated[str, checked(description="a function that returns the text to send")
                                   ] | None | UnsetType = UNSET
    validate_numbers: Annotated[bool, checked(description="check an unchecked number before its first send")
                                ] | UnsetType = UNSET


class CampaignUpdate(Body):
    name: Annotated[str, checked(min_length=1, max_length=200)] | UnsetType = UNSET
    channel_ids: Annotated[list[str], checked(max_items=20)] | UnsetType = UNSET
    message_template: Annotated[str, checked(min_length=1, max_length=4096)] | UnsetType = UNSET
    audience: Json | UnsetType = UNSET
    variants: Annotated[list[str], checked(max_items=20)] | UnsetType = UNSET
    delay_min_seconds: Seconds | UnsetType = UNSET
    delay_max_seconds: Seconds | UnsetType = UNSET
    window: Json | None | UnsetType = UNSET
    daily_quota_per_channel: int | None | UnsetType = UNSET
    hourly_quota_per_channel: int | None | UnsetType = UNSET
    max_attempts: int | UnsetType = UNSET
    max_consecutive_failures: int | UnsetType = UNSET
    start_at: str | None | UnsetType = UNSET
    rewrite_function_id: str | None | UnsetType = UNSET
    validate_numbers: bool | UnsetType = UNSET


class CampaignOut(Struct, rename="camel"):
    id: str
    name: str
    channel_ids: list[str]
    message_template: str
    variants: list[str]
    audience: Json
    delay_min_seconds: float
    delay_max_seconds: float
    window: Json | None
    daily_quota_per_channel: int | None
    hourly_quota_per_channel: int | None
    max_attempts: int
    max_consecutive_failures: int
    start_at: str | None
    rewrite_function_id: str | None
    validate_numbers: bool
    status: Annotated[str, checked(enum=[s.value for s in CampaignStatus])]
    paused_reason: str | None
    chrono_id: str | None
    total: int
    pending: int
    sending: int
    sent: int
    delivered: int
    read: int
    failed: int
    skipped: int
    uncertain: int
    rate_per_minute: float
    estimated_finish_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Campaign, counts: Progress) -> CampaignOut:
        return cls(
            id=c.id, name=c.name, channel_ids=c.channel_ids, message_template=c.message_template,
            variants=c.variants, audience=c.audience, delay_min_seconds=c.delay_min_seconds,
            delay_max_seconds=c.delay_max_seconds, window=c.window, daily_quota_per_channel=c.daily_quota_per_channel,
            hourly_quota_per_channel=c.hourly_quota_per_channel, max_attempts=c.max_attempts,
            max_consecutive_failures=c.max_consecutive_failures, start_at=c.start_at,
            rewrite_function_id=c.rewrite_function_id, validate_numbers=c.validate_numbers, status=c.status,
            paused_reason=c.paused_reason, chrono_id=c.chrono_id, total=counts.total,
            **{s.value: counts[s] for s in RecipientStatus},
            rate_per_minute=rate_per_minute(c), estimated_finish_at=estimated_finish(c, counts),
            started_at=c.started_at, finished_at=c.finished_at, created_at=c.created_at, updated_at=c.updated_at)


class RecipientOut(Struct, rename="camel"):
    id: str
    contact_id: str | None
    phone: str
    channel_id: str | None
    text: str | None
    sent_text: Annotated[str | None, checked(description="the text handed to the gateway (after the rewrite)")]
    variant: int
    status: Annotated[str, checked(enum=[s.value for s in RecipientStatus])]
    attempts: int
    provider_message_id: str | None
    error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: CampaignRecipient) -> RecipientOut:
        return cls(id=r.id, contact_id=r.contact_id, phone=r.phone, channel_id=r.channel_id, text=r.text,
                   sent_text=r.sent_text, variant=r.variant, status=r.status, attempts=r.attempts,
                   provider_message_id=r.provider_message_id,
                   error=r.error, next_attempt_at=r.next_attempt_at, sent_at=r.sent_at, created_at=r.created_at,
                   updated_at=r.updated_at)


class RetryOut(Struct):
    retried: int


class TestIn(Body):
    phone: Annotated[str, checked(min_length=1, examples=["+55 11 98765-4321"])]


class TestOut(Struct, rename="camel"):
    channel_id: str
    phone: str
    text: str
    provider_message_id: str | None


async def _view(service: CampaignService, campaign_id: str) -> CampaignOut:
    return CampaignOut.of(*await service.with_progress(campaign_id))


async def progress_events(service: CampaignService, campaign_id: str) -> AsyncIterator[ServerSentEventMessage]:
    """The campaign's counters and status, sent whenever they change, until it ends (or the client leaves)."""
    last = ""
    for _ in range(int(EVENTS_MAX_SECONDS / EVENTS_POLL_SECONDS)):
        try:
            campaign, counts = await service.with_progress(campaign_id)
        except NotFound:
            yield ServerSentEventMessage(data=json.dumps({"status": "deleted"}), event="deleted")
            return
        state = {"status": campaign.status, "pausedReason": campaign.paused_reason, "total": counts.total,
                 **counts.counts}
        data = json.dumps(state, sort_keys=True)
        if data != last:
            yield ServerSentEventMessage(data=data, event="progress")
            last = data
        if campaign.status in FINAL:
            return
        await asyncio.sleep(EVENTS_POLL_SECONDS)


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", status_code=HTTP_201_CREATED, summary="Create a campaign (draft)",
          responses=errors(400, 401, 413, 422))
    async def create(self, data: CampaignCreate, campaigns: CampaignService) -> CampaignOut:
        campaign = await campaigns.create(data.fields())
        return await _view(campaigns, campaign.id)

    @get("/", summary="List campaigns, newest first", responses=errors(400, 401))
    async def list_campaigns(
        self, campaigns: CampaignService, skip: Skip = 0, take: Take = 50,
        status: Annotated[CampaignStatus | None, Parameter(description="only campaigns in this status")] = None,
    ) -> Page[CampaignOut]:
        rows, total = await campaigns.list(skip, take, status)
        items = [await _view(campaigns, c.id) for c in rows]
        return Page(items=items, total=total, skip=skip, take=take)

    @get("/{campaign_id:str}", summary="Read a campaign with its counters", responses=errors(400, 401, 404))
    async def read(self, campaign_id: str, campaigns: CampaignService) -> CampaignOut:
        return await _view(campaigns, campaign_id)

    @patch("/{campaign_id:str}", summary="Change a campaign (pacing and limits only once started)",
           responses=errors(400, 401, 404, 409, 413, 422))
    async def update(self, campaign_id: str, data: CampaignUpdate, campaigns: CampaignService) -> CampaignOut:
        await campaigns.update(campaign_id, data.fields())
        return await _view(campaigns, campaign_id)

    @delete("/{campaign_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a campaign that is not sending",
            responses=errors(400, 401, 404, 409))
    async def remove(self, campaign_id: str, campaigns: CampaignService) -> None:
        await campaigns.delete(campaign_id)

    @post("/{campaign_id:str}/start", status_code=HTTP_200_OK, responses=errors(400, 401, 404, 409, 422),
          summary="Snapshot the audience into recipient rows and start sending (or wait for startAt)")
    async def start(self, campaign_id: str, campaigns: CampaignService) -> CampaignOut:
        await campaigns.start(campaign_id)
        return await _view(campaigns, campaign_id)

    @post("/{campaign_id:str}/pause", status_code=HTTP_200_OK, summary="Pause sending (no job while paused)",
          responses=errors(400, 401, 404, 409))
    async def pause(self, campaign_id: str, campaigns: CampaignService) -> CampaignOut:
        await campaigns.pause(campaign_id)
        return await _view(campaigns, campaign_id)

    @post("/{campaign_id:str}/resume", status_code=HTTP_200_OK, summary="Resume a paused campaign",
          responses=errors(400, 401, 404, 409))
    async def resume(self, campaign_id: str, campaigns: CampaignService) -> CampaignOut:
        await campaigns.resume(campaign_id)
        return await _view(campaigns, campaign_id)

    @post("/{campaign_id:str}/cancel", status_code=HTTP_200_OK, summary="Cancel: pending rows become skipped",
          responses=errors(400, 401, 404, 409))
    async def cancel(self, campaign_id: str, campaigns: CampaignService) -> CampaignOut:
        await campaigns.cancel(campaign_id)
        return await _view(campaigns, campaign_id)

    @post("/{campaign_id:str}/retry-failed", status_code=HTTP_200_OK, responses=errors(400, 401, 404, 409),
          summary="Failed rows back to pending (uncertain rows are left for the operator)")
    async def retry_failed(self, campaign_id: str, campaigns: CampaignService) -> RetryOut:
        _, count = await campaigns.retry_failed(campaign_id)
        return RetryOut(retried=count)

    @post("/{campaign_id:str}/retry-uncertain", status_code=HTTP_200_OK, responses=errors(400, 401, 404, 409),
          summary="Uncertain rows (their text not found in the chat) back to pending: the operator's call")
    async def retry_uncertain(self, campaign_id: str, campaigns: CampaignService) -> RetryOut:
        _, count = await campaigns.retry_uncertain(campaign_id)
        return RetryOut(retried=count)

    @post("/{campaign_id:str}/test", status_code=HTTP_200_OK, responses=errors(400, 401, 404, 409, 422, 502),
          summary="Send the rendered message to one number now; no row changes")
    async def test(self, campaign_id: str, data: TestIn, campaigns: CampaignService) -> TestOut:
        sent = await campaigns.send_test(campaign_id, data.phone)
        return TestOut(channel_id=sent.channel_id, phone=sent.phone, text=sent.text,
                       provider_message_id=sent.provider_message_id)

    @get("/{campaign_id:str}/recipients", summary="Page the recipient rows", responses=errors(400, 401, 404))
    async def recipients(
        self, campaign_id: str, campaigns: CampaignService, skip: Skip = 0, take: Take = 50,
        status: Annotated[RecipientStatus | None, Parameter(description="only rows in this status")] = None,
    ) -> Page[RecipientOut]:
        rows, total = await campaigns.recipients(campaign_id, status, skip, take)
        return Page(items=[RecipientOut.of(r) for r in rows], total=total, skip=skip, take=take)

    @get("/{campaign_id:str}/report.csv", summary="Every recipient row as CSV", media_type="text/csv",
         responses=errors(400, 401, 404))
    async def report(self, campaign_id: str, campaigns: CampaignService, db: Database) -> Stream:
        await campaigns.get(campaign_id)
        return Stream(report_csv(db, campaign_id), media_type="text/csv; charset=utf-8",
                      headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'})

    @get("/{campaign_id:str}/events", summary="Live progress as server-sent events (counters, status changes)",
         responses=errors(400, 401, 404))
    async def events(self, campaign_id: str, campaigns: CampaignService) -> ServerSentEvent:
        await campaigns.get(campaign_id)
        return ServerSentEvent(progress_events(campaigns, campaign_id))


__all__ = ["CampaignController", "CampaignCreate", "RecipientOut", "progress_events"]
