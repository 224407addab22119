"""``/tags``: CRUD of contact tags, over :class:`~chronoflow.contacts.TagService`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.status_codes import HTTP_204_NO_CONTENT
from msgspec import Struct

from chronoflow.api.openapi import NOT_BLANK, checked, errors
from chronoflow.api.paging import Skip, Take
from chronoflow.api.schemas import Body, Page
from chronoflow.contacts import MAX_TAG_NAME_CHARS, TagService
from chronoflow.store.engine import Database
from chronoflow.store.models import Tag

TagName = Annotated[str, checked(min_length=1, max_length=MAX_TAG_NAME_CHARS, pattern=NOT_BLANK,
                                 description="Unique; no , ; or | (they separate tags in CSV cells)",
                                 examples=["vip"])]


class TagIn(Body):
    name: TagName


class TagOut(Struct, rename="camel"):
    id: str
    name: str
    contact_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, tag: Tag, count: int) -> TagOut:
        return cls(id=tag.id, name=tag.name, contact_count=count, created_at=tag.created_at,
                   updated_at=tag.updated_at)


class TagController(Controller):
    path = "/tags"
    tags = ["contacts"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", summary="Create a tag", responses=errors(400, 401, 409, 413, 422))
    async def create(self, data: TagIn, db: Database) -> TagOut:
        return TagOut.of(*await TagService(db).create(data.name))

    @get("/", summary="List tags by name, with how many contacts carry each", responses=errors(400, 401))
    async def list_tags(self, db: Database, skip: Skip = 0, take: Take = 50) -> Page[TagOut]:
        rows, total = await TagService(db).list(skip, take)
        return Page(items=[TagOut.of(tag, n) for tag, n in rows], total=total, skip=skip, take=take)

    @get("/{tag_id:str}", summary="Read a tag", responses=errors(400, 401, 404))
    async def read(self, tag_id: str, db: Database) -> TagOut:
        return TagOut.of(*await TagService(db).get(tag_id))

    @patch("/{tag_id:str}", summary="Rename a tag", responses=errors(400, 401, 404, 409, 413, 422))
    async def rename(self, tag_id: str, data: TagIn, db: Database) -> TagOut:
        return TagOut.of(*await TagService(db).rename(tag_id, data.name))

    @delete("/{tag_id:str}", status_code=HTTP_204_NO_CONTENT, summary="Delete a tag (its contacts stay)",
            responses=errors(400, 401, 404))
    async def remove(self, tag_id: str, db: Database) -> None:
        await TagService(db).delete(tag_id)


__all__ = ["TagController", "TagOut"]
