"""``/contacts``: CRUD, CSV import and export, over :class:`~chronoflow.contacts.ContactService`.

Unknown tag names given with a contact are created. ``optedOut`` is read-only: it follows the
opt-out list by phone. ``POST /contacts/import`` takes the CSV as the body (``text/csv``) or as the
multipart field ``file``; its rules are :mod:`chronoflow.contacts.csv_import`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.response import Stream
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import UNSET, Struct, UnsetType

from chronoflow.api.openapi import checked, errors
from chronoflow.api.paging import Skip, Take
from chronoflow.api.schemas import Body, Page
from chronoflow.contacts import (
    MAX_CONTACT_NAME_CHARS,
    ContactRecord,
    ContactService,
    ImportReport,
    export_csv,
    import_contacts,
    split_tag_names,
    validate_contacts,
)
from chronoflow.config import Settings
from chronoflow.errors import InvalidInput
from chronoflow.store.engine import Database
from chronoflow.store.models import WhatsAppState

Phone = Annotated[str, checked(
    min_length=1, description="One number with its country code; stored as digits (Brazilian mobiles "
                              "with the ninth digit)", examples=["+55 11 98765-4321"])]
ContactName = Annotated[str, checked(max_length=MAX_CONTACT_NAME_CHARS)]
Attributes = Annotated[dict[str, Any], checked(
    description="Flat object of text, number, boolean or null values; keys are template placeholders "
                "(not phone, name or tags)", examples=[{"plano": "ouro", "vencimento": "10"}])]
TagNames = Annotated[list[str], checked(description="Tag names; unknown ones are created", examples=[["vip"]])]


class ContactCreate(Body):
    phone: Phone
    name: ContactName | None | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET
    tags: TagNames | UnsetType = UNSET


class ContactUpdate(Body):
    phone: Phone | UnsetType = UNSET
    name: ContactName | None | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET
    tags: TagNames | UnsetType = UNSET


class ContactOut(Struct, rename="camel"):
    id: str
    phone: str
    name: str | None
    attributes: dict[str, Any]
    tags: list[str]
    opted_out: bool
    whatsapp: Annotated[str, checked(enum=[state.value for state in WhatsAppState])]
    whatsapp_chat_id: str | None
    whatsapp_checked_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: ContactRecord) -> ContactOut:
        c = record.contact
        return cls(id=c.id, phone=c.phone, name=c.name, attributes=c.attributes, tags=record.tags,
                   opted_out=record.opted_out, whatsapp=c.whatsapp, whatsapp_chat_id=c.whatsapp_chat_id,
                   whatsapp_checked_at=c.whatsapp_checked_at, created_at=c.created_at, updated_at=c.updated_at)


class RejectedOut(Struct):
    line: int
    phone: str
    reason: str


class ImportOut(Struct):
    """Every non-blank line of the file, counted once: total = created + updated + unchanged + rejected."""

    total: int
    created: int
    updated: int
    unchanged: int
    rejected: list[RejectedOut]

    @classmethod
    def of(cls, report: ImportReport) -> ImportOut:
        return cls(total=report.total, created=report.created, updated=report.updated, unchanged=report.unchanged,
                   rejected=[RejectedOut(r.line, r.phone, r.reason) for r in report.rejected])


async def _csv_upload(request: Request[Any, Any, Any]) -> tuple[bytes, str]:
    """The CSV's bytes and the field that carried it: the multipart field ``file``, else the body."""
    content_type, _ = request.content_type
    if content_type == RequestEncodingType.MULTI_PART:
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("file", "send the CSV as the multipart file field named file")
        return await upload.read(), "file"
    if content_type not in ("text/csv", "text/plain", "application/octet-stream"):
        raise InvalidInput("body", "send the CSV as the body with Content-Type text/csv, or as multipart field file")
    return await request.body(), "body"


class ValidateIn(Body):
    channel_id: Annotated[str, checked(min_length=1, description="id of the channel whose gateway checks")]
    contact_ids: Annotated[list[str], checked(description="contacts to check (else those with tag, else all)",
                                              max_items=1000)] | UnsetType = UNSET
    tag: Annotated[str, checked(description="check the contacts with this tag")] | UnsetType = UNSET


class ValidateOut(Struct):
    checked: int
    valid: int
    invalid: int


TagsQuery = Annotated[str | None, Parameter(description="comma-separated tag names added to every line")]


class ContactController(Controller):
    path = "/contacts"
    tags = ["contacts"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", status_code=HTTP_201_CREATED, summary="Create a contact",
          responses=errors(400, 401, 409, 413, 422))
    async def create(self, data: ContactCreate, db: Database) -> ContactOut:
        return ContactOut.of(await ContactService(db).create(data.fields()))

    @get("/", summary="List contacts, newest first", responses=errors(400, 401, 422))
    async def list_contacts(
        self, db: Database, skip: Skip = 0, take: Take = 50,
        tag: Annotated[str | None, Parameter(description="only contacts with this tag name")] = None,
        q: Annotated[str | None, Parameter(description="text in the name, or digits in the phone",
                                           max_length=100)] = None,
        opted_out: Annotated[bool | None, Parameter(query="optedOut")] = None,
    ) -> Page[ContactOut]:
        rows, total = await ContactService(db).list(skip, take, tag=tag, q=q, opted_out=opted_out)
        return Page(items=[ContactOut.of(r) for r in rows], total=total, skip=skip, take=take)

    @post("/import", status_code=200, responses=errors(400, 401, 413, 422),
          summary="Import contacts from a CSV (body text/csv, or multipart field file)",
          description="UTF-8 (BOM or not), comma or semicolon. Columns: phone (or telefone, celular, whatsapp), "
                      "name (or nome), tags (separated by ; or |); any other column is an attribute. "
                      "The answer accounts for every non-blank line.")
    async def import_csv(
        self, request: Request[Any, Any, Any], db: Database, tags: TagsQuery = None,
        update: Annotated[bool, Parameter(description="update contacts whose number is stored")] = False,
    ) -> ImportOut:
        extra = split_tag_names(tags)
        data, source = await _csv_upload(request)
        return ImportOut.of(await import_contacts(db, data, source=source, extra_tags=extra, update_existing=update))

    @get("/export", summary="Export contacts as CSV (phone, name, tags, then one column per attribute)",
         responses=errors(400, 401), media_type="text/csv")
    async def export(
        self, db: Database, tag: Annotated[str | None, Parameter(description="only contacts with this tag")] = None,
    ) -> Stream:
        return Stream(export_csv(db, tag), media_type="text/csv; charset=utf-8",
                      headers={"Content-Disposition": 'attachment; filename="contacts.csv"'})

    @post("/validate", status_code=200, responses=errors(400, 401, 404, 409, 413, 422, 502),
          summary="Check contacts' numbers on WhatsApp through a channel; stores valid/invalid and the chat id")
    async def validate(self, data: ValidateIn, db: Database, settings: Settings) -> ValidateOut:
        fields = data.fields()
        report = await validate_contacts(db, settings, data.channel_id, fields.get("contactIds"), fields.get("tag"))
        return ValidateOut(checked=report.checked, valid=report.valid, invalid=report.invalid)

    @get("/{contact_id:str}", summary="Read a contact", responses=errors(400, 401, 404))
    async def read(self, contact_id: str, db: Database) -> ContactOut:
        return ContactOut.of(await ContactService(db).get(contact_id))

    @patch("/{contact_id:str}", summary="Change a contact; attributes and tags replace the stored ones",
           responses=errors(400, 401, 404, 409, 413, 422))
    async def update(self, contact_id: str, data: ContactUpdate, db: Database) -> ContactOut:
        return ContactOut.of(await ContactService(db).update(contact_id, data.fields()))

    @delete("/{contact_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a contact",
            responses=errors(400, 401, 404))
    async def remove(self, contact_id: str, db: Database) -> None:
        await ContactService(db).delete(contact_id)


__all__ = ["ContactController", "ContactOut"]
