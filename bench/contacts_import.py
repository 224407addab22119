"""Contact import speed on SQLite: 50,000 generated CSV rows through the import service, beside the
same rows written by one bare ``executemany`` on the same kind of database.

The import runs in-process through :func:`chronoflow.contacts.import_contacts`, the function
``POST /contacts/import`` calls: what is measured is parsing, normalizing, looking up stored
numbers and writing, not the loopback copy of a few megabytes of body. The peer is the floor any
import has to pay on this machine: one INSERT per row in one transaction, no parsing, no checks.
Each run gets a fresh, migrated SQLite file; the median of ``--runs`` runs is printed.

    python bench/contacts_import.py [--rows 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chronoflow.contacts import import_contacts
from chronoflow.store.engine import Database
from chronoflow.store.migrations import upgrade


def generated_csv(rows: int) -> bytes:
    """A Brazilian-spreadsheet-like file: semicolons, Portuguese headers, two tags, two attributes."""
    lines = ["telefone;nome;tags;plano;cidade"]
    for i in range(rows):
        lines.append(f"+55 (11) 9{i:08d};Cliente {i};{'vip' if i % 10 == 0 else 'lead'}|sp;"
                     f"{'ouro' if i % 3 else 'prata'};São Paulo")
    return ("\r\n".join(lines) + "\r\n").encode()


def import_once(data: bytes, directory: str) -> float:
    url = f"sqlite+aiosqlite:///{directory}/import.db"
    upgrade(url)

    async def run() -> float:
        db = Database(url)
        try:
            started = time.perf_counter()
            report = await import_contacts(db, data, source="body")
            elapsed = time.perf_counter() - started
        finally:
            await db.dispose()
        assert report.created == report.total and not report.rejected, report
        return elapsed

    return asyncio.run(run())


def executemany_once(rows: int, directory: str) -> float:
    """The same contacts, already normalized, in one ``executemany`` on a migrated file."""
    path = f"{directory}/bare.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    values = [(str(uuid.uuid4()), f"55119{i:08d}", f"Cliente {i}", json.dumps({"plano": "ouro", "cidade": "São Paulo"}),
               "unknown", "2026-12-02 00:00:00", "2026-12-02 00:00:00") for i in range(rows)]
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        started = time.perf_counter()
        with connection:
            connection.executemany("INSERT INTO contacts (id, phone, name, attributes, whatsapp, created_at, updated_at)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?)", values)
        return time.perf_counter() - started
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = generated_csv(args.rows)
    imports, bare = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as directory:
            imports.append(import_once(data, directory))
            bare.append(executemany_once(args.rows, directory))
    for label, times in (("import service (CSV -> contacts + tags)", imports),
                         ("bare executemany (contacts only)", bare)):
        median = statistics.median(times)
        print(f"{label:42s} {args.rows / median:10,.0f} rows/s  {median:6.2f} s  (median of {args.runs})")


if __name__ == "__main__":
    main()
