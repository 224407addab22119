"""The ``ctx`` object user code receives: a thin stub over the channel to the trusted side.

Each method checks its arguments by exact type (a ``str`` subclass overriding ``startswith``
proves nothing), turns them into plain JSON and sends one request; the trusted side decides
and answers. The stubs hold no allowlist, no HTTP client, no counter worth changing: the only
private state is the function that talks over the channel, out of reach of RestrictedPython's
attribute guard.
"""

from __future__ import annotations

import datetime as _datetime
import json as _json
import math as _math
from collections.abc import Callable
from typing import Any

Call = Callable[[str, dict[str, Any]], Any]

#: Deepest nesting of JSON values accepted from user code.
MAX_JSON_DEPTH = 64


class SdkError(Exception):
    """Base of the errors the SDK raises into user code."""


class HttpError(SdkError):
    """An HTTP request was refused or failed."""


class MessageError(SdkError):
    """A message was refused or could not be sent."""


class StateError(SdkError):
    """A state change was refused (size, key or value)."""


class LimitExceeded(SdkError):
    """A per-run cap (requests, messages) or the rate limit was reached."""


#: Error names the trusted side may answer with, and the class raised for each.
ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (SdkError, HttpError, MessageError, StateError, LimitExceeded, TypeError, ValueError)
}


def to_plain(value: Any, what: str, depth: int = 0) -> Any:
    """A copy of ``value`` made of exact JSON types only.

    Raises:
        TypeError: for any other type, subclasses of ``str``/``int``/``dict`` included.
        ValueError: for NaN, Infinity or nesting deeper than :data:`MAX_JSON_DEPTH`.
    """
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"{what} is nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        if not _math.isfinite(value):
            raise ValueError(f"{what} must not contain NaN or Infinity")
        return value
    if kind is list or kind is tuple:
        return [to_plain(item, what, depth + 1) for item in value]
    if kind is dict:
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"{what} must have string keys")
            plain[key] = to_plain(item, what, depth + 1)
        return plain
    raise TypeError(f"{what} must be JSON (dict, list, str, int, float, bool, None), not {kind.__name__}")


class Response:
    """The answer to ``ctx.http`` calls: a copy, detached from any connection."""

    __slots__ = ("headers", "ok", "status_code", "text", "url")

    def __init__(self, status_code: int, headers: dict[str, str], text: str, url: str) -> None:
        self.status_code = status_code
        self.headers = headers
        self.text = text
        self.url = url
        self.ok = 200 <= status_code < 400

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.text)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class Http:
    """``ctx.http``: requests the trusted side checks against the host allowlist."""

    __slots__ = ("_call",)

    def __init__(self, call: Call) -> None:
        self._call = call

    def request(self, method: str, url: str, **options: Any) -> Response:
        """Send one request; options are ``params``, ``headers``, ``json``, ``data``, ``timeout``."""
        if type(method) is not str or type(url) is not str:
            raise TypeError("method and url must be strings")
        answer = self._call("http", {"method": method, "url": url, "options": to_plain(options, "request options")})
        return Response(answer["status_code"], answer["headers"], answer["text"], answer["url"])

    def get(self, url: str, **options: Any) -> Response:
        """``GET url``."""
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> Response:
        """``POST url``."""
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Any) -> Response:
        """``PUT url``."""
        return self.request("PUT", url, **options)

    def patch(self, url: str, **options: Any) -> Response:
        """``PATCH url``."""
        return self.request("PATCH", url, **options)

    def delete(self, url: str, **options: Any) -> Response:
        """``DELETE url``."""
        return self.request("DELETE", url, **options)


class Message:
    """``ctx.message``: WhatsApp texts through the chrono's or the function's channel."""

    __slots__ = ("_call",)

    def __init__(self, call: Call) -> None:
        self._call = call

    def send(self, to: str | int | None = None, text: str | None = None) -> str:
        """Send ``text`` to one number; returns the provider's message id."""
        if type(to) is not str and type(to) is not int:
            raise TypeError("to must be one phone number as a string")
        if type(text) is not str:
            raise TypeError("text must be a string")
        return str(self._call("message", {"to": to, "text": text}))


class State:
    """``ctx.state``: a JSON object kept by the trusted side, saved after a successful run."""

    __slots__ = ("_call",)

    def __init__(self, call: Call) -> None:
        self._call = call

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        if type(key) is not str:
            raise TypeError("state keys must be strings")
        answer = self._call("state.get", {"key": key})
        return answer["value"] if answer["found"] else default

    def set(self, key: str, value: Any) -> None:
        """Store a JSON value under ``key``."""
        if type(key) is not str:
            raise TypeError("state keys must be strings")
        self._call("state.set", {"key": key, "value": to_plain(value, "state value")})

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        if type(key) is not str:
            raise TypeError("state keys must be strings")
        self._call("state.delete", {"key": key})


class Context:
    """``ctx``: everything a function may do, each effect decided by the trusted side."""

    __slots__ = ("_call", "_log_cap", "env", "extras", "http", "message", "state")

    def __init__(self, call: Call, *, env: dict[str, str], extras: Any, log_cap: int = 65536) -> None:
        self._call = call
        self._log_cap = log_cap
        self.http = Http(call)
        self.message = Message(call)
        self.state = State(call)
        self.env = env
        self.extras = extras

    def log(self, *args: Any) -> None:
        """Add one line to the run's logs."""
        # Cut here too, so a 50 MB line does not cross the channel only to be dropped.
        self._call("log", {"text": " ".join(str(a) for a in args)[: self._log_cap]})

    def sleep(self, seconds: float) -> None:
        """Wait; the wait counts against the run's timeout."""
        if type(seconds) not in (int, float):
            raise TypeError("seconds must be a number")
        if not _math.isfinite(seconds):
            raise ValueError("seconds must be a finite number")
        self._call("sleep", {"seconds": seconds})

    def now(self) -> _datetime.datetime:
        """The current time, in UTC, as an aware ``datetime``."""
        return _datetime.datetime.fromisoformat(self._call("now", {}))
