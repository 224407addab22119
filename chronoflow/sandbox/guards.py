"""The restricted globals user code runs with: builtins allowlist and RestrictedPython guards.

RestrictedPython rewrites ``a.b`` into ``_getattr_(a, "b")``, ``a[b]`` into ``_getitem_``,
loops into ``_getiter_``, writes into ``_write_`` and ``print`` into ``_print_``; this module
supplies those hooks, stricter than RestrictedPython's defaults:

* attribute reads refuse ``_`` names, the inspection attributes of frames, generators,
  coroutines and tracebacks, ``mro`` on classes, ``format``/``format_map`` on strings (the
  ``'{0.__init__.__globals__}'.format(x)`` walk), ``obj`` on exceptions, every attribute of
  frames, code, functions and tracebacks, and any value that is a module;
* writes are allowed on dicts, lists, sets and instances of classes the user defined;
* ``print`` goes to the run's logs.

No ``getattr``, ``setattr``, ``type``, ``vars``, ``dir``, ``globals``, ``eval``, ``exec``,
``open`` or real ``__import__`` is handed in.
"""

from __future__ import annotations

import builtins
import operator
import types
import weakref
from collections.abc import Callable
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence, safe_builtins
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from chronoflow.sandbox.modules import build_modules, reseed, safe_import

_EXTRA_BUILTINS = (
    "dict", "list", "tuple", "set", "frozenset", "enumerate", "zip", "sorted", "reversed", "min", "max",
    "sum", "any", "all", "map", "filter", "iter", "next", "bin", "StopAsyncIteration",
)
_REMOVED_BUILTINS = ("setattr", "delattr", "_getattr_")

#: Types none of whose attributes user code may read (their public ones lead to frames/globals).
_OPAQUE_TYPES = (
    types.FrameType, types.TracebackType, types.CodeType, types.FunctionType, types.BuiltinFunctionType,
    types.MethodType, types.CoroutineType, types.AsyncGeneratorType, types.ModuleType, types.CellType,
    types.MappingProxyType, types.GetSetDescriptorType, types.MemberDescriptorType, types.WrapperDescriptorType,
    types.MethodWrapperType, types.MethodDescriptorType, types.ClassMethodDescriptorType,
)
_GENERATOR_ATTRIBUTES = frozenset({"send", "throw", "close"})
_FRAME_PREFIXES = ("gi_", "cr_", "ag_", "f_", "tb_", "co_")
_FORMAT_NAMES = frozenset({"format", "format_map"})

_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
    "@=": operator.imatmul,
}


def guarded_getattr(obj: Any, name: str) -> Any:
    """``obj.name`` for user code, refusing every known route out of the sandbox."""
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    # AttributeError, not TypeError, below: it is what user code expects from a missing attribute.
    if name.startswith("_") or name in INSPECT_ATTRIBUTES or name.startswith(_FRAME_PREFIXES):
        raise AttributeError(f"access to attribute {name!r} is not allowed")
    if isinstance(obj, _OPAQUE_TYPES):
        raise AttributeError(f"attributes of {type(obj).__name__} objects are not accessible")  # noqa: TRY004
    if isinstance(obj, types.GeneratorType) and name not in _GENERATOR_ATTRIBUTES:
        raise AttributeError(f"access to attribute {name!r} is not allowed")
    if isinstance(obj, type) and name == "mro":
        raise AttributeError("access to attribute 'mro' is not allowed")
    if name in _FORMAT_NAMES and (isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))):
        raise AttributeError("str.format is not allowed; use f-strings or % formatting")
    if name == "obj" and isinstance(obj, BaseException):
        raise AttributeError("access to attribute 'obj' is not allowed")
    value = getattr(obj, name)
    if isinstance(value, types.ModuleType):
        raise AttributeError(f"access to attribute {name!r} is not allowed")  # noqa: TRY004
    return value


def guarded_getitem(obj: Any, key: Any) -> Any:
    """``obj[key]`` for user code; items hold no route out, but modules are still refused."""
    value = obj[key]
    if isinstance(value, types.ModuleType):
        raise TypeError("modules are not accessible")
    return value


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    try:
        return _INPLACE[op](target, value)
    except KeyError:
        raise SyntaxError(f"operator {op} is not allowed") from None


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


class _PrintSink:
    """What ``print`` writes to: each call becomes one log line of the run."""

    __slots__ = ("_log", "_text")

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._text: list[str] = []

    def _call_print(self, *objects: Any, sep: str | None = " ", end: str | None = "\n",
                    file: Any = None, flush: bool = False) -> None:
        if file is not None:
            raise TypeError("print(file=...) is not supported; output goes to the run's logs")
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if type(sep) is not str or type(end) is not str:
            raise TypeError("sep and end must be strings")
        line = sep.join(str(o) for o in objects) + end
        if len(self._text) < 1000:
            self._text.append(line)
        self._log(line.removesuffix("\n"))

    def __call__(self) -> str:
        return "".join(self._text)


def build_globals(log: Callable[[str], None]) -> dict[str, Any]:
    """Fresh globals for one run of user code.

    Args:
        log: receives each ``print`` line (the SDK's log call).
    """
    user_classes: weakref.WeakSet[type] = weakref.WeakSet()

    def metaclass(name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> type:
        # Classes the user defines are theirs to mutate: remember them for the write guard.
        cls = type(name, bases, namespace, **kwargs)
        user_classes.add(cls)
        return cls

    def guarded_write(obj: Any) -> Any:
        if type(obj) in (dict, list, set) or type(obj) in user_classes:
            return obj
        raise TypeError(f"{type(obj).__name__} objects cannot be modified")

    restricted_builtins = {k: v for k, v in safe_builtins.items() if k not in _REMOVED_BUILTINS}
    restricted_builtins.update({name: getattr(builtins, name) for name in _EXTRA_BUILTINS})
    reseed()
    restricted_builtins["__import__"] = safe_import(build_modules())
    return {
        "__builtins__": restricted_builtins,
        "__name__": "function",
        "__metaclass__": metaclass,
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": guarded_write,
        "_inplacevar_": _inplacevar,
        "_apply_": _apply,
        "_print_": lambda _getattr=None: _PrintSink(log),
    }
