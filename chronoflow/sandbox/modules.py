"""The few library facilities user code may import, as small facades.

A real module object is never handed out: ``json.codecs.open``, ``re.enum.sys`` or
``datetime.sys`` reach the host in a few public hops. Each facade is an instance of a slotted
class whose attributes are named functions, classes and constants only; ``import json`` or
``from datetime import datetime`` in user code resolve here through :func:`safe_import`.
"""

from __future__ import annotations

import base64 as _base64
import datetime as _datetime
import decimal as _decimal
import hashlib as _hashlib
import hmac as _hmac
import json as _json
import math as _math
import random as _random
import re as _re
import sys
import zoneinfo as _zoneinfo
from collections.abc import Callable, Mapping
from typing import Any


def _facade(name: str, members: Mapping[str, Any]) -> object:
    """An immutable object exposing ``members`` as attributes and nothing else."""
    namespace: dict[str, Any] = {"__slots__": (), "__module__": "function", "__qualname__": name}
    for key, value in members.items():
        # Plain functions would bind as methods; classes and constants are stored as they are.
        namespace[key] = staticmethod(value) if callable(value) and not isinstance(value, type) else value

    def refuse(self: object, key: str, value: object) -> None:
        raise AttributeError(f"module {name!r} is read-only")

    namespace["__setattr__"] = refuse
    namespace["__repr__"] = lambda self: f"<module {name!r}>"
    return type(name, (), namespace)()


def _json_loads(text: str | bytes) -> Any:
    return _json.loads(text)


def _json_dumps(value: Any, indent: int | None = None, sort_keys: bool = False, ensure_ascii: bool = True) -> str:
    return _json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii, allow_nan=False)


def _hmac_new(key: bytes, msg: bytes | None = None, digestmod: str = "sha256") -> Any:
    if type(digestmod) is not str:
        raise TypeError("digestmod must be a hash name such as 'sha256'")
    return _hmac.new(key, msg, digestmod)


def _math_members() -> dict[str, Any]:
    return {name: getattr(_math, name) for name in dir(_math) if not name.startswith("_")}


def _random_members(rng: _random.Random) -> dict[str, Callable[..., Any]]:
    names = ("random", "randint", "randrange", "choice", "choices", "shuffle", "sample", "uniform", "gauss")
    # Wrap the bound methods so no Random instance is reachable (and reseeding stays per child).
    members: dict[str, Callable[..., Any]] = {}
    for name in names:
        members[name] = _forwarder(getattr(rng, name))
    return members


def _forwarder(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    return call


#: The generator behind the ``random`` facade; reseeded from the OS in every child.
_RNG = _random.Random()


def build_modules() -> dict[str, object]:
    """The facades, built once (in the fork server) and shared by every child.

    Children inherit them by ``fork``; :func:`reseed` gives each child its own random stream.
    """
    if not _MODULES:
        _MODULES.update(_build())
    return _MODULES


def reseed() -> None:
    """Seed ``random`` from the OS: without it every child would replay the fork server's stream."""
    _RNG.seed()


_MODULES: dict[str, object] = {}


def _build() -> dict[str, object]:
    return {
        "json": _facade("json", {"loads": _json_loads, "dumps": _json_dumps, "JSONDecodeError": _json.JSONDecodeError}),
        "math": _facade("math", _math_members()),
        "re": _facade("re", {
            name: getattr(_re, name)
            for name in ("match", "fullmatch", "search", "findall", "finditer", "sub", "subn", "split",
                         "escape", "compile", "error", "IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S",
                         "VERBOSE", "X", "ASCII", "A")
        }),
        "datetime": _facade("datetime", {
            "datetime": _datetime.datetime, "date": _datetime.date, "time": _datetime.time,
            "timedelta": _datetime.timedelta, "timezone": _datetime.timezone,
            "MINYEAR": _datetime.MINYEAR, "MAXYEAR": _datetime.MAXYEAR,
        }),
        "zoneinfo": _facade("zoneinfo", {"ZoneInfo": _zoneinfo.ZoneInfo}),
        "random": _facade("random", _random_members(_RNG)),
        "decimal": _facade("decimal", {
            name: getattr(_decimal, name)
            for name in ("Decimal", "InvalidOperation", "DivisionByZero", "ROUND_HALF_UP", "ROUND_HALF_EVEN",
                         "ROUND_HALF_DOWN", "ROUND_UP", "ROUND_DOWN", "ROUND_CEILING", "ROUND_FLOOR")
        }),
        "hashlib": _facade("hashlib", {"sha256": _hashlib.sha256, "sha1": _hashlib.sha1, "md5": _hashlib.md5,
                                       "sha512": _hashlib.sha512}),
        "hmac": _facade("hmac", {"new": _hmac_new, "compare_digest": _hmac.compare_digest}),
        "base64": _facade("base64", {
            name: getattr(_base64, name)
            for name in ("b64encode", "b64decode", "urlsafe_b64encode", "urlsafe_b64decode")
        }),
    }


def safe_import(modules: Mapping[str, object]) -> Callable[..., object]:
    """The ``__import__`` the restricted code gets: facades by exact name, nothing else."""

    def guarded_import(name: str, globals: object = None, locals: object = None,
                       fromlist: object = (), level: int = 0) -> object:
        # C code (datetime.strptime...) imports helpers lazily through the builtins of the
        # running frame, passing a *list* as fromlist. Import statements pass None or a tuple,
        # so this branch serves only interpreter internals, and only with modules the fork
        # server already loaded; the module goes to that C code, never to the user.
        if type(fromlist) is list and type(name) is str and name in sys.modules:
            return sys.modules[name]
        if type(name) is not str or level != 0 or name not in modules:
            raise ImportError(f"import of {name!r} is not allowed; available: {', '.join(sorted(modules))}")
        return modules[name]

    return guarded_import
