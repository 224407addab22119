"""Group commit: the writes of many coroutines, committed together.

A worker holding many runs claims and records each of them in a write transaction of its own, and
on SQLite those transactions take turns on the one write lock, so a burst of short runs was bound
by the turns, not by the work. :class:`WriteBatcher` queues each unit of work and writes every
unit that arrived while the previous transaction was being written in the next one: one lock
turn, one commit. A unit that fails spoils its batch, which is then written again one unit per
transaction, so only that unit's caller sees the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from chronoflow.store.engine import Database

T = TypeVar("T")

log = logging.getLogger(__name__)

BATCH_LIMIT = 64
"""Units of work in one transaction at most: a longer one would hold the write lock longer than
the API's writers should wait for it."""


class WriteBatcher:
    """Writes through :meth:`Database.write`, many callers' units of work per transaction.

    ``write`` has :meth:`Database.write`'s signature, so code written against one takes the other.
    """

    def __init__(self, db: Database, limit: int = BATCH_LIMIT,
                 before_commit: Callable[[Connection, list[Any]], None] | None = None) -> None:
        """
        Args:
            before_commit: called inside each transaction after its units, with their results: what
                the batch writes in one go (many rows in one statement, many Redis writes in one round
                trip). If it raises, the batch is written again one unit at a time, as for a failing unit.
        """
        if limit < 1:
            raise ValueError(f"a batch limit must be at least 1, not {limit}")
        self.db = db
        self.limit = limit
        self.before_commit = before_commit
        self._pending: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` in the next batch's transaction and return its result once committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_batches())
        return await future

    async def _write_batches(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:self.limit], self._pending[self.limit:]
                try:
                    results = await self.db.write(partial(self._run, batch))
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], exc=exc)
                        continue
                    log.debug("a batch of %d writes failed; writing them one by one", len(batch), exc_info=True)
                    await self._write_one_by_one(batch)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    _settle(future, result)
        finally:
            self._writer = None

    async def _write_one_by_one(self, batch: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]]) -> None:
        for unit in batch:
            try:
                [result] = await self.db.write(partial(self._run, [unit]))
            except Exception as exc:
                _settle(unit[1], exc=exc)
            else:
                _settle(unit[1], result)

    def _run(self, batch: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]], conn: Connection) -> list[Any]:
        """The batch's units in order (skipping those whose caller is gone), then ``before_commit``."""
        results = [None if future.done() else work(conn) for work, future in batch]
        if self.before_commit is not None:
            self.before_commit(conn, [result for result, (_, future) in zip(results, batch) if not future.done()])
        return results


def _settle(future: asyncio.Future[Any], result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():  # its caller was cancelled (a job timeout): the write stands, nobody waits for it
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


__all__ = ["BATCH_LIMIT", "WriteBatcher"]
