"""The fork server: a warm, pre-imported process that forks one sandbox child per run.

Started once by :class:`chronoflow.sandbox.runner.SandboxRunner` with an empty environment,
running :func:`main` with ``sys.argv[1]`` = ``FD``, a ``SOCK_SEQPACKET`` control socket. Requests on it (one JSON datagram each):

* ``{"op": "fork", "limits": {...}, "uid": 65534, "netns": true, "required": [...]}`` with two
  descriptors attached (the child's channel and a status pipe): forks a child, answers
  ``{"pid": N}``. A child lacking one of the ``required`` layers answers every job with
  ``{"kind": "unisolated"}`` instead of running it. When the child exits, its raw wait status is
  written to the status pipe as 4 bytes, then the pipe is closed.
* ``{"op": "kill", "pid": N}``: SIGKILLs the child's process group if the child is still one
  of ours (not yet reaped, so the pid cannot have been reused). No answer.

End of file on the control socket (the owner died or closed it) kills every child and exits.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import struct
import sys
from typing import Any

# Pre-imports: everything a child needs is loaded once here and shared copy-on-write.
import RestrictedPython  # noqa: F401

from chronoflow.sandbox import child, compiler, guards, isolation, modules, protocol, sdk  # noqa: F401

_STATUS = struct.Struct(">i")


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
        child.serve(channel, layers, missing)
    finally:
        os._exit(status)


def serve(control: socket.socket) -> None:
    """Answer fork and kill requests until the control socket closes."""
    server_pid = os.getpid()
    children: dict[int, tuple[int, int]] = {}  # pid -> (pidfd, status fd)
    pidfds: dict[int, int] = {}  # pidfd -> pid
    poller = select.poll()  # not select(): many concurrent children mean descriptors past 1024
    poller.register(control.fileno(), select.POLLIN)
    try:
        while True:
            readable = [fd for fd, _ in poller.poll()]
            for fd in readable:
                if fd == control.fileno():
                    continue
                poller.unregister(fd)
                pid = pidfds.pop(fd)
                _, status = os.waitpid(pid, 0)
                _, status_fd = children.pop(pid)
                os.close(fd)
                try:
                    os.write(status_fd, _STATUS.pack(status))
                except OSError:
                    pass  # the runner no longer listens
                os.close(status_fd)
            if control.fileno() not in readable:
                continue
            data, fds, _, _ = socket.recv_fds(control, 65536, 2)
            if not data:
                return
            request = json.loads(data)
            if request.get("op") == "fork" and len(fds) == 2:
                channel_fd, status_fd = fds
                pid = _start_child(request, channel_fd, server_pid)
                os.close(channel_fd)
                pidfd = os.pidfd_open(pid)
                children[pid] = (pidfd, status_fd)
                pidfds[pidfd] = pid
                poller.register(pidfd, select.POLLIN)
                control.send(json.dumps({"pid": pid}).encode())
            else:
                for fd in fds:
                    os.close(fd)
                if request.get("op") == "kill" and request.get("pid") in children:
                    try:
                        os.killpg(request["pid"], signal.SIGKILL)
                    except ProcessLookupError:
                        pass
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


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
