"""The sandbox child: reads one job from its channel, compiles, runs, answers, exits.

It runs after :func:`chronoflow.sandbox.isolation.isolate`, as an unprivileged process whose
only open descriptor is the channel, and refuses any user code when a required layer is missing. Every ``ctx`` call is a request over that channel; the
final frame carries the result or the user's error with a traceback limited to the user's code.
"""

from __future__ import annotations

import os
import socket
import traceback
from types import FunctionType
from typing import Any, NoReturn

from chronoflow.sandbox import protocol, sdk
from chronoflow.sandbox.compiler import FILENAME, CodeError, compile_function
from chronoflow.sandbox.guards import build_globals

#: Longest error message sent back; longer ones are cut.
MAX_ERROR_CHARS = 2000

#: Frames of user code kept in a traceback (the innermost ones).
MAX_TRACEBACK_FRAMES = 30


class _Channel:
    """The child's end of the channel: one request, one answer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def call(self, op: str, args: dict[str, Any]) -> Any:
        try:
            frame = protocol.encode({"kind": "call", "op": op, "args": args})
        except ValueError:
            raise ValueError("SDK arguments must be JSON without NaN or Infinity") from None
        self.sock.sendall(frame)
        answer = protocol.recv(self.sock)
        if "error" in answer:
            error = answer["error"]
            raise sdk.ERRORS.get(str(error.get("type")), sdk.SdkError)(str(error.get("message")))
        return answer.get("ok")


def user_traceback(exc: BaseException, source: str) -> str:
    """A traceback of ``exc`` with the user's frames only, under the ``<function>`` name."""
    lines = source.splitlines()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == FILENAME]
    out = ["Traceback (most recent call last):"]
    for frame in frames[-MAX_TRACEBACK_FRAMES:]:
        out.append(f'  File "{FILENAME}", line {frame.lineno}, in {frame.name}')
        if frame.lineno and 0 < frame.lineno <= len(lines):
            out.append(f"    {lines[frame.lineno - 1].strip()}")
    out.append(describe(exc))
    return "\n".join(out)


def describe(exc: BaseException) -> str:
    """``"ZeroDivisionError: division by zero"``, cut to :data:`MAX_ERROR_CHARS`."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a user exception whose __str__ fails still needs a name
        text = ""
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name)[:MAX_ERROR_CHARS]


def _run(channel: _Channel, job: dict[str, Any]) -> dict[str, Any]:
    source = job["code"]
    try:
        code = compile_function(source)
    except CodeError as exc:
        return {"kind": "failed", "error": str(exc), "line": exc.line}
    max_log = int(job.get("max_log_bytes", 65536))

    def log(text: str) -> None:
        channel.call("log", {"text": text[:max_log]})

    ctx = sdk.Context(channel.call, env=dict(job.get("env") or {}), extras=job.get("extras"), log_cap=max_log)
    namespace = build_globals(log)
    try:
        exec(code, namespace)  # noqa: S102 - restricted code object, restricted globals
        entry = namespace.get("run")
        if type(entry) is not FunctionType:
            return {"kind": "failed", "error": "run is not a function"}
        value = entry(ctx)
        del entry, namespace
        return {"kind": "result", "value": sdk.to_plain(value, "the return value")}
    except MemoryError:
        return {"kind": "failed", "error": "memory limit exceeded"}
    except protocol.ChannelClosed:
        raise
    except BaseException as exc:  # noqa: BLE001 - the user's error, whatever it is, ends the run cleanly
        if isinstance(exc, RecursionError):
            return {"kind": "failed", "error": describe(exc), "traceback": user_traceback(exc, source)[-8000:]}
        return {"kind": "failed", "error": describe(exc), "traceback": user_traceback(exc, source)}


def serve(sock: socket.socket, layers: list[str], missing: list[str] | None = None) -> NoReturn:
    """Handle the one job of this child, then exit without running any cleanup handlers.

    With ``missing`` required layers, a ``check`` or ``run`` is answered ``unisolated`` without
    compiling or running anything; a ``ping`` is still answered, so the trusted side can see
    which layers hold.
    """
    status = 0
    try:
        job = protocol.recv(sock)
        if job.get("op") == "ping":
            answer: dict[str, Any] = {"kind": "pong"}
        elif missing:
            answer = {"kind": "unisolated", "missing": missing}
        elif job.get("op") == "check":
            try:
                compile_function(job["code"])
                answer = {"kind": "checked"}
            except CodeError as exc:
                answer = {"kind": "code_error", "line": exc.line, "reason": exc.reason}
            except MemoryError:
                answer = {"kind": "code_error", "line": 0, "reason": "memory limit exceeded while compiling"}
        else:
            answer = _run(_Channel(sock), job)
        answer["layers"] = layers
        try:
            protocol.send(sock, answer)
        except (TypeError, ValueError) as exc:
            protocol.send(sock, {"kind": "failed", "error": describe(exc), "layers": layers})
    except MemoryError:
        try:
            protocol.send(sock, {"kind": "failed", "error": "memory limit exceeded", "layers": layers})
        except BaseException:  # noqa: BLE001 - nothing left to report with
            status = 3
    except BaseException:  # noqa: BLE001 - the channel is gone; exit with a code the runner decodes
        status = 2
    os._exit(status)
