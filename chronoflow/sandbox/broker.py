"""The trusted side of ``ctx``: every SDK call of one run is decided here.

A :class:`Broker` lives for one run. It answers the child's requests after checking them
against the :class:`~chronoflow.sandbox.policy.SandboxPolicy` and the run's
:class:`~chronoflow.sandbox.policy.FunctionLimits`, and keeps what the run produced: logs,
state, counts, messages. Requests come from untrusted code, so every field is checked by exact
type and every refusal is an error answer, never an exception in the worker.

HTTP requests are sent by this process through :class:`~chronoflow.sandbox.outbound.OutboundHttp`,
which shares the run's deadline and rate limit.
"""

from __future__ import annotations

import collections
import datetime
import json
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from chronoflow.sandbox.outbound import OutboundHttp
from chronoflow.sandbox.policy import FunctionLimits, PolicyViolation, SandboxPolicy, finite_seconds, normalize_recipient
from chronoflow.sandbox.refusals import MaybeDelivered, Refused, type_error

log = logging.getLogger(__name__)

__all__ = ["Broker", "SendMessage"]

SendMessage = Callable[[str, str], str]

MAYBE_DELIVERED = ("the message may have been delivered: the gateway received it without a clear answer, "
                   "so it was not sent again")
"""What the user's code reads when a send's outcome is unknown: sending it again could double it."""

#: Longest state key.
MAX_STATE_KEY_CHARS = 256
_TRUNCATED = "[log output truncated]"


class Broker:
    """Answers the SDK requests of one run and records what it did."""

    def __init__(
        self,
        policy: SandboxPolicy,
        limits: FunctionLimits,
        *,
        state: dict[str, Any],
        deadline: float,
        http: httpx.Client,
        send_message: SendMessage | None,
    ) -> None:
        self.policy = policy
        self.limits = limits
        self.deadline = deadline
        self.state = json.loads(json.dumps(state, allow_nan=False))
        self.logs: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self.message_count = 0
        self._log_bytes = 0
        self._send_message = send_message
        self._effects: collections.deque[float] = collections.deque()
        self._outbound = OutboundHttp(policy, limits, http, remaining=self.remaining, take_slot=self._take_effect_slot)

    # --- dispatch ------------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """The answer frame for one ``{"kind": "call", "op": ..., "args": {...}}`` request."""
        op, args = request.get("op"), request.get("args")
        handler = self._HANDLERS.get(op) if isinstance(op, str) else None
        if handler is None or type(args) is not dict:
            return {"error": {"type": "SdkError", "message": "unknown SDK call"}}
        try:
            return {"ok": handler(self, args)}
        except Refused as exc:
            return {"error": {"type": exc.kind, "message": str(exc)}}
        except PolicyViolation as exc:
            return {"error": {"type": self._POLICY_ERRORS.get(str(op), "SdkError"), "message": str(exc)}}

    def remaining(self) -> float:
        """Seconds left before the run's deadline."""
        return self.deadline - time.monotonic()

    # --- logs, time, state ---------------------------------------------------------------------

    def add_log(self, text: str) -> None:
        """Keep one log line, up to the run's byte budget; past it, one marker and silence."""
        if self._log_bytes > self.limits.max_log_bytes:
            return
        size = len(text.encode("utf-8", "replace"))
        if self._log_bytes + size > self.limits.max_log_bytes:
            self.logs.append(_TRUNCATED)
            self._log_bytes = self.limits.max_log_bytes + 1
            return
        self.logs.append(text)
        self._log_bytes += size

    def _log(self, args: dict[str, Any]) -> None:
        text = args.get("text")
        if type(text) is not str:
            raise type_error("log text must be a string")
        self.add_log(text)

    def _now(self, args: dict[str, Any]) -> str:
        return datetime.datetime.now(datetime.UTC).isoformat()

    def _sleep(self, args: dict[str, Any]) -> None:
        seconds = finite_seconds(args.get("seconds"), "seconds")
        time.sleep(max(0.0, min(seconds, self.remaining())))

    def _state_key(self, args: dict[str, Any]) -> str:
        key = args.get("key")
        if type(key) is not str:
            raise type_error("state keys must be strings")
        if not key or len(key) > MAX_STATE_KEY_CHARS:
            raise Refused("StateError", f"state keys must have 1 to {MAX_STATE_KEY_CHARS} characters")
        return key

    def _state_get(self, args: dict[str, Any]) -> dict[str, Any]:
        key = self._state_key(args)
        return {"found": key in self.state, "value": self.state.get(key)}

    def _state_set(self, args: dict[str, Any]) -> None:
        key = self._state_key(args)
        candidate = dict(self.state)
        candidate[key] = args.get("value")
        size = len(json.dumps(candidate, allow_nan=False, separators=(",", ":")).encode())
        if size > self.limits.max_state_bytes:
            raise Refused("StateError", f"state would be {size} bytes, over the {self.limits.max_state_bytes} byte cap")
        self.state = candidate

    def _state_delete(self, args: dict[str, Any]) -> None:
        self.state.pop(self._state_key(args), None)

    # --- rate limit ----------------------------------------------------------------------------

    def _take_effect_slot(self) -> None:
        """Wait for room under the per-second rate limit, or refuse if the run has no time left."""
        rate = self.policy.rate_limit_per_second
        while True:
            now = time.monotonic()
            while self._effects and self._effects[0] <= now - 1.0:
                self._effects.popleft()
            if len(self._effects) < rate:
                self._effects.append(now)
                return
            wait = self._effects[0] + 1.0 - now
            if wait >= self.remaining():
                raise Refused("LimitExceeded", f"rate limit of {rate} calls per second reached")
            time.sleep(wait)

    # --- messages ------------------------------------------------------------------------------

    def _message(self, args: dict[str, Any]) -> str:
        text = args.get("text")
        if type(text) is not str:
            raise type_error("text must be a string")
        if not text.strip() or len(text) > self.limits.max_message_chars:
            raise Refused("ValueError", f"text must have 1 to {self.limits.max_message_chars} characters")
        if self.message_count >= self.limits.max_messages:
            raise Refused("LimitExceeded", f"maxMessages of {self.limits.max_messages} per run reached")
        digits = normalize_recipient(args.get("to"))
        if not self.policy.recipient_allowed(digits):
            raise Refused("MessageError", "recipient is not on the allowlist")
        if self._send_message is None:
            raise Refused("MessageError", "no channel is configured to send messages")
        self._take_effect_slot()
        self.message_count += 1
        try:
            message_id = self._send_message(digits, text)
        except MaybeDelivered as exc:
            log.warning("a function's message may have been delivered: %s", exc)
            self.messages.append({"to": digits, "error": "may have been delivered", "maybeDelivered": True})
            raise Refused("MessageError", MAYBE_DELIVERED) from None
        except Exception:
            log.warning("sending a function's message failed", exc_info=True)
            self.messages.append({"to": digits, "error": "send failed"})
            raise Refused("MessageError", "the message could not be sent") from None
        self.messages.append({"to": digits, "id": str(message_id)})
        return str(message_id)

    # --- http ----------------------------------------------------------------------------------

    @property
    def http_count(self) -> int:
        """HTTP requests sent so far in this run."""
        return self._outbound.count

    def _http(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._outbound.request(args)

    _HANDLERS: ClassVar[dict[str, Callable[[Broker, dict[str, Any]], Any]]] = {
        "log": _log,
        "now": _now,
        "sleep": _sleep,
        "state.get": _state_get,
        "state.set": _state_set,
        "state.delete": _state_delete,
        "message": _message,
        "http": _http,
    }
    _POLICY_ERRORS: ClassVar[dict[str, str]] = {"http": "HttpError", "message": "MessageError", "sleep": "ValueError"}
