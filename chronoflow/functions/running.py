"""Running a function once: the sandbox run, its messages sent through a channel, its state saved.

Both the FUNCTION target (in a worker) and ``POST /functions/{id}/test`` (in the API) run a function
through :func:`run_function`; only a run that succeeded writes ``ctx.state`` back (:func:`save_state`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chronoflow.channels import InvalidPhoneNumber, normalize_number
from chronoflow.channels.connected import connected_provider
from chronoflow.channels.errors import ProviderError
from chronoflow.channels.optout_store import opted_out_among
from chronoflow.sandbox import FunctionLimits, SandboxResult, SandboxRunner
from chronoflow.sandbox.refusals import MaybeDelivered
from chronoflow.store.models import Channel, Function

if TYPE_CHECKING:
    import httpx

    from chronoflow.channels import WhatsAppProvider
    from chronoflow.config import Settings
    from chronoflow.store.engine import Database

log = logging.getLogger(__name__)

SEND_GRACE_S = 5.0
"""How much longer than the run's timeout one message send may wait for the provider."""


@dataclass(frozen=True)
class FunctionSnapshot:
    """What one run needs of a function, read in one transaction before the run starts."""

    id: str
    code: str
    version: int
    limits: dict[str, Any]
    state: dict[str, Any]
    channel_id: str | None

    @classmethod
    def of(cls, function: Function) -> FunctionSnapshot:
        return cls(function.id, function.code, function.version, dict(function.limits or {}),
                   dict(function.state or {}), function.channel_id)


@dataclass
class FunctionOutcome:
    """A sandbox result plus what the trusted side did around it."""

    sandbox: SandboxResult
    version: int
    opted_out: list[str] = field(default_factory=list)
    """Recipients skipped because they opted out (nothing was sent to them)."""

    def summary(self) -> dict[str, Any]:
        """The run's counters, stored as JSON in ``responseSnippet`` of a FUNCTION run."""
        result = self.sandbox
        return {
            "sandboxMs": result.duration_ms, "httpCount": result.http_count, "messageCount": result.message_count,
            "messages": result.messages[:100], "optedOut": self.opted_out[:100],
        }

    def error_message(self) -> str | None:
        """The error, then the user's traceback (frames of ``<function>`` only)."""
        result = self.sandbox
        if result.error is None:
            return None
        return f"{result.error}\n{result.traceback}" if result.traceback else result.error


class ChannelSender:
    """``send_message`` for the sandbox: sends through a channel on an event loop, from the run's thread.

    The runner calls it in its own thread; each call is handed to ``loop`` (where the database
    engine and the HTTP client live) and waited for. The number is normalized
    (:func:`normalize_number`), an opted-out number is skipped (the SDK call returns ``""``), and
    a channel that is gone or not ``WORKING`` makes the send fail (the user sees ``MessageError``). A
    send that reached the gateway without a clear answer is :class:`MaybeDelivered`: the user's
    ``MessageError`` then says the message may have been delivered, and it is not sent again.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, db: Database, settings: Settings, channel_id: str,
                 http: httpx.AsyncClient | None, timeout_s: float) -> None:
        self.loop = loop
        self.db = db
        self.settings = settings
        self.channel_id = channel_id
        self.http = http
        self.timeout_s = timeout_s
        self.opted_out: list[str] = []
        self._provider: WhatsAppProvider | None = None

    def __call__(self, digits: str, text: str) -> str:
        future = asyncio.run_coroutine_threadsafe(self.send(digits, text), self.loop)
        try:
            return future.result(self.timeout_s)
        except BaseException:
            future.cancel()
            raise

    async def send(self, digits: str, text: str) -> str:
        try:
            number = normalize_number(digits)
        except InvalidPhoneNumber as exc:
            raise ValueError(f"not a valid number: {exc}") from None
        async with self.db.session() as session:
            if number in await opted_out_among(session, [number]):
                self.opted_out.append(number)
                return ""
            if self._provider is None:
                channel = await session.get(Channel, self.channel_id)
                if channel is None:
                    raise LookupError("the function's channel was deleted")
                self._provider = connected_provider(channel, self.settings, client=self.http)
        try:
            sent = await self._provider.send_text(number, text)
        except ProviderError as exc:
            if exc.maybe_delivered:
                raise MaybeDelivered(str(exc)) from exc
            raise
        return sent.id or ""

    async def aclose(self) -> None:
        if self._provider is not None:
            await self._provider.aclose()
            self._provider = None


async def run_function(
    function: FunctionSnapshot, *, extras: dict[str, Any] | None, runner: SandboxRunner, db: Database,
    settings: Settings, channel_id: str | None = None, http: httpx.AsyncClient | None = None,
) -> FunctionOutcome:
    """Run ``function`` once in the sandbox; messages go through ``channel_id``, else the function's.

    Blocks a thread (not the loop) for the run's duration. Does not persist the state: see
    :func:`save_state`.

    Raises:
        SandboxUnavailable: when no sandbox process could be started (no user code ran).
        SandboxLayersMissing: when the sandbox lacks a required isolation layer (no user code ran).
        ValueError: stored limits no longer within bounds.
    """
    limits = FunctionLimits.from_json(function.limits)
    channel = channel_id or function.channel_id
    sender = None
    if channel is not None:
        sender = ChannelSender(asyncio.get_running_loop(), db, settings, channel, http,
                               limits.timeout_ms / 1000 + SEND_GRACE_S)
    try:
        result = await asyncio.to_thread(runner.run, function.code, extras=extras or {}, state=function.state,
                                         limits=limits, send_message=sender)
    finally:
        if sender is not None:
            await sender.aclose()
    return FunctionOutcome(result, function.version, sender.opted_out if sender else [])


async def save_state(db: Database, function_id: str, state: dict[str, Any]) -> None:
    """Write a successful run's ``ctx.state`` back on the function (if it still exists)."""
    async with db.session() as session:
        function = await session.get(Function, function_id)
        if function is not None and function.state != state:
            function.state = state
