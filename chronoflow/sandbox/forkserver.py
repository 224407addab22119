"""The fork server: a warm, pre-imported process that forks the sandbox children, one per run.

Started once by :class:`chronoflow.sandbox.runner.SandboxRunner` with an empty environment,
running :func:`main` with ``sys.argv[1]`` = ``FD``, a ``SOCK_SEQPACKET`` control socket. Requests
on it are one JSON datagram each:

* ``{"op": "fork", "limits": {...}, "uid": 65534, "netns": true, "required": [...]}`` with one
  descriptor attached, the write end of the runner's status pipe: hands out a child for those
  settings and answers ``{"pid": N, "spare": true|false}`` with one descriptor attached, the
  runner's end of the child's channel (a ``SOCK_STREAM`` socketpair this server made; the
  child holds the other end as fd 3). When the child exits, its raw wait status is written to
  the status pipe as 4 bytes, then the pipe is closed. A child lacking one of the ``required``
  layers answers every job with ``{"kind": "unisolated"}`` instead of running it.
* ``{"op": "kill", "pid": N}``: SIGKILLs the process group of a child handed out by a ``fork``
  answer, if it is still one of ours (not yet reaped, so the pid cannot have been reused). No
  answer.

End of file on the control socket (the owner died or closed it) kills every child, spares
included, reaps them and exits.

**Spares.** Forking a child and isolating it (:func:`chronoflow.sandbox.isolation.isolate`)
costs several milliseconds, so the server keeps one ready child, a *spare*, per distinct set of
fork settings (the request without its ``op``): forked and isolated through exactly the path of
a child forked on request (:func:`_start_child`), then blocked reading its channel, whose other
end only this server holds until the hand-out. A ``fork`` request takes the spare of its
settings when there is one (``"spare": true``) and forks a child otherwise; the status pipe is
attached to the child at the hand-out. The server answers first and then forks the replacement
spare, which isolates itself while the runner talks to the child it got. A spare has read
nothing, so it has seen no job and no user code before its hand-out; it is as fresh as a child
forked on request, only older:

* ``RLIMIT_CPU`` counts the CPU time of the whole process, from the fork: a spare blocked on its
  channel uses none, so a run's CPU budget is the same whichever child it gets. Its wall clock
  is the runner's, started when the run asks for a child, never the child's age.
* ``RLIMIT_AS`` is the child's size when it isolated itself plus the run's memory limit,
  computed the same way for a spare as for a child forked on request, from the same warm heap.
* The ``random`` facade is reseeded when the child builds the run's globals, after the hand-out.

At most one spare is kept per settings and at most :data:`MAX_SPARE_KEYS` settings have one:
the spare of the least recently used settings is killed when another appears. A spare that dies
before its hand-out (reaped through its pidfd, or seen dead by the check at hand-out) is dropped,
never handed out, and a child is forked on request instead.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
from typing import Any

# Pre-imports: everything a child needs is loaded once here and shared copy-on-write, and nothing more:
# the package's __init__ imports none of its modules, so no runner, broker or HTTP client is in this heap.
import RestrictedPython  # noqa: F401

from chronoflow.sandbox import child as sandbox_child
from chronoflow.sandbox import compiler, guards, isolation, modules, protocol, sdk  # noqa: F401

_STATUS = struct.Struct(">i")

#: Distinct fork settings (limits, uid, netns, required layers) that keep a spare child at once.
MAX_SPARE_KEYS = 4


def _warm_up() -> None:
    """Compile and build globals once so the first child pays nothing extra."""
    code = compiler.compile_function("def run(ctx):\n    x = [i for i in range(3)]\n    return {'n': len(x)}\n")
    exec(code, guards.build_globals(lambda line: None))  # noqa: S102 - our own warm-up code
    import _strptime  # type: ignore[import-not-found]  # noqa: F401  (datetime.strptime imports it lazily)
    import encodings.idna  # noqa: F401


def _start_child(request: dict[str, Any], channel_fd: int, server_pid: int) -> int:
    pid = os.fork()
    if pid:
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child already did it, or already exited
        return pid
    status = 70
    try:
        os.setpgid(0, 0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        if channel_fd != 3:
            os.dup2(channel_fd, 3)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(4, 1 << 16)
        os.environ.clear()
        channel = socket.socket(fileno=3)  # before seccomp: wrapping a descriptor queries it
        layers = isolation.isolate(
            request["limits"], uid=int(request.get("uid", 65534)), network_namespace=bool(request.get("netns"))
        )
        if os.getppid() != server_pid:
            os._exit(status)
        missing = [name for name in request.get("required", ()) if name not in layers]
        sandbox_child.serve(channel, layers, missing)
    finally:
        os._exit(status)


class _Child:
    """A child of this server: a spare until its hand-out, then the child of one run."""

    __slots__ = ("channel", "key", "pid", "pidfd", "status_fd")

    def __init__(self, pid: int, pidfd: int, channel: int, key: str) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.channel: int | None = channel
        """The runner's end of the child's channel, held here until the hand-out."""
        self.key = key
        self.status_fd: int | None = None
        """The runner's status pipe, attached at the hand-out."""


def _spare_key(request: dict[str, Any]) -> str:
    """Everything a fork request asks a child to be, as one string: children of equal keys are alike."""
    return json.dumps({k: v for k, v in request.items() if k != "op"}, sort_keys=True, separators=(",", ":"))


def _exited(pidfd: int) -> bool:
    """Whether the process behind ``pidfd`` has exited (reaped or not), without waiting."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


class _Server:
    """The children of one fork server, spares included, and the poller that watches them."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.pid = os.getpid()
        self.children: dict[int, _Child] = {}  # by pid
        self.by_pidfd: dict[int, _Child] = {}
        self.spares: collections.OrderedDict[str, _Child] = collections.OrderedDict()  # oldest use first
        self.poller = select.poll()  # not select(): many concurrent children mean descriptors past 1024
        self.poller.register(control.fileno(), select.POLLIN)

    def fork(self, request: dict[str, Any], key: str) -> _Child:
        """A new child for ``request`` (:func:`_start_child`), the runner's end of its channel kept here."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        channel = ours.detach()  # a plain descriptor: no socket object a child could close by collecting it
        try:
            pid = _start_child(request, theirs.fileno(), self.pid)
        except BaseException:
            os.close(channel)
            raise
        finally:
            theirs.close()
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            _kill_group(pid)
            os.waitpid(pid, 0)
            os.close(channel)
            raise
        child = _Child(pid, pidfd, channel, key)
        self.children[pid] = child
        self.by_pidfd[pidfd] = child
        self.poller.register(pidfd, select.POLLIN)
        return child

    def reap(self, child: _Child) -> None:
        """Collect an exited child; a run's child gets its wait status, a spare is dropped."""
        self.poller.unregister(child.pidfd)
        _, status = os.waitpid(child.pid, 0)
        os.close(child.pidfd)
        del self.children[child.pid], self.by_pidfd[child.pidfd]
        if child.channel is not None:  # a spare that died before its hand-out
            if self.spares.get(child.key) is child:
                del self.spares[child.key]
            os.close(child.channel)
            child.channel = None
        if child.status_fd is not None:
            try:
                os.write(child.status_fd, _STATUS.pack(status))
            except OSError:
                pass  # the runner no longer listens
            os.close(child.status_fd)

    def take_spare(self, key: str) -> _Child | None:
        """The live spare for ``key``, removed from the spares; ``None`` when there is none."""
        spare = self.spares.pop(key, None)
        if spare is not None and _exited(spare.pidfd):
            self.reap(spare)  # killed or crashed before its hand-out: never handed out
            return None
        return spare

    def hand_out(self, request: dict[str, Any], status_fd: int) -> None:
        """Answer a fork request with a spare or a new child, then fork the replacement spare."""
        key = _spare_key(request)
        child = self.take_spare(key)
        spare = child is not None
        if child is None:
            try:
                child = self.fork(request, key)
            except BaseException:
                os.close(status_fd)
                raise
        channel, child.channel = child.channel, None
        child.status_fd = status_fd
        assert channel is not None
        try:
            answer = json.dumps({"pid": child.pid, "spare": spare}).encode()
            socket.send_fds(self.control, [answer], [channel])
        finally:
            os.close(channel)
        self.add_spare(request, key)

    def add_spare(self, request: dict[str, Any], key: str) -> None:
        """Fork the spare of ``key``, killing the least recently used key's spare past the bound."""
        try:
            spare = self.fork(request, key)
        except OSError:
            return  # no spare this time (out of processes or memory): the next request forks
        self.spares[key] = spare
        while len(self.spares) > MAX_SPARE_KEYS:
            _, oldest = self.spares.popitem(last=False)
            _kill_group(oldest.pid)  # reaped through its pidfd, its channel closed then

    def kill(self, pid: object) -> None:
        """SIGKILL the process group of a handed-out child that is still ours."""
        child = self.children.get(pid) if type(pid) is int else None
        if child is not None and child.status_fd is not None:
            _kill_group(child.pid)

    def kill_all(self) -> None:
        """SIGKILL every child, spares included, and reap them: none outlives the server."""
        for pid in self.children:
            _kill_group(pid)
        for child in list(self.children.values()):
            self.reap(child)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def serve(control: socket.socket) -> None:
    """Answer fork and kill requests until the control socket closes."""
    server = _Server(control)
    try:
        while True:
            readable = [fd for fd, _ in server.poller.poll()]
            for fd in readable:
                exited = server.by_pidfd.get(fd)
                if exited is not None:
                    server.reap(exited)
            if control.fileno() not in readable:
                continue
            data, fds, _, _ = socket.recv_fds(control, 65536, 1)
            if not data:
                return
            request = json.loads(data)
            if request.get("op") == "fork" and len(fds) == 1:
                server.hand_out(request, fds[0])
            else:
                for fd in fds:
                    os.close(fd)
                if request.get("op") == "kill":
                    server.kill(request.get("pid"))
    finally:
        server.kill_all()


def main() -> None:
    """Entry point; ``sys.argv[1]`` is the control socket's descriptor."""
    control = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is for the owner
    _warm_up()
    gc.collect()
    gc.freeze()  # keep the warm heap out of the collector so children do not copy it
    control.send(b'{"ready": true}')
    serve(control)


if __name__ == "__main__":
    main()
