"""Campaigns: the list (progress, rate, ETA), the create form with its audience and message preview,
and the detail page with live counters, the recipients by status, the actions and the report.

Every action is the ``/campaigns`` route's own service call (:class:`CampaignService`), the form
is decoded into the API's :class:`CampaignCreate`, and the live counters are the very event stream
``GET /campaigns/{id}/events`` sends, served here behind the console's cookie (``EventSource``
cannot send a bearer token).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Response, ServerSentEvent, Stream, Template

from chronoflow.api.campaigns import CampaignCreate, CampaignOut, RecipientOut, progress_events
from chronoflow.api.paging import MAX_SKIP
from chronoflow.campaigns import CampaignService, report_csv
from chronoflow.campaigns.preview import preview_audience
from chronoflow.campaigns.window import DAYS
from chronoflow.channels.service import ChannelService
from chronoflow.config import Settings
from chronoflow.console.forms import choices, decoded, posted, without_unset
from chronoflow.console.rendering import page, refusal, refused
from chronoflow.console.session import PREFIX
from chronoflow.contacts import TagService
from chronoflow.errors import ChronoflowError, InvalidInput
from chronoflow.scheduling.jobs import JobStore
from chronoflow.store.engine import Database
from chronoflow.store.models import CampaignStatus, RecipientStatus

AnyRequest = Request[Any, Any, Any]
PAGE_SIZE = 20
"""Campaigns, and recipient rows, per page."""
ACTIONS = ("start", "pause", "resume", "cancel", "retry-failed")
VARIANT_SEPARATOR = "---"
"""A line holding only this separates two variants (a message may span lines)."""

Skip = Annotated[int, Parameter(ge=0, le=MAX_SKIP)]


def _number(fields: dict[str, str], name: str, kind: type[float | int]) -> Any:
    """A number input; blank is absent, anything else that is not a number is InvalidInput naming it."""
    text = fields.get(name, "").strip()
    if not text:
        return msgspec.UNSET
    try:
        return kind(text.replace(",", ".") if kind is float else text)
    except ValueError:
        raise InvalidInput(name, f"must be {'a number' if kind is float else 'a whole number'}") from None


def _variants(text: str) -> list[str]:
    """The variants textarea split at its ``---`` lines, blanks dropped."""
    parts: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip() == VARIANT_SEPARATOR:
            parts.append("\n".join(current).strip())
            current = []
        else:
            current.append(line)
    parts.append("\n".join(current).strip())
    return [part for part in parts if part]


def _tags(fields: dict[str, str], name: str) -> list[str]:
    """A comma-separated tag input as the API's list (checked by the audience rules)."""
    return [part.strip() for part in fields.get(name, "").split(",") if part.strip()]


def audience_of(fields: dict[str, str]) -> dict[str, list[str]]:
    """The audience object from its three comma-separated inputs."""
    return {"tags": _tags(fields, "tags"), "allTags": _tags(fields, "allTags"),
            "excludeTags": _tags(fields, "excludeTags")}


def campaign_fields(fields: dict[str, str], channel_ids: list[str], days: list[str]) -> dict[str, Any]:
    """The create form as the API's camelCase body; blank inputs are left to the API's defaults."""
    window: Any = msgspec.UNSET
    if fields.get("windowStart") or fields.get("windowEnd"):
        window = {"start": fields.get("windowStart", ""), "end": fields.get("windowEnd", ""),
                  "days": days or list(DAYS), "timezone": fields.get("windowTimezone") or None}
    return without_unset({
        "name": fields.get("name", ""), "channelIds": channel_ids, "messageTemplate": fields.get("messageTemplate", ""),
        "variants": _variants(fields.get("variants", "")), "audience": audience_of(fields),
        "delayMinSeconds": _number(fields, "delayMinSeconds", float),
        "delayMaxSeconds": _number(fields, "delayMaxSeconds", float), "window": window,
        "dailyQuotaPerChannel": _number(fields, "dailyQuotaPerChannel", int),
        "hourlyQuotaPerChannel": _number(fields, "hourlyQuotaPerChannel", int),
        "startAt": fields.get("startAt", "").strip() or msgspec.UNSET,
    })


def done_share(campaign: CampaignOut) -> int:
    """Rows no longer waiting: what the progress bar fills."""
    return campaign.total - campaign.pending - campaign.sending


class CampaignPages(Controller):
    path = f"{PREFIX}/campaigns"

    @staticmethod
    def _service(db: Database, jobs: JobStore, settings: Settings) -> CampaignService:
        return CampaignService(db, jobs, settings)

    @staticmethod
    async def _choices(db: Database, settings: Settings) -> dict[str, Any]:
        channels, _ = await ChannelService(db, settings).list(0, 100, None)
        tags, _ = await TagService(db).list(0, 200)
        return {"channels": channels, "tags": [tag.name for tag, _ in tags], "days": DAYS}

    @get("/")
    async def list_page(self, request: AnyRequest, db: Database, jobs: JobStore, settings: Settings,
                        skip: Skip = 0) -> Template:
        service = self._service(db, jobs, settings)
        rows, total = await service.list(skip, PAGE_SIZE, None)
        campaigns = [CampaignOut.of(*await service.with_progress(c.id)) for c in rows]
        return page(request, "campaigns.html", campaigns=campaigns, total=total, skip=skip, take=PAGE_SIZE,
                    done=done_share)

    @get("/new")
    async def new_form(self, request: AnyRequest, db: Database, settings: Settings) -> Template:
        values = {"delayMinSeconds": "20", "delayMaxSeconds": "60"}
        return page(request, "campaign_form.html", values=values, chosen=[], chosen_days=list(DAYS),
                    **await self._choices(db, settings))

    @post("/new", status_code=303)
    async def create(self, request: AnyRequest, db: Database, jobs: JobStore, settings: Settings) -> Any:
        fields = await posted(request)
        channel_ids, days = await choices(request, "channelIds"), await choices(request, "days")
        try:
            body = decoded(campaign_fields(fields, channel_ids, days), CampaignCreate)
            campaign = await self._service(db, jobs, settings).create(body.fields())
        except ChronoflowError as exc:
            return refused(request, "campaign_form.html", exc, values=fields, chosen=channel_ids,
                           chosen_days=days, **await self._choices(db, settings))
        return Redirect(f"{PREFIX}/campaigns/{campaign.id}", status_code=303)

    @post("/preview", status_code=200)
    async def preview(self, request: AnyRequest, db: Database) -> Response[Any]:
        """How many contacts the audience reaches and the message its first contact gets, as the form is filled."""
        fields = await posted(request)
        found = await preview_audience(db, audience_of(fields), fields.get("messageTemplate", ""))
        return Response({"selected": found.selected, "reachable": found.reachable, "phone": found.phone,
                         "message": found.message})

    async def _detail(self, request: AnyRequest, service: CampaignService, campaign_id: str, status: str | None,
                      skip: int, **extra: Any) -> Template:
        campaign = CampaignOut.of(*await service.with_progress(campaign_id))
        rows, total = await service.recipients(campaign_id, status, skip, PAGE_SIZE)
        extra.setdefault("values", {})
        return page(request, "campaign.html", campaign=campaign,
                    recipients=[RecipientOut.of(r) for r in rows], recipients_total=total, skip=skip,
                    take=PAGE_SIZE, status=status or "", statuses=[s.value for s in RecipientStatus],
                    done=done_share(campaign), final=campaign.status in (CampaignStatus.COMPLETED,
                                                                         CampaignStatus.CANCELLED), **extra)

    @get("/{campaign_id:str}")
    async def detail(self, request: AnyRequest, campaign_id: str, db: Database, jobs: JobStore, settings: Settings,
                     skip: Skip = 0, status: Annotated[str | None, Parameter(max_length=20)] = None) -> Template:
        chosen = status if status in {s.value for s in RecipientStatus} else None
        return await self._detail(request, self._service(db, jobs, settings), campaign_id, chosen, skip)

    @get("/{campaign_id:str}/events")
    async def events(self, campaign_id: str, db: Database, jobs: JobStore, settings: Settings) -> ServerSentEvent:
        """``GET /campaigns/{id}/events`` for the page's ``EventSource``."""
        service = self._service(db, jobs, settings)
        await service.get(campaign_id)
        return ServerSentEvent(progress_events(service, campaign_id))

    @get("/{campaign_id:str}/report.csv", media_type="text/csv")
    async def report(self, campaign_id: str, db: Database, jobs: JobStore, settings: Settings) -> Stream:
        await self._service(db, jobs, settings).get(campaign_id)
        return Stream(report_csv(db, campaign_id), media_type="text/csv; charset=utf-8",
                      headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'})

    @post("/{campaign_id:str}/test", status_code=200)
    async def test_send(self, request: AnyRequest, campaign_id: str, db: Database, jobs: JobStore,
                        settings: Settings) -> Template:
        """Send the rendered message to one number now, as ``POST /campaigns/{id}/test`` does."""
        fields = await posted(request)
        service = self._service(db, jobs, settings)
        try:
            sent = await service.send_test(campaign_id, fields.get("phone", ""))
        except ChronoflowError as exc:
            return await self._detail(request, service, campaign_id, None, 0, values=fields, **refusal(exc))
        return await self._detail(request, service, campaign_id, None, 0, values=fields, test_sent=sent)

    @post("/{campaign_id:str}/{action:str}", status_code=303)
    async def act(self, request: AnyRequest, campaign_id: str, action: str, db: Database, jobs: JobStore,
                  settings: Settings) -> Any:
        """Start, Pause, Resume, Cancel or Retry failed: the API's operation of the same name."""
        await posted(request)
        service = self._service(db, jobs, settings)
        await service.get(campaign_id)
        try:
            if action in ACTIONS:
                await getattr(service, action.replace("-", "_"))(campaign_id)
        except ChronoflowError as exc:
            return await self._detail(request, service, campaign_id, None, 0, **refusal(exc))
        return Redirect(f"{PREFIX}/campaigns/{campaign_id}", status_code=303)
