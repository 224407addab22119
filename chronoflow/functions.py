"""User functions: upload (checked in the sandbox), versions, runs, and state kept between runs.

A function is Python source defining ``def run(ctx)`` (see ``chronoflow/sandbox/README.md`` for
the SDK and the isolation layers). It is checked when it is saved, never when it first runs:

- the code compiles under RestrictedPython in a sandbox child (:meth:`SandboxRunner.check`), so a
  syntax error or a forbidden construct (``_`` names, ``exec``…) is a 422 with its line;
- every ``import`` names one of the sandbox's modules (``json``, ``math``, ``re``, ``datetime``…),
  so ``import os`` is refused at upload instead of failing every run;
- ``limits`` are within :data:`chronoflow.sandbox.policy.LIMIT_BOUNDS`.

Each save of new code or limits bumps ``version``; ``checksum`` is the SHA-256 of the code. A run
records the version it ran, and ``ctx.state`` is written back on the function only after a
successful run (concurrent runs of one function: the last to finish wins).
"""

from __future__ import annotations

import ast
import asyncio
import atexit
import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from chronoflow.channels import InvalidPhoneNumber, normalize_number
from chronoflow.channels.connected import connected_provider
from chronoflow.channels.service import existing_channel_id
from chronoflow.db import utcnow
from chronoflow.exceptions import Conflict, InvalidCode, InvalidInput, NotFound
from chronoflow.models import Channel, Chrono, Function
from chronoflow.optouts import opted_out_among
from chronoflow.sandbox import CodeError, FunctionLimits, SandboxPolicy, SandboxResult, SandboxRunner

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession

    from chronoflow.channels import WhatsAppProvider
    from chronoflow.config import Settings
    from chronoflow.db import Database

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 200
"""Longest function name (the column's size)."""

MAX_DESCRIPTION_CHARS = 2000
"""Longest function description (as a chrono's)."""

SEND_GRACE_S = 5.0
"""How much longer than the run's timeout one message send may wait for the provider."""


# --- checks --------------------------------------------------------------------------------------

def checksum(code: str) -> str:
    """SHA-256 of the code, hex: what ``checksum`` stores and what identifies a version's source."""
    return hashlib.sha256(code.encode()).hexdigest()


def _allowed_modules() -> dict[str, object]:
    from chronoflow.sandbox.modules import build_modules

    return build_modules()


def _check_imports(code: str, field_name: str) -> None:
    """Refuse imports the sandbox would refuse at run time (compiled code parses, so this does)."""
    modules = _allowed_modules()
    available = ", ".join(sorted(modules))
    for node in ast.walk(ast.parse(code)):
        names: list[tuple[str, str | None]]
        if isinstance(node, ast.Import):
            names = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None:
                raise InvalidCode(field_name, node.lineno, "relative imports are not allowed")
            names = [(node.module, alias.name) for alias in node.names]
        else:
            continue
        for module, member in names:
            if module not in modules:
                raise InvalidCode(field_name, node.lineno, f"import of {module!r} is not allowed; available: {available}")
            if member is not None and (member == "*" or not hasattr(modules[module], member)):
                raise InvalidCode(field_name, node.lineno, f"{module} has no {member!r} in the sandbox")


async def checked_code(code: object, runner: SandboxRunner, field_name: str = "code") -> str:
    """``code`` once it compiles in the sandbox and imports only what the sandbox offers.

    Raises:
        InvalidInput: naming ``field_name``, with ``line N: reason`` (a :class:`CodeError`'s line).
        SandboxUnavailable: when no sandbox process can be started.
        SandboxLayersMissing: when the sandbox lacks a required isolation layer.
    """
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput(field_name, "is required: Python source defining def run(ctx)")
    try:
        await asyncio.to_thread(runner.check, code)
    except CodeError as exc:
        raise InvalidCode(field_name, exc.line, exc.reason) from None
    _check_imports(code, field_name)
    return code


def checked_limits(raw: object, field_name: str = "limits") -> dict[str, int]:
    """Limits as stored (every limit, camelCase); ``None`` means the defaults.

    Raises:
        InvalidInput: naming ``field_name`` and the limit at fault.
    """
    try:
        limits = FunctionLimits.from_json(raw)  # type: ignore[arg-type]
    except ValueError as exc:
        path, _, problem = str(exc).partition(": ")
        limit = path.partition(".")[2]
        raise InvalidInput(field_name, f"{limit}: {problem}" if limit else problem) from None
    return limits.to_json()


def checked_extras(raw: object, field_name: str = "extras") -> dict[str, Any]:
    """A JSON object (``None`` means empty). Raises InvalidInput naming ``field_name``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(field_name, "must be a JSON object")
    try:
        json.dumps(raw, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput(field_name, "must be strict JSON (no NaN or Infinity)") from None
    return raw


async def checked_channel(session: AsyncSession, channel_id: object, field_name: str = "channelId") -> str | None:
    """An existing channel's id, or ``None``. Raises InvalidInput naming ``field_name``."""
    if channel_id is None:
        return None
    return await existing_channel_id(session, channel_id, field_name)


def _checked_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", "is required and must be a non-empty string")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput("name", f"must be at most {MAX_NAME_CHARS} characters")
    return name.strip()


def _checked_description(description: object) -> str | None:
    if description is not None and not isinstance(description, str):
        raise InvalidInput("description", "must be a string or null")
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput("description", f"must be at most {MAX_DESCRIPTION_CHARS} characters")
    return description


def _checked_state(raw: object, limits: dict[str, int]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput("state", "must be a JSON object")
    try:
        size = len(json.dumps(raw, allow_nan=False, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        raise InvalidInput("state", "must be strict JSON") from None
    cap = FunctionLimits.from_json(limits).max_state_bytes
    if size > cap:
        raise InvalidInput("state", f"is {size} bytes, over the function's maxStateBytes of {cap}")
    return raw


# --- the sandbox runners of this process -----------------------------------------------------------

_runners: dict[tuple[Any, ...], SandboxRunner] = {}
"""Runners by policy: settings describing the same policy share one fork server."""
_by_settings: dict[int, tuple[Settings, SandboxRunner]] = {}
"""Runners by ``Settings`` object (kept alive here, so its id is never reused)."""
_runners_lock = threading.Lock()


def _policy_key(policy: SandboxPolicy) -> tuple[Any, ...]:
    return (policy.http_allowlist, policy.private_hosts, policy.recipient_allowlist, policy.rate_limit_per_second,
            tuple(sorted(policy.env.items())), policy.sandbox_uid, policy.network_namespace, policy.required_layers)


def shared_runner(settings: Settings) -> SandboxRunner:
    """This process's runner for ``settings`` (the API's upload checks and test runs).

    The policy is built from ``settings`` once, on the first call for that ``Settings`` object:
    the app factory makes that call at start (so a policy the settings cannot describe stops
    the start, not a request), and every later call (``FunctionService``, the FUNCTION target's
    validation) is a look-up. One runner (one fork server) per distinct policy, started on first
    use and closed at exit (:func:`close_shared_runners`); the fork server also exits by itself
    when this process dies. Workers own theirs instead (built in ``FunctionTarget.start``).
    """
    with _runners_lock:
        known = _by_settings.get(id(settings))
        if known is not None and known[0] is settings:
            return known[1]
    policy = SandboxPolicy.from_settings(settings)
    with _runners_lock:
        runner = _runners.get(_policy_key(policy))
        if runner is None:
            runner = _runners[_policy_key(policy)] = SandboxRunner(policy)
        _by_settings[id(settings)] = (settings, runner)
        return runner


def close_shared_runners() -> None:
    """Stop the fork servers :func:`shared_runner` started."""
    with _runners_lock:
        runners = list(_runners.values())
        _runners.clear()
        _by_settings.clear()
    for runner in runners:
        runner.close()


atexit.register(close_shared_runners)


# --- running ---------------------------------------------------------------------------------------

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
    a channel that is gone or not ``WORKING`` makes the send fail (the user sees ``MessageError``).
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
        sent = await self._provider.send_text(number, text)
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


# --- the service behind /functions ---------------------------------------------------------------

async def new_function(
    session: AsyncSession, *, name: str, code: str, limits: dict[str, int], description: str | None = None,
    channel_id: str | None = None,
) -> Function:
    """Add an already-checked function to the open transaction (version 1)."""
    function = Function(name=name, description=description, code=code, version=1, checksum=checksum(code),
                        limits=limits, state={}, channel_id=channel_id)
    session.add(function)
    await session.flush()
    return function


class FunctionService:
    """The function operations the API exposes; validates everything, then writes."""

    def __init__(self, db: Database, settings: Settings, runner: SandboxRunner | None = None) -> None:
        self.db = db
        self.settings = settings
        self._runner = runner

    @property
    def runner(self) -> SandboxRunner:
        """The runner given, else the one built for these settings at start (:func:`shared_runner`)."""
        if self._runner is None:
            self._runner = shared_runner(self.settings)
        return self._runner

    async def create(self, fields: dict[str, Any]) -> Function:
        name = _checked_name(fields.get("name"))
        description = _checked_description(fields.get("description"))
        limits = checked_limits(fields.get("limits"))
        code = await checked_code(fields.get("code"), self.runner)
        async with self.db.session() as session:
            channel_id = await checked_channel(session, fields.get("channelId"))
            return await new_function(session, name=name, code=code, limits=limits, description=description,
                                      channel_id=channel_id)

    async def get(self, function_id: str) -> Function:
        async with self.db.session() as session:
            return await self._get(session, function_id)

    @staticmethod
    async def _get(session: AsyncSession, function_id: str) -> Function:
        function = await session.get(Function, function_id)
        if function is None:
            raise NotFound("function", function_id)
        return function

    async def list(self, skip: int, take: int) -> tuple[list[Function], int]:
        async with self.db.session() as session:
            total = await session.scalar(select(func.count()).select_from(Function))
            rows = await session.scalars(select(Function).order_by(Function.created_at.desc(), Function.id)
                                         .offset(skip).limit(take))
            return list(rows), int(total or 0)

    async def update(self, function_id: str, changes: dict[str, Any]) -> Function:
        """Apply a partial update; new code or limits make a new version."""
        async with self.db.session() as session:
            function = await self._get(session, function_id)
            values: dict[str, Any] = {}
            if "name" in changes:
                values["name"] = _checked_name(changes["name"])
            if "description" in changes:
                values["description"] = _checked_description(changes["description"])
            if "limits" in changes:
                values["limits"] = checked_limits(changes["limits"])
            if "code" in changes:
                values["code"] = await checked_code(changes["code"], self.runner)
            if "channelId" in changes:
                values["channel_id"] = await checked_channel(session, changes["channelId"])
            if "state" in changes:
                values["state"] = _checked_state(changes["state"], values.get("limits", function.limits))
            new_version = any(k in values and values[k] != getattr(function, k) for k in ("code", "limits"))
            for key, value in values.items():
                setattr(function, key, value)
            if new_version:
                function.version += 1
                function.checksum = checksum(function.code)
            if values:
                function.updated_at = utcnow()
        return function

    async def delete(self, function_id: str) -> None:
        """Delete a function no chrono uses (409 otherwise: its chronos would fail every run)."""
        async with self.db.session() as session:
            function = await self._get(session, function_id)
            used = int(await session.scalar(
                select(func.count()).select_from(Chrono).where(Chrono.function_id == function_id)) or 0)
            if used:
                raise Conflict(f"function {function_id} is used by {used} chrono(s); delete them or point them "
                               "to another function first")
            await session.delete(function)

    async def test(self, function_id: str, extras: object, persist_state: bool) -> FunctionOutcome:
        """Run the function now, without a chrono; the state is saved only when asked and successful."""
        extras = checked_extras(extras)
        function = FunctionSnapshot.of(await self.get(function_id))
        outcome = await run_function(function, extras=extras, runner=self.runner, db=self.db,
                                     settings=self.settings)
        if persist_state and outcome.sandbox.ok and outcome.sandbox.state is not None:
            await save_state(self.db, function.id, outcome.sandbox.state)
        return outcome


__all__ = [
    "ChannelSender", "FunctionOutcome", "FunctionService", "FunctionSnapshot", "InvalidCode", "checked_code",
    "checked_extras", "checked_limits", "checksum", "close_shared_runners", "new_function", "run_function",
    "save_state", "shared_runner",
]
