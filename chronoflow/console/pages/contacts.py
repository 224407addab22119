"""Contacts and tags: the list (tag filter, search, pages), CSV import with its per-line report,
export, validation of numbers through a channel, and creating and deleting tags.

Each action calls what the ``/contacts`` and ``/tags`` routes call (:mod:`chronoflow.contacts`),
so the console accepts and refuses exactly what the API does, with the same field names.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Stream, Template

from chronoflow.api.contacts import ContactOut, ImportOut
from chronoflow.api.paging import MAX_SKIP
from chronoflow.channels.service import ChannelService
from chronoflow.config import Settings
from chronoflow.console.forms import posted, upload
from chronoflow.console.rendering import page, refused
from chronoflow.console.session import PREFIX
from chronoflow.contacts import (
    ContactService,
    TagService,
    export_csv,
    import_contacts,
    split_tag_names,
    validate_contacts,
)
from chronoflow.errors import ChronoflowError
from chronoflow.store.engine import Database

AnyRequest = Request[Any, Any, Any]
PAGE_SIZE = 25
"""Contacts per page."""
TAGS_SHOWN = 200
"""Tags in the filter and the tag list: a team's vocabulary, not its audience."""

Skip = Annotated[int, Parameter(ge=0, le=MAX_SKIP)]


class ContactPages(Controller):
    path = f"{PREFIX}/contacts"

    @staticmethod
    async def _listing(db: Database, settings: Settings, skip: int = 0, tag: str | None = None,
                       q: str | None = None) -> dict[str, Any]:
        """What the contacts page shows besides a report: a page of contacts, the tags, the channels."""
        rows, total = await ContactService(db).list(skip, PAGE_SIZE, tag=tag or None, q=q or None)
        tags, _ = await TagService(db).list(0, TAGS_SHOWN)
        channels, _ = await ChannelService(db, settings).list(0, 100, None)
        return {"contacts": [ContactOut.of(r) for r in rows], "total": total, "skip": skip, "take": PAGE_SIZE,
                "tag": tag or "", "q": q or "", "tags": tags, "channels": channels}

    async def _again(self, request: AnyRequest, db: Database, settings: Settings, exc: ChronoflowError,
                     fields: dict[str, str]) -> Template:
        return refused(request, "contacts.html", exc, values=fields, **await self._listing(db, settings))

    @get("/")
    async def list_page(self, request: AnyRequest, db: Database, settings: Settings, skip: Skip = 0,
                        tag: Annotated[str | None, Parameter(max_length=100)] = None,
                        q: Annotated[str | None, Parameter(max_length=100)] = None) -> Template:
        return page(request, "contacts.html", values={}, **await self._listing(db, settings, skip, tag, q))

    @post("/import", status_code=200)
    async def import_csv(self, request: AnyRequest, db: Database, settings: Settings) -> Template:
        """The file and its report on every line, as ``POST /contacts/import`` answers it."""
        fields = await posted(request)
        try:
            data = await upload(request, "file")
            report = await import_contacts(db, data, source="file", extra_tags=split_tag_names(fields.get("tags")),
                                           update_existing=fields.get("update") == "yes")
        except ChronoflowError as exc:
            return await self._again(request, db, settings, exc, fields)
        return page(request, "contacts.html", values=fields, report=ImportOut.of(report),
                    **await self._listing(db, settings))

    @get("/export", media_type="text/csv")
    async def export(self, db: Database, tag: Annotated[str | None, Parameter(max_length=100)] = None) -> Stream:
        return Stream(export_csv(db, tag or None), media_type="text/csv; charset=utf-8",
                      headers={"Content-Disposition": 'attachment; filename="contacts.csv"'})

    @post("/validate", status_code=200)
    async def validate(self, request: AnyRequest, db: Database, settings: Settings) -> Template:
        """Check the numbers (those with the tag chosen, else all) through a channel's gateway."""
        fields = await posted(request)
        try:
            checked = await validate_contacts(db, settings, fields.get("channelId") or None, None,
                                              fields.get("tag") or None)
        except ChronoflowError as exc:
            return await self._again(request, db, settings, exc, fields)
        return page(request, "contacts.html", values=fields, validation=checked, **await self._listing(db, settings))

    @post("/tags", status_code=303)
    async def create_tag(self, request: AnyRequest, db: Database, settings: Settings) -> Any:
        fields = await posted(request)
        try:
            await TagService(db).create(fields.get("name", ""))
        except ChronoflowError as exc:
            return await self._again(request, db, settings, exc, fields)
        return Redirect(f"{PREFIX}/contacts/", status_code=303)

    @post("/tags/{tag_id:str}/delete", status_code=303)
    async def delete_tag(self, request: AnyRequest, tag_id: str, db: Database) -> Redirect:
        await posted(request)
        await TagService(db).delete(tag_id)
        return Redirect(f"{PREFIX}/contacts/", status_code=303)
