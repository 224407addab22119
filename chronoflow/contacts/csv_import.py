"""Contacts from a CSV file, as spreadsheets export them, in a few batched statements.

The first line names the columns, in any case: ``phone`` (or ``telefone``, ``celular``,
``whatsapp``; required), ``name`` (or ``nome``), ``tags`` (names separated by ``;`` or ``|``);
every other column is an attribute. The text is UTF-8 with or without a byte-order mark; the
delimiter (comma or semicolon, as Brazilian spreadsheets use) is detected by :class:`csv.Sniffer`
and confirmed by the header naming a phone column.

Every line that is not blank is accounted for: ``created``, ``updated``, ``unchanged`` or
``rejected`` with its line number and reason. A later line with a number already seen in the file
is rejected, naming the first. Without ``update``, a number already stored is ``unchanged``;
with it, the line's name and non-empty attributes are written and its tags added.

A cell starting with an apostrophe followed by ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return loses the apostrophe: the export writes cells that way so spreadsheets do not run them as
formulas (:mod:`chronoflow.spreadsheet_cells`), and an exported file imports to the same values.

A file that cannot be read as a whole (not UTF-8, no header, no phone column) stores nothing.
Writes are bulk statements (``executemany``), never one ORM object per line, so 50,000 lines take
seconds on SQLite.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chronoflow.channels import InvalidPhoneNumber, normalize_number
from chronoflow.contacts.fields import (
    MAX_ATTRIBUTE_KEY_CHARS,
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_ATTRIBUTES,
    MAX_CONTACT_NAME_CHARS,
    RESERVED_KEYS,
    checked_tag_name,
)
from chronoflow.contacts.tags import QUERY_CHUNK, insert_ignoring, tag_ids
from chronoflow.errors import InvalidInput
from chronoflow.spreadsheet_cells import unguarded
from chronoflow.store.engine import Database, utcnow
from chronoflow.store.models import Contact, ContactTag, WhatsAppState, new_id

__all__ = ["NAME_COLUMNS", "PHONE_COLUMNS", "ImportReport", "Rejected", "import_contacts", "read_rows"]

PHONE_COLUMNS = ("phone", "telefone", "celular", "whatsapp")
"""Header names of the phone column (any case); the first such column is the phone."""
NAME_COLUMNS = ("name", "nome")
"""Header names of the name column (any case)."""
TAGS_COLUMN = "tags"
_TAG_SPLIT = re.compile(r"[;|]")
_DELIMITERS = ",;"
_SNIFF_CHARS = 64 * 1024
"""How much of the file the sniffer reads to pick the delimiter."""

CONTACTS = Contact.__table__
LINKS = ContactTag.__table__


@dataclass(frozen=True)
class Rejected:
    """A line that was not stored, and why."""

    line: int
    phone: str
    reason: str


@dataclass
class ImportReport:
    """What happened to every non-blank line of the file."""

    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """One readable line: normalized phone, name (``None``: keep), tags, non-empty attributes."""

    line: int
    phone: str
    name: str | None
    tags: tuple[str, ...]
    attributes: dict[str, str]


@dataclass(frozen=True)
class _Columns:
    phone: int
    name: int | None
    tags: int | None
    attributes: tuple[tuple[int, str], ...]
    width: int


def _decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(source, f"is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise InvalidInput(source, "is empty; its first line must name the columns (phone, name, tags…)")
    return text


def _columns(header: list[str], source: str) -> _Columns | None:
    """Where each column is, or ``None`` when the header names no phone column."""
    names = [cell.strip() for cell in header]
    lowered = [name.lower() for name in names]
    phone = next((i for i, name in enumerate(lowered) if name in PHONE_COLUMNS), None)
    if phone is None:
        return None
    name = next((i for i, n in enumerate(lowered) if n in NAME_COLUMNS), None)
    tags = lowered.index(TAGS_COLUMN) if TAGS_COLUMN in lowered else None
    seen: set[str] = set()
    attributes = []
    for i, key in enumerate(names):
        if not key or i in (phone, name, tags):
            continue
        if lowered[i] in seen:
            raise InvalidInput(source, f"column {key!r} appears twice")
        seen.add(lowered[i])
        if len(key) > MAX_ATTRIBUTE_KEY_CHARS or lowered[i] in RESERVED_KEYS:
            raise InvalidInput(source, f"column {key[:20]!r} cannot be an attribute (1-{MAX_ATTRIBUTE_KEY_CHARS} "
                                       "characters, not phone, name or tags)")
        attributes.append((i, key))
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInput(source, f"at most {MAX_ATTRIBUTES} attribute columns")
    return _Columns(phone, name, tags, tuple(attributes), len(names))


class _Unguarding:
    """A csv reader whose cells lose the apostrophe the export puts before a formula start."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    @property
    def line_num(self) -> int:
        return int(self._reader.line_num)

    def __iter__(self) -> _Unguarding:
        return self

    def __next__(self) -> list[str]:
        return [unguarded(cell) for cell in next(self._reader)]


def _reader(text: str, source: str) -> tuple[Any, _Columns]:
    """A csv reader past the header, and the columns; the sniffer's delimiter first, then the other."""
    try:
        sniffed = csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = ","
    for delimiter in dict.fromkeys([sniffed, *_DELIMITERS]):
        reader = _Unguarding(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
        header = next(reader, [])
        columns = _columns(header, source)
        if columns is not None:
            return reader, columns
    raise InvalidInput(source, f"has no phone column: the first line must name one of {', '.join(PHONE_COLUMNS)}")


def read_rows(data: bytes, source: str, extra_tags: tuple[str, ...], report: ImportReport) -> Iterator[Row]:
    """The readable lines of ``data``; unreadable ones go to ``report.rejected``.

    Raises:
        InvalidInput: naming ``source`` (``body`` or ``file``) when the file as a whole is unusable;
            raised before the first row is yielded.
    """
    reader, columns = _reader(_decode(data, source), source)
    return _rows(reader, columns, extra_tags, report)


def _rows(reader: Any, columns: _Columns, extra_tags: tuple[str, ...], report: ImportReport) -> Iterator[Row]:
    first_line: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (spreadsheets end with ";;;" lines) are not data
        report.total += 1
        raw_phone = cells[columns.phone].strip() if columns.phone < len(cells) else ""
        try:
            row = _row(line, cells, raw_phone, columns, extra_tags)
        except (InvalidInput, InvalidPhoneNumber) as exc:
            reason = exc.reason if isinstance(exc, InvalidPhoneNumber) else exc.problem
            report.rejected.append(Rejected(line, raw_phone, reason))
            continue
        if row.phone in first_line:
            report.rejected.append(Rejected(line, raw_phone, f"same number as line {first_line[row.phone]}"))
            continue
        first_line[row.phone] = line
        yield row


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _row(line: int, cells: list[str], raw_phone: str, columns: _Columns, extra_tags: tuple[str, ...]) -> Row:
    if len(cells) > columns.width and any(cell.strip() for cell in cells[columns.width:]):
        raise InvalidInput("line", f"has {len(cells)} cells, the header names {columns.width} columns")
    if not raw_phone:
        raise InvalidInput("phone", "no phone number")
    phone = normalize_number(raw_phone)
    name = _cell(cells, columns.name)
    if len(name) > MAX_CONTACT_NAME_CHARS:
        raise InvalidInput("name", f"name longer than {MAX_CONTACT_NAME_CHARS} characters")
    tags = [checked_tag_name(t, "tags") for t in _TAG_SPLIT.split(_cell(cells, columns.tags)) if t.strip()]
    attributes = {}
    for index, key in columns.attributes:
        value = _cell(cells, index)
        if len(value) > MAX_ATTRIBUTE_VALUE_CHARS:
            raise InvalidInput(key, f"{key!r} longer than {MAX_ATTRIBUTE_VALUE_CHARS} characters")
        if value:
            attributes[key] = value
    return Row(line, phone, name or None, tuple(dict.fromkeys([*extra_tags, *tags])), attributes)


async def import_contacts(db: Database, data: bytes, *, source: str, extra_tags: tuple[str, ...] = (),
                          update_existing: bool = False) -> ImportReport:
    """Store the contacts of a CSV file in one transaction and report on every line.

    Args:
        db: the database.
        data: the file's bytes.
        source: how the file arrived (``body`` or ``file``): the field errors name.
        extra_tags: checked tag names added to every line.
        update_existing: whether lines for stored numbers change those contacts.

    Raises:
        InvalidInput: naming ``source`` when the file as a whole is unusable; nothing is stored.
    """
    report = ImportReport()
    rows = list(read_rows(data, source, extra_tags, report))
    async with db.session() as session:
        tags = await tag_ids(session, {t for row in rows for t in row.tags})
        stored = await _stored(session, [row.phone for row in rows], with_tags=update_existing)
        now = utcnow()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        links: list[dict[str, str]] = []
        for row in rows:
            wanted = {tags[t] for t in row.tags}
            existing = stored.get(row.phone)
            if existing is None:
                ident = new_id()
                inserts.append({"id": ident, "phone": row.phone, "name": row.name, "attributes": row.attributes,
                                "whatsapp": WhatsAppState.UNKNOWN.value, "created_at": now, "updated_at": now})
                links += [{"contact_id": ident, "tag_id": t} for t in wanted]
                report.created += 1
                continue
            ident, name, attributes, current_tags = existing
            merged = {**attributes, **row.attributes}
            new_name = row.name if row.name is not None else name
            new_tags = wanted - current_tags
            if not update_existing or (new_name == name and merged == attributes and not new_tags):
                report.unchanged += 1
                continue
            updates.append({"b_id": ident, "b_name": new_name, "b_attributes": merged, "b_updated_at": now})
            links += [{"contact_id": ident, "tag_id": t} for t in new_tags]
            report.updated += 1
        if inserts:
            await _insert_many(session, inserts)
        if updates:
            await session.execute(
                update(CONTACTS).where(CONTACTS.c.id == bindparam("b_id")).values(
                    name=bindparam("b_name"), attributes=bindparam("b_attributes"),
                    updated_at=bindparam("b_updated_at")),
                updates,
            )
        if links:
            await session.execute(insert_ignoring(session, LINKS, ["contact_id", "tag_id"]), links)
    report.rejected.sort(key=lambda r: r.line)
    return report


async def _insert_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """One driver-level ``executemany`` of new contacts.

    SQLAlchemy's own executemany converts every value of every row through its column type; here
    the timestamps (the same for every row) are converted once and only ``attributes`` per row,
    through the same type processors, so the stored values are identical.
    """
    connection = await session.connection()
    dialect = connection.dialect
    compiled = insert(CONTACTS).values({key: bindparam(key) for key in rows[0]}).compile(dialect=dialect)
    order = list(compiled.positiontup or [])
    processors = {key: CONTACTS.c[key].type.bind_processor(dialect) for key in order}
    constants = {"created_at", "updated_at", "whatsapp"}
    converted = {key: (processors[key] or (lambda v: v))(rows[0][key]) for key in constants}
    attributes = processors["attributes"] or (lambda v: v)
    values = [tuple(converted[key] if key in constants else attributes(row[key]) if key == "attributes"
                    else row[key] for key in order) for row in rows]
    await connection.exec_driver_sql(str(compiled), values)


async def _stored(session: AsyncSession, phones: list[str], *, with_tags: bool
                  ) -> dict[str, tuple[str, str | None, dict[str, Any], set[str]]]:
    """Stored contacts among ``phones``: id, name, attributes and (when asked) tag ids, by phone."""
    found: dict[str, tuple[str, str | None, dict[str, Any], set[str]]] = {}
    for start in range(0, len(phones), QUERY_CHUNK):
        rows = await session.execute(select(CONTACTS.c.phone, CONTACTS.c.id, CONTACTS.c.name, CONTACTS.c.attributes)
                                     .where(CONTACTS.c.phone.in_(phones[start : start + QUERY_CHUNK])))
        for phone, ident, name, attributes in rows:
            found[phone] = (ident, name, attributes or {}, set())
    if with_tags and found:
        by_id = {value[0]: value[3] for value in found.values()}
        ids = list(by_id)
        for start in range(0, len(ids), QUERY_CHUNK):
            rows = await session.execute(select(LINKS.c.contact_id, LINKS.c.tag_id)
                                         .where(LINKS.c.contact_id.in_(ids[start : start + QUERY_CHUNK])))
            for contact_id, tag_id in rows:
                by_id[contact_id].add(tag_id)
    return found
