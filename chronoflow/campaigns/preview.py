"""What a campaign would reach before it exists: the audience counted, and the message one contact gets.

Read-only: it answers from the same audience rules and template rendering the snapshot uses
(:mod:`chronoflow.campaigns.audience`, :func:`chronoflow.channels.render`), so the preview and the
rows written at start agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select

from chronoflow.campaigns.audience import Audience
from chronoflow.channels import MissingVariable, TemplateSyntaxError, render
from chronoflow.errors import InvalidInput
from chronoflow.store.engine import Database
from chronoflow.store.models import Contact, OptOut


@dataclass(frozen=True)
class AudiencePreview:
    """Contacts the tags select, those a send would reach, and the message for the first of them."""

    selected: int
    reachable: int
    phone: str | None
    message: str | None


async def preview_audience(db: Database, audience: object, template: str) -> AudiencePreview:
    """Count the audience and render ``template`` for its oldest reachable contact.

    Raises:
        InvalidInput: naming ``audience.<key>`` (unknown tag, no tag chosen) or ``messageTemplate``.
    """
    async with db.session() as session:
        chosen = await Audience.parse(audience, session)
        selected = int(await session.scalar(select(func.count()).select_from(Contact).where(chosen.selects())) or 0)
        reachable_clause: list[Any] = [chosen.selects(), ~exists().where(OptOut.number == Contact.phone)]
        excludes = chosen.excludes()
        if excludes is not None:
            reachable_clause.append(~excludes)
        reachable = int(await session.scalar(
            select(func.count()).select_from(Contact).where(*reachable_clause)) or 0)
        first = (await session.execute(
            select(Contact.phone, Contact.name, Contact.attributes).where(*reachable_clause)
            .order_by(Contact.created_at, Contact.id).limit(1))).first()
    if first is None or not template.strip():
        return AudiencePreview(selected, reachable, first[0] if first else None, None)
    phone, name, attributes = first
    try:
        message = render(template, {**(attributes or {}), "name": name, "phone": phone})
    except MissingVariable as exc:
        raise InvalidInput("messageTemplate", f"the first contact ({phone}) has no value for {{{{{exc.name}}}}}") \
            from None
    except TemplateSyntaxError as exc:
        raise InvalidInput("messageTemplate", str(exc)) from None
    return AudiencePreview(selected, reachable, phone, message)


__all__ = ["AudiencePreview", "preview_audience"]
