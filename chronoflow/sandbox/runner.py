"""The trusted side of the sandbox: starts the fork server, runs functions, enforces time.

:class:`SandboxRunner` owns one fork server (started lazily, restarted if it dies, stopped by
:meth:`SandboxRunner.close`). A run asks the fork server for a child over a shared control
socket (under a lock, for a few hundred microseconds) and gets back the child's pid and our end
of the child's channel; it then talks to that child alone over the channel, so concurrent runs
from several threads proceed independently. The child is usually a spare the fork server forked
and isolated before the run asked (see :mod:`chronoflow.sandbox.forkserver`), never one that
served another run. The runner, not the child, keeps the clock: at ``timeout_ms`` after the run
asked for its child, the fork server SIGKILLs the child's process group, whatever the child is
doing.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx

from chronoflow.errors import Unavailable
from chronoflow.sandbox import protocol
from chronoflow.sandbox.broker import Broker
from chronoflow.sandbox.compiler import CodeError
from chronoflow.sandbox.outbound import make_http_client
from chronoflow.sandbox.policy import FunctionLimits, SandboxPolicy
from chronoflow.sandbox.results import RunStatus, SandboxResult

#: How long the fork server may take to start and pre-import.
START_TIMEOUT_S = 30.0
#: How long to wait for a child's exit status after its channel closed.
STATUS_WAIT_S = 2.0
#: Limits of the child that only compiles (``check``).
CHECK_LIMITS = FunctionLimits(timeout_ms=5000, max_memory_mb=256)

_STATUS = struct.Struct(">i")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
# The fork server starts with an empty environment (so its children inherit none, not even in
# /proc/PID/environ); the package root comes as an argument instead of PYTHONPATH.
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from chronoflow.sandbox.forkserver import main; main()"
)


class SandboxUnavailable(Unavailable, RuntimeError):
    """The fork server cannot be started or stopped answering.

    An :class:`~chronoflow.errors.Unavailable`: the API answers 503 and keeps the cause (which
    may name host paths) in its log.
    """


class SandboxLayersMissing(Unavailable):
    """The sandbox child lacks isolation layers the policy requires; no user code was compiled or run.

    The message names only layers, never host paths, so it is shown to API clients as it is.

    Attributes:
        missing: the required layers that did not take effect.
        active: the layers that did.
    """

    def __init__(self, missing: tuple[str, ...], active: tuple[str, ...]) -> None:
        self.missing = missing
        self.active = active
        super().__init__(f"the function sandbox lacks the isolation layer(s) FUNCTION_SANDBOX_REQUIRED_LAYERS "
                         f"requires: {', '.join(missing)} (active: {', '.join(active) or 'none'})")


class _ForkServer:
    """A running fork server process and its control socket."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.owner_pid = os.getpid()
        self.control = ours
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-B", "-s", "-c", _BOOTSTRAP, _PACKAGE_ROOT, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                env={},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd="/",
            )
        except OSError as exc:
            ours.close()
            raise SandboxUnavailable(f"the sandbox fork server could not be started: {exc.strerror}") from None
        finally:
            theirs.close()
        ours.settimeout(START_TIMEOUT_S)
        try:
            ready = ours.recv(4096)
        except OSError as exc:
            self.stop()
            raise SandboxUnavailable(f"the sandbox fork server did not start: {exc}") from None
        if not ready:
            self.stop()
            raise SandboxUnavailable("the sandbox fork server exited while starting")
        ours.settimeout(None)

    def fork(self, request: dict[str, Any], status_fd: int) -> tuple[int, int, bool]:
        """Ask for a child; its pid, the descriptor of our end of its channel, and whether it was a spare."""
        socket.send_fds(self.control, [json.dumps(request).encode()], [status_fd])
        self.control.settimeout(START_TIMEOUT_S)
        try:
            answer, fds, _, _ = socket.recv_fds(self.control, 4096, 1, socket.MSG_CMSG_CLOEXEC)
        finally:
            self.control.settimeout(None)
        try:
            if not answer:
                raise ConnectionError("fork server closed its control socket")
            if len(fds) != 1:
                raise ValueError("fork server answered without a channel")
            message = json.loads(answer)
            return int(message["pid"]), fds[0], message.get("spare") is True
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise

    def kill(self, pid: int) -> None:
        self.control.send(json.dumps({"op": "kill", "pid": pid}).encode())

    def stop(self) -> None:
        try:
            self.control.close()  # end of file: the server kills its children and exits
        finally:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class _Child:
    """One sandbox child as seen from the trusted side."""

    def __init__(self, pid: int, channel: socket.socket, status_fd: int, spare: bool) -> None:
        self.pid = pid
        self.channel = channel
        self.status_fd = status_fd
        self.spare = spare
        """Whether the fork server handed out a spare, forked before the run asked."""

    def exit_status(self, timeout: float) -> int | None:
        """The raw wait status, once the fork server reaped the child; ``None`` if not yet."""
        poller = select.poll()  # not select(): a busy worker may hold descriptors past 1024
        poller.register(self.status_fd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            return None
        data = os.read(self.status_fd, _STATUS.size)
        return _STATUS.unpack(data)[0] if len(data) == _STATUS.size else None

    def close(self) -> None:
        self.channel.close()
        os.close(self.status_fd)


def _describe_exit(status: int | None, limits: FunctionLimits) -> tuple[RunStatus, str]:
    if status is None:
        return RunStatus.FAILED, "the sandbox process stopped answering"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return RunStatus.TIMEOUT, "CPU time limit exceeded"
        if sig == signal.SIGKILL:
            return RunStatus.FAILED, "the sandbox process was killed (memory or CPU limit)"
        if sig == signal.SIGSYS:
            return RunStatus.FAILED, "the sandbox process made a forbidden system call"
        if sig == signal.SIGSEGV:
            return RunStatus.FAILED, "the sandbox process crashed (stack or memory limit)"
        return RunStatus.FAILED, f"the sandbox process was killed by {signal.Signals(sig).name}"
    return RunStatus.FAILED, f"the sandbox process exited unexpectedly (code {os.WEXITSTATUS(status)})"


class SandboxRunner:
    """Runs user functions in isolated child processes of a warm fork server.

    Thread-safe: any number of threads may call :meth:`run` and :meth:`check` at once. Use as a
    context manager, or call :meth:`close` when done; the fork server also exits by itself when
    the process that owns the runner dies.

    Args:
        policy: the operator's rules, typically ``SandboxPolicy.from_settings(get_settings())``.
    """

    def __init__(self, policy: SandboxPolicy) -> None:
        if not isinstance(policy, SandboxPolicy):
            raise TypeError("policy must be a SandboxPolicy")
        self.policy = policy
        self.active_layers: tuple[str, ...] = ()
        """Isolation layers the last child reported active (``rlimits``, ``setuid``, ``seccomp``...)."""
        self._lock = threading.Lock()
        self._server: _ForkServer | None = None
        self._http: httpx.Client | None = None
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called: the runner starts no more children."""
        return self._closed

    @property
    def ready(self) -> bool:
        """Whether this process's fork server is running, so the next child forks at once."""
        server = self._server
        return server is not None and server.owner_pid == os.getpid() and server.process.poll() is None

    def start(self) -> None:
        """Start the fork server now instead of on the first run (to keep that run fast)."""
        with self._lock:
            self._ensure_server()

    def close(self) -> None:
        """Stop the fork server (killing any child still running) and release the HTTP client."""
        with self._lock:
            self._closed = True
            server, self._server = self._server, None
            http, self._http = self._http, None
        if server is not None and server.owner_pid == os.getpid():
            server.stop()
        if http is not None:
            http.close()

    # --- fork server ---------------------------------------------------------------------------

    def _ensure_server(self) -> _ForkServer:
        if self._closed:
            raise SandboxUnavailable("the sandbox runner is closed")
        if self._server is not None and self._server.owner_pid != os.getpid():
            self._server = None  # inherited across fork(): that server belongs to our parent
        if self._server is not None and self._server.process.poll() is not None:
            self._server.stop()
            self._server = None
        if self._server is None:
            self._server = _ForkServer()
        return self._server

    def _spawn(self, limits: FunctionLimits) -> _Child:
        status_r, status_w = os.pipe()
        request = {
            "op": "fork",
            "limits": {"timeout_ms": limits.timeout_ms, "max_memory_mb": limits.max_memory_mb},
            "uid": self.policy.sandbox_uid,
            "netns": self.policy.network_namespace,
            "required": list(self.policy.required_layers),
        }
        try:
            with self._lock:
                for attempt in (1, 2):
                    server = self._ensure_server()
                    try:
                        pid, channel_fd, spare = server.fork(request, status_w)
                        break
                    except (OSError, ValueError, KeyError, TypeError) as exc:
                        server.stop()
                        self._server = None
                        if attempt == 2:
                            raise SandboxUnavailable(f"the sandbox fork server failed: {exc}") from None
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        return _Child(pid, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, channel_fd), status_r, spare)

    def _kill(self, pid: int) -> None:
        with self._lock:
            server = self._server
            if server is not None:
                try:
                    server.kill(pid)
                except OSError:
                    pass  # the server is gone, and its children with it

    def _http_client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = make_http_client()
            return self._http

    # --- public --------------------------------------------------------------------------------

    def ping(self) -> tuple[str, ...]:
        """Get one child forked through every isolation layer and wait for its answer.

        The child is the fork server's spare for these limits when it has one (forked and
        isolated before the call), else forked for it. A health check (is the sandbox usable on
        this host?) and the bare fork-server round trip of ``bench/sandbox.py``.

        Returns:
            The isolation layers the child reported active.

        Raises:
            SandboxUnavailable: when no child could be started or it did not answer.
        """
        child = self._spawn(CHECK_LIMITS)
        try:
            protocol.send(child.channel, {"op": "ping"})
            answer = protocol.recv(child.channel, deadline=time.monotonic() + 5, max_bytes=65536)
        except (TimeoutError, protocol.ChannelClosed, protocol.FrameError, OSError) as exc:
            raise SandboxUnavailable(f"the sandbox child did not answer: {exc}") from None
        finally:
            self._kill(child.pid)
            child.close()
        self._note_layers(answer)
        return self.active_layers

    def check(self, code: str) -> None:
        """Compile ``code`` in a sandbox child, as a run would.

        Raises:
            CodeError: with ``line`` and ``reason`` when the code does not compile, is refused by
                RestrictedPython, lacks a top-level ``def run(ctx)``, or exhausts the compile
                limits.
            SandboxUnavailable: when no sandbox process can be started.
            SandboxLayersMissing: when the child lacks a required isolation layer.
        """
        if type(code) is not str:
            raise CodeError(0, "code must be a string")
        child = self._spawn(CHECK_LIMITS)
        deadline = time.monotonic() + CHECK_LIMITS.timeout_ms / 1000
        try:
            protocol.send(child.channel, {"op": "check", "code": code})
            answer = protocol.recv(child.channel, deadline=deadline, max_bytes=65536)
        except TimeoutError:
            raise CodeError(0, "compiling took too long") from None
        except (protocol.ChannelClosed, protocol.FrameError, OSError):
            _, reason = _describe_exit(child.exit_status(STATUS_WAIT_S), CHECK_LIMITS)
            raise CodeError(0, f"the code cannot be compiled: {reason}") from None
        finally:
            self._kill(child.pid)
            child.close()
        self._note_layers(answer)
        if answer.get("kind") == "unisolated":
            raise self._layers_missing(answer)
        if answer.get("kind") == "code_error":
            line = answer.get("line")
            raise CodeError(line if type(line) is int else 0, str(answer.get("reason")))
        if answer.get("kind") != "checked":
            raise CodeError(0, "the sandbox gave no answer")

    def run(
        self,
        code: str,
        *,
        extras: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        limits: FunctionLimits | None = None,
        send_message: Callable[[str, str], str] | None = None,
    ) -> SandboxResult:
        """Run ``code``'s ``run(ctx)`` once in a fresh sandbox child.

        Args:
            code: the function's source.
            extras: the chrono's extras, given as ``ctx.extras`` (JSON).
            state: the function's stored state, served to ``ctx.state`` (a JSON object).
            limits: the function's limits; defaults apply when omitted.
            send_message: ``(digits, text) -> message id``, called here, on the trusted side,
                after the recipient, size, count and rate checks; it may raise.

        Returns:
            The outcome; user errors, kills and limits are statuses, never exceptions.

        Raises:
            ValueError: if ``extras`` or ``state`` is not strict JSON.
            SandboxUnavailable: when no sandbox process can be started.
            SandboxLayersMissing: when the child lacks a required isolation layer (no code ran).
        """
        limits = limits or FunctionLimits()
        state = {} if state is None else state
        if type(state) is not dict:
            raise ValueError("state must be a JSON object")
        json.dumps(extras, allow_nan=False)
        started = time.monotonic()
        deadline = started + limits.timeout_ms / 1000
        broker = Broker(self.policy, limits, state=state, deadline=deadline, http=self._http_client(),
                        send_message=send_message)
        child = self._spawn(limits)
        try:
            status, value, error, trace = self._converse(child, broker, code, extras, limits, deadline)
        finally:
            self._kill(child.pid)
            child.close()
        success = status is RunStatus.SUCCESS
        return SandboxResult(
            status=status,
            result=value if success else None,
            logs=broker.logs,
            error=error,
            traceback=trace,
            duration_ms=round((time.monotonic() - started) * 1000),
            http_count=broker.http_count,
            message_count=broker.message_count,
            state=broker.state if success else None,
            messages=broker.messages,
        )

    # --- conversation with one child -----------------------------------------------------------

    def _converse(
        self, child: _Child, broker: Broker, code: str, extras: Any, limits: FunctionLimits, deadline: float
    ) -> tuple[RunStatus, Any, str | None, str | None]:
        timed_out = (RunStatus.TIMEOUT, None, f"timed out after {limits.timeout_ms} ms", None)
        job = {"op": "run", "code": code, "extras": extras, "env": dict(self.policy.env),
               "max_log_bytes": limits.max_log_bytes}
        try:
            protocol.send(child.channel, job)
            while True:
                message = protocol.recv(child.channel, deadline=deadline)
                kind = message.get("kind")
                if kind == "call":
                    answer = broker.handle(message)
                    if time.monotonic() >= deadline:
                        return timed_out
                    protocol.send(child.channel, answer)
                    continue
                self._note_layers(message)
                if kind == "unisolated":
                    raise self._layers_missing(message)
                if kind == "result":
                    return self._success(message.get("value"), limits)
                if kind == "failed":
                    error, trace = message.get("error"), message.get("traceback")
                    return (RunStatus.FAILED, None, str(error)[:2000] if error else "failed",
                            trace[:20000] if type(trace) is str else None)
                return RunStatus.FAILED, None, "the sandbox sent an unexpected message", None
        except TimeoutError:
            return timed_out
        except protocol.FrameError as exc:
            return RunStatus.FAILED, None, f"the sandbox sent an invalid message: {exc}", None
        except (protocol.ChannelClosed, OSError):
            if time.monotonic() >= deadline:
                return timed_out
            status, reason = _describe_exit(child.exit_status(STATUS_WAIT_S), limits)
            return status, None, reason, None

    def _success(self, value: Any, limits: FunctionLimits) -> tuple[RunStatus, Any, str | None, str | None]:
        size = len(json.dumps(value, allow_nan=False, separators=(",", ":")).encode())
        if size > limits.max_result_bytes:
            return RunStatus.FAILED, None, f"return value is {size} bytes, over the {limits.max_result_bytes} byte cap", None
        return RunStatus.SUCCESS, value, None, None

    def _layers_missing(self, answer: dict[str, Any]) -> SandboxLayersMissing:
        """The error for a child that refused to work, named from the layers it reported."""
        layers = answer.get("layers")
        active = tuple(x for x in layers if type(x) is str) if type(layers) is list else ()
        return SandboxLayersMissing(self.policy.missing_layers(active) or tuple(self.policy.required_layers), active)

    def _note_layers(self, message: dict[str, Any]) -> None:
        layers = message.get("layers")
        if type(layers) is list and all(type(x) is str for x in layers):
            self.active_layers = tuple(layers)
