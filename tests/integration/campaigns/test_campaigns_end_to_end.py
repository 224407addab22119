"""The campaign guarantees checked together, in one run under every fault at once, on each database.

The sending window closes and opens again within seconds through a real time zone written for the
test (``short_night``): a zone whose clock jumps from 20:00 to 08:00 the next day a few seconds after
the window's end, as a DST change does, so the worker processes judge the window by the real clock
and their ordinary zone data (``PYTHONTZPATH``), with nothing mocked.

The campaigns start once the workers are up and the scheduler has finished its start-up
reconciliation, so that the figures of the run are about sending, not start-up.
"""

from __future__ import annotations

import os
import signal
import struct
import time
import uuid
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rq import Worker

from chronoflow.campaigns.settle import NOT_FOUND
from chronoflow.scheduling.heartbeats import jobs_reconciled, live_worker_count
from tests.integration.campaigns.conftest import (
    assert_counters_equal_rows,
    create_campaign,
    import_contacts,
    phone,
    rows,
    wait_for_campaign,
    wired,
)
from tests.integration.conftest import Stack
from tests.integration.messages.conftest import WhatsAppStack

SEND_PATH = "/api/sendText"
EVOLUTION_SEND_PATH = "/message/sendText/"
TIMEOUT_MS = 1500
"""The workers' gateway timeout: a send answered later is uncertain."""
LATE = 2.5
"""Seconds a late answer takes, past :data:`TIMEOUT_MS`."""
DAY = 86400


@dataclass(frozen=True)
class ShortNight:
    """A zone where the window 08:00–20:00 closes at ``closes_at`` and opens again at ``opens_at``."""

    key: str
    closes_at: float
    opens_at: float

    @property
    def window(self) -> dict[str, Any]:
        return {"start": "08:00", "end": "20:00", "timezone": self.key}


def _tzif(offsets: list[int], transitions: list[tuple[int, int]]) -> bytes:
    """A version 1 TZif file: standard-time ``offsets`` (seconds east of UTC), ``(instant, offset index)``."""
    names = b"LMT\x00"
    header = b"TZif" + b"\x00" * 16 + struct.pack(">6l", 0, 0, 0, len(transitions), len(offsets), len(names))
    return (header + b"".join(struct.pack(">l", at) for at, _ in transitions) + bytes(i for _, i in transitions)
            + b"".join(struct.pack(">lBB", offset, 0, 0) for offset in offsets) + names)


@pytest.fixture
def two_numbers(sqlite_stack: Stack) -> Iterator[WhatsAppStack]:
    """The wired SQLite stack whose gateway has two WAHA sessions, ``default`` and ``second``."""
    with wired(sqlite_stack, sessions=("default", "second")) as wa:
        yield wa


@pytest.fixture
def short_night(two_numbers: WhatsAppStack, tmp_path: Path) -> Iterator[Callable[[float, float], ShortNight]]:
    """Writes zones whose night lasts seconds, known to this process and to the processes it spawns."""
    directory = tmp_path / "zones"
    previous = zoneinfo.TZPATH
    zoneinfo.reset_tzpath([str(directory), *previous])
    two_numbers.stack.env["PYTHONTZPATH"] = os.pathsep.join([str(directory), *previous])

    def write(closes_in: float, night: float) -> ShortNight:
        """Local 20:00 is ``closes_in`` seconds from now; ``night`` seconds later the clock reads 08:00."""
        closes_at = int(time.time() + closes_in)
        opens_at = closes_at + int(night)
        evening = (20 * 3600 - closes_at % DAY) % DAY
        evening -= DAY if evening > DAY // 2 else 0
        morning = evening + 12 * 3600 - (opens_at - closes_at)
        key = f"Test/Night_{uuid.uuid4().hex[:8]}"
        (directory / "Test").mkdir(parents=True, exist_ok=True)
        (directory / key).write_bytes(_tzif([evening, morning], [(opens_at, 1)]))
        return ShortNight(key, closes_at, opens_at)

    try:
        yield write
    finally:
        zoneinfo.reset_tzpath(previous)


CAMPAIGN_TEXT = "Olá C"
"""How the campaign's messages begin (``Olá {{name}}``), unlike the reply that confirms an opt-out."""


def _sent_to(cwa: WhatsAppStack) -> Counter[str]:
    """Campaign messages the gateway accepted, per number."""
    return Counter(m["to"] for m in cwa.fake.messages() if m["text"].startswith(CAMPAIGN_TEXT))


def _confirmed(cwa: WhatsAppStack, number: str) -> bool:
    """Whether the gateway accepted a message to ``number`` other than the campaign's (an opt-out's reply)."""
    return any(m["to"] == number and not m["text"].startswith(CAMPAIGN_TEXT) for m in cwa.fake.messages())


def _requested_to(cwa: WhatsAppStack) -> Counter[str]:
    """Send requests the gateway took on, per number (accepted, refused or answered too late); not those
    answered 422 "session not ready", which a gateway refuses before doing anything."""
    requests = cwa.fake.requests(SEND_PATH) + cwa.fake.requests(EVOLUTION_SEND_PATH)
    return Counter(str(r["body"].get("chatId") or r["body"]["number"]).split("@")[0]
                   for r in requests if r["status"] != 422)


@dataclass
class Faults:
    """Sends the fake gateway is told to spoil, by kind: ~5% of a campaign's sends in all."""

    cwa: WhatsAppStack
    refused: int = 0
    """Refusals that are safe to retry: the gateway did nothing."""
    late_accepted: int = 0
    """Sends accepted, answered after the client gave up: the chat shows them."""
    late_refused: int = 0
    """Sends refused too late to be told: left to the operator."""

    def summary(self) -> str:
        return f"{self.refused} refused, {self.late_accepted} accepted late, {self.late_refused} refused late"

    def inject(self, kind: str | None, path: str = SEND_PATH) -> None:
        """Spoil the next send(s) under ``path`` as ``kind`` says (None: leave them alone)."""
        if kind == "refuse":  # a 5xx may come after the message left: only a 4xx refusal is retried
            self.cwa.fake.fail(429, times=2, path=path)
            self.refused += 2
        elif kind == "late":
            self.cwa.fake.fail(None, times=1, path=path, delay=LATE)
            self.late_accepted += 1
        elif kind == "late-refused":
            self.cwa.fake.fail(500, times=1, path=path, delay=LATE)
            self.late_refused += 1


def _ready(cwa: WhatsAppStack, workers: int) -> None:
    """Wait for ``workers`` live workers and the scheduler's start-up reconciliation."""
    redis = cwa.stack.redis
    cwa.stack.wait_until(lambda: live_worker_count(redis) == workers and jobs_reconciled(redis), timeout=60)


def _messages_reach(cwa: WhatsAppStack, count: int, timeout: float = 60) -> None:
    cwa.stack.wait_until(lambda: len(cwa.fake.messages()) >= count, timeout=timeout, interval=0.05)


def _kill_the_stepping_worker(cwa: WhatsAppStack, workers: list[Any]) -> tuple[Any, str]:
    """SIGKILL the worker that is inside a send step, held there by a send the gateway accepts slowly;
    returns the process and the number that send went to."""
    cwa.fake.fail(None, times=1, path=SEND_PATH, delay=LATE)
    seen = len(cwa.fake.requests(SEND_PATH))

    def stalled() -> dict[str, Any] | None:
        return next((r for r in cwa.fake.requests(SEND_PATH)[seen:] if r["status"] is None), None)

    request = cwa.stack.wait_until(stalled, timeout=60, interval=0.02)
    busy = {w.pid for w in Worker.all(connection=cwa.stack.redis) if w.get_current_job_id()}
    (victim,) = [p for p in workers if p.pid in busy]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    return victim, str(request["body"]["chatId"]).split("@")[0]


@pytest.mark.slow
def test_every_guarantee_holds_under_all_faults_at_once(two_numbers: WhatsAppStack,
                                                       short_night: Callable[[float, float], ShortNight]) -> None:
    """500 contacts imported by CSV, two WAHA numbers, no delay, ~5% of sends refused or answered too late,
    a window that closes and opens again, a number disconnecting and coming back, a worker killed inside
    a step while another runs, a PARE mid-way: each contact still gets exactly one message, the one who
    opted out none, nothing leaves while the window is closed, no uncertain send is repeated, and the
    campaign completes with counters equal to its rows and no job left."""
    cwa, count = two_numbers, 500
    cwa.stack.env["HTTP_REQUEST_TIMEOUT_MS"] = str(TIMEOUT_MS)
    channels = [cwa.create_channel("WAHA")["id"], cwa.create_channel("WAHA", session="second")["id"]]
    import_contacts(cwa, [f"{phone(i)},C{i},a{';b' if i % 3 else ''},ouro" for i in range(count)])
    workers = [cwa.stack.spawn("worker"), cwa.stack.spawn("worker")]
    cwa.stack.spawn("scheduler")
    _ready(cwa, 2)
    night = short_night(12, 10)
    campaign = create_campaign(cwa, channels, window=night.window, delayMinSeconds=0, delayMaxSeconds=0,
                               maxAttempts=4)
    cid = campaign["id"]
    assert cwa.api.post(f"/campaigns/{cid}/start").json()["pending"] == count
    began = time.monotonic()

    faults = Faults(cwa)
    plan = iter(["refuse", "late", "refuse", "late-refused", "refuse", "refuse", "late", "refuse", "late-refused",
                 "refuse", "late", "refuse", "late-refused", "refuse", "refuse"])
    for threshold in range(10, 450, 25):
        _messages_reach(cwa, threshold)
        if threshold == 185:
            waiting = sorted((r.created_at, r.id, r.phone) for r in rows(cwa, cid) if r.status == "pending")
            stopping = waiting[-1][2]  # the last row a step would claim
            cwa.inbound("WAHA", stopping, "PARE")
            # Its confirmation is sent once and never retried: it goes out before the next fault is armed,
            # which it would otherwise take from a campaign send now and then.
            cwa.stack.wait_until(lambda: _confirmed(cwa, stopping), timeout=30, interval=0.05)
        faults.inject(next(plan, None))
        if threshold == 60:
            cwa.fake_control("disconnect", provider="waha", session="second")
            mark = len(cwa.fake.messages())
            _messages_reach(cwa, mark + 30)
            assert {m["session"] for m in cwa.fake.messages()[mark:]} == {"default"}
            cwa.fake_control("connect", provider="waha", session="second")
            reconnected = len(cwa.fake.messages())
        if threshold == 135:
            killed, lost = _kill_the_stepping_worker(cwa, workers)
    assert killed.returncode == -signal.SIGKILL and workers[1 - workers.index(killed)].poll() is None

    done = wait_for_campaign(cwa, cid, lambda c: c["status"] == "completed", timeout=90)
    elapsed = time.monotonic() - began
    counted = assert_counters_equal_rows(cwa, cid)
    by_phone = {r.phone: r for r in rows(cwa, cid)}
    sent_to, requested_to = _sent_to(cwa), _requested_to(cwa)

    # Exactly one message per contact; the one who answered PARE got only the opt-out's confirmation.
    assert max(sent_to.values()) == 1, "a contact got two messages"
    last = by_phone[stopping]
    assert (last.status, last.error, sent_to[last.phone]) == ("skipped", "opted out", 0)
    assert [m["text"].startswith(CAMPAIGN_TEXT) for m in cwa.fake.messages() if m["to"] == last.phone] == [False]
    assert {p for p, r in by_phone.items() if r.status == "sent"} == set(sent_to)
    assert counted["sent"] + counted["uncertain"] == count - 1 and counted["skipped"] == 1
    assert counted["pending"] == counted["sending"] == counted["failed"] == 0
    # Refused sends were retried to a single message; late answers are settled from the chat or left to the
    # operator, and an uncertain row is never sent again on its own.
    sent = [r for r in by_phone.values() if r.status == "sent"]
    assert sum(r.attempts - 1 for r in sent) == faults.refused
    assert [r.phone for r in sent if requested_to[r.phone] != r.attempts] == [], "a send was repeated"
    uncertain = [r for r in by_phone.values() if r.status == "uncertain"]
    assert len(uncertain) == faults.late_refused and all(NOT_FOUND in (r.error or "") for r in uncertain)
    assert all(requested_to[r.phone] == 1 and sent_to[r.phone] == 0 for r in uncertain)
    # The send the killed worker never recorded was found in its chat, not sent again.
    assert (by_phone[lost].status, by_phone[lost].attempts, sent_to[lost], requested_to[lost]) == ("sent", 1, 1, 1)
    # Nothing left while the window was closed (a request checked before the close may still be on its way).
    sends = [r["timestamp"] for r in cwa.fake.requests(SEND_PATH)]
    assert not [t for t in sends if night.closes_at + 2 <= t < night.opens_at]
    assert min(sends) < night.closes_at and max(sends) >= night.opens_at
    # Both numbers carried the campaign, the second one again once it came back.
    assert {m["session"] for m in cwa.fake.messages()[reconnected:]} == {"default", "second"}
    assert {r.channel_id for r in by_phone.values() if r.status == "sent"} == set(channels)
    assert cwa.stack.jobs.scheduled_due(done["chronoId"]) is None
    print(f"\nend-to-end on SQLite: {elapsed:.1f} s, {dict(counted)}, {faults.summary()}, "
          f"{len([t for t in sends if t < night.closes_at])} requests before the window closed")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_exactly_one_message_per_contact_with_several_processes_on_postgresql(stack: Stack) -> None:
    """Two workers and two schedulers on one PostgreSQL database, two numbers of different gateways, ~5% of
    sends refused or answered too late: each contact gets exactly one message, nothing is repeated, and the
    campaign completes with counters equal to its rows and no job left."""
    count = 300
    with wired(stack, sessions=("default",)) as cwa:
        cwa.stack.env["HTTP_REQUEST_TIMEOUT_MS"] = str(TIMEOUT_MS)
        channels = [cwa.create_channel("WAHA")["id"], cwa.create_channel("EVOLUTION")["id"]]
        import_contacts(cwa, [f"{phone(i)},C{i},a,ouro" for i in range(count)])
        for _ in range(2):
            cwa.stack.spawn("worker")
            cwa.stack.spawn("scheduler")
        _ready(cwa, 2)
        cid = create_campaign(cwa, channels, delayMinSeconds=0, delayMaxSeconds=0, maxAttempts=4)["id"]
        assert cwa.api.post(f"/campaigns/{cid}/start").json()["pending"] == count
        began = time.monotonic()
        faults = Faults(cwa)
        plan = iter(["refuse", "late", "refuse", "late-refused", "refuse", None, "late", "refuse", "late-refused",
                     "refuse", None])
        for threshold in range(10, 280, 25):
            _messages_reach(cwa, threshold)
            faults.inject(next(plan), path=SEND_PATH if threshold % 50 == 10 else EVOLUTION_SEND_PATH)
        done = wait_for_campaign(cwa, cid, lambda c: c["status"] == "completed", timeout=90)
        elapsed = time.monotonic() - began

        counted = assert_counters_equal_rows(cwa, cid)
        by_phone = {r.phone: r for r in rows(cwa, cid)}
        sent_to, requested_to = _sent_to(cwa), _requested_to(cwa)
        assert max(sent_to.values()) == 1, "a contact got two messages"
        sent = [r for r in by_phone.values() if r.status == "sent"]
        assert {r.phone for r in sent} == set(sent_to) and len(sent) == count - faults.late_refused
        assert sum(r.attempts - 1 for r in sent) == faults.refused
        assert [r.phone for r in sent if requested_to[r.phone] != r.attempts] == [], "a send was repeated"
        uncertain = [r for r in by_phone.values() if r.status == "uncertain"]
        assert len(uncertain) == faults.late_refused and all(requested_to[r.phone] == 1 for r in uncertain)
        assert {r.channel_id for r in sent} == set(channels)
        assert cwa.stack.jobs.scheduled_due(done["chronoId"]) is None
        print(f"\nend-to-end on PostgreSQL: {elapsed:.1f} s, {dict(counted)}, {faults.summary()}")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_daily_quota_holds_with_several_processes_on_postgresql(stack: Stack) -> None:
    """Two workers and two schedulers sending as fast as they can through two numbers with a daily quota of
    15 each: exactly 15 leave each number, the rest wait (pending, none left sending) for the next quota day."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    ahead = (12 - now.hour) % 24
    ahead = ahead - 24 if ahead > 14 else ahead  # a zone where it is about noon: the quota day ends hours away
    zone = f"Etc/GMT{-ahead:+d}" if ahead else "Etc/GMT"
    every_day = {"start": "00:00", "end": "23:59", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                 "timezone": zone}
    with wired(stack, sessions=("default",)) as cwa:
        channels = [cwa.create_channel("WAHA")["id"], cwa.create_channel("EVOLUTION")["id"]]
        import_contacts(cwa, [f"{phone(i)},C{i},a,ouro" for i in range(80)])
        for _ in range(2):
            cwa.stack.spawn("worker")
            cwa.stack.spawn("scheduler")
        _ready(cwa, 2)
        cid = create_campaign(cwa, channels, delayMinSeconds=0, delayMaxSeconds=0, dailyQuotaPerChannel=15,
                              window=every_day)["id"]
        chrono = cwa.api.post(f"/campaigns/{cid}/start").json()["chronoId"]
        _messages_reach(cwa, 30)

        def resting_until_the_next_day() -> bool:  # the step moved the job to the next quota period
            due = cwa.stack.jobs.scheduled_due(chrono)
            return due is not None and due > time.time() + 3600
        cwa.stack.wait_until(resting_until_the_next_day, timeout=60)
        counted = assert_counters_equal_rows(cwa, cid)
        assert (counted["sent"], counted["pending"], counted["sending"]) == (30, 50, 0)
        per_channel = Counter(r.channel_id for r in rows(cwa, cid) if r.status == "sent")
        assert per_channel == {channels[0]: 15, channels[1]: 15}
        assert len(cwa.fake.messages()) == 30 and max(_sent_to(cwa).values()) == 1
