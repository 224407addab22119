"""Who a campaign selects: contacts by tags (any of ``tags``, all of ``allTags``), minus ``excludeTags``.

Excluded contacts are still part of the snapshot, as ``skipped`` rows with the reason, so the
report accounts for everyone the tags reached. The queries read the tag-first index of
``contact_tags`` (migration 0006).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, false, select, true

from chronoflow.errors import InvalidInput
from chronoflow.store.models import Contact, ContactTag, OptOut, Tag

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

AUDIENCE_KEYS = ("tags", "allTags", "excludeTags")
MAX_AUDIENCE_TAGS = 50


@dataclass(frozen=True)
class Audience:
    """Tag ids by role, and their names as the user gave them."""

    any_of: tuple[str, ...]
    all_of: tuple[str, ...]
    excluded: tuple[str, ...]
    names: dict[str, list[str]]

    @classmethod
    async def parse(cls, value: object, session: AsyncSession) -> Audience:
        """The audience object checked against the stored tags; InvalidInput names ``audience.<key>``."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise InvalidInput("audience", "must be an object {tags, allTags, excludeTags}")
        unknown = sorted(set(value) - set(AUDIENCE_KEYS))
        if unknown:
            raise InvalidInput(f"audience.{unknown[0]}", "is not an audience field (tags, allTags, excludeTags)")
        ids: dict[str, tuple[str, ...]] = {}
        names: dict[str, list[str]] = {}
        for key in AUDIENCE_KEYS:
            given = value.get(key) or []
            if not isinstance(given, list) or len(given) > MAX_AUDIENCE_TAGS:
                raise InvalidInput(f"audience.{key}", f"must be a list of at most {MAX_AUDIENCE_TAGS} tag names")
            if any(not isinstance(n, str) or not n.strip() for n in given):
                raise InvalidInput(f"audience.{key}", "must hold tag names (non-empty text)")
            wanted = sorted({n.strip() for n in given})
            found = dict((await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted)))).all()) \
                if wanted else {}
            missing = [n for n in wanted if n not in found]
            if missing:
                raise InvalidInput(f"audience.{key}", f"unknown tag {missing[0]!r}")
            ids[key], names[key] = tuple(found[n] for n in wanted), wanted
        if not ids["tags"] and not ids["allTags"]:
            raise InvalidInput("audience.tags", "choose the audience: at least one tag in tags or allTags")
        return cls(ids["tags"], ids["allTags"], ids["excludeTags"], names)

    @classmethod
    async def stored(cls, value: dict[str, Any], session: AsyncSession) -> Audience:
        """The audience of a stored campaign (tags renamed since resolve by their current names)."""
        return await cls.parse(value, session)

    def as_json(self) -> dict[str, list[str]]:
        return dict(self.names)

    def selects(self) -> Any:
        """The WHERE clause on :class:`Contact` of the selected contacts (exclusions included)."""
        clauses = [_tagged(tag_id) for tag_id in self.all_of]
        if self.any_of:
            clauses.append(exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag_id.in_(self.any_of)))
        return and_(true(), *clauses)

    def excludes(self) -> Any:
        """True for a selected contact carrying an excluded tag."""
        if not self.excluded:
            return None
        return exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag_id.in_(self.excluded))


def _tagged(tag_id: str) -> Any:
    return exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag_id == tag_id)


async def placeholder_holders(session: AsyncSession, audience: Audience, placeholder: str) -> bool:
    """Whether at least one selected contact has a value for ``placeholder`` (a name or an attribute)."""
    if placeholder == "name":
        has_value: Any = Contact.name.is_not(None)
    else:
        has_value = Contact.attributes[placeholder].as_string().is_not(None)
    found = await session.scalar(select(Contact.id).where(audience.selects(), has_value).limit(1))
    return found is not None


@dataclass(frozen=True)
class Member:
    """One selected contact as the snapshot needs it."""

    contact_id: str
    phone: str
    name: str | None
    attributes: dict[str, Any]
    whatsapp: str
    chat_id: str | None
    excluded: bool
    opted_out: bool


async def members(session: AsyncSession, audience: Audience) -> list[Member]:
    """Every selected contact, oldest first, in one query (a snapshot is written right after)."""
    excludes = audience.excludes()
    query = select(
        Contact.id, Contact.phone, Contact.name, Contact.attributes, Contact.whatsapp, Contact.whatsapp_chat_id,
        (excludes if excludes is not None else false()).label("excluded"),
        exists().where(OptOut.number == Contact.phone).label("opted_out"),
    ).where(audience.selects()).order_by(Contact.created_at, Contact.id)
    rows = await session.execute(query)
    return [Member(r[0], r[1], r[2], r[3] or {}, r[4], r[5], bool(r[6]), bool(r[7])) for r in rows]


__all__ = ["Audience", "Member", "members", "placeholder_holders"]
