"""``GET /campaigns/{id}/report.csv``: every recipient row, with the contact's phone and name."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from chronoflow.spreadsheet_cells import guarded
from chronoflow.store.engine import Database
from chronoflow.store.models import CampaignRecipient, Contact

COLUMNS = ["phone", "name", "status", "channelId", "variant", "text", "sentText", "attempts", "providerMessageId",
           "error", "sentAt", "updatedAt"]
PAGE = 2000
"""Rows read per query while streaming."""


def _line(values: list[Any]) -> str:
    """One CSV record, as spreadsheets read it (CRLF, quoted when needed, None as empty, no formulas)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([guarded(value) if isinstance(value, str) else value
                                                      for value in values])
    return out.getvalue()


async def report_csv(db: Database, campaign_id: str) -> AsyncIterator[str]:
    """The report as CSV lines, read page by page (keyset on the row id)."""
    yield _line(COLUMNS)
    after = ""
    while True:
        async with db.session() as session:
            rows = (await session.execute(
                select(CampaignRecipient, Contact.name).outerjoin(Contact, Contact.id == CampaignRecipient.contact_id)
                .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.id > after)
                .order_by(CampaignRecipient.id).limit(PAGE))).all()
        if not rows:
            return
        for row, name in rows:
            yield _line([row.phone, name, row.status, row.channel_id, row.variant, row.text, row.sent_text, row.attempts,
                         row.provider_message_id, row.error, row.sent_at.isoformat() if row.sent_at else "",
                         row.updated_at.isoformat()])
        after = rows[-1][0].id


__all__ = ["report_csv"]
