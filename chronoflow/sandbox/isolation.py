"""Operating-system layers around a sandbox child, applied right after the fork.

Order matters: resource limits and the network namespace need root, so they come first; then
the child forbids itself new privileges, which Landlock needs when the process is not root;
then the Landlock rules (their descriptors may need root to open); then the drop to an
unprivileged user; the seccomp allowlist (:mod:`chronoflow.sandbox.seccomp`) comes last. Each
layer is detected at runtime and left out when the host refuses it; :func:`isolate` returns the
names of the layers that took effect, checked in the child itself, so the trusted side can
report them and refuse to run code when a required one is missing.

Nothing here is reachable from user code: the child runs these functions before it reads the
code, and RestrictedPython never hands out modules.
"""

from __future__ import annotations

import ctypes
import math
import os
import platform
import resource
import signal
import struct
import sys
import sysconfig
from typing import Any

from chronoflow.sandbox import seccomp

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
CLONE_NEWNET = 0x40000000

#: Bytes of address space the interpreter itself may grow by (allocator arenas, compile).
INTERPRETER_HEADROOM = 32 * 1024 * 1024


def prctl(option: int, arg: int) -> None:
    """Call ``prctl(option, arg, 0, 0, 0)``, raising ``OSError`` on failure."""
    if _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits.

    Used by the fork server (its parent is the worker) and by each child (whose parent is the
    fork server), so no sandbox outlives the process that owns it.
    """
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def set_limits(limits: dict[str, Any]) -> bool:
    """Resource limits of a child: address space, CPU time, files, processes, core dumps.

    The address-space limit is the current size (the pre-imported interpreter, shared
    copy-on-write with the fork server) plus the function's ``max_memory_mb``, so the figure a
    user configures is what their code may allocate.

    Returns:
        False when one limit could not be set (the child must then not run user code).
    """
    try:
        with open("/proc/self/statm", "rb") as statm:
            current = int(statm.read().split()[0]) * resource.getpagesize()
        memory = current + INTERPRETER_HEADROOM + int(limits["max_memory_mb"]) * 1024 * 1024
        cpu = math.ceil(int(limits["timeout_ms"]) / 1000) + 1
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (8, 8))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))
    except (OSError, ValueError, KeyError):
        return False
    return True


def enter_network_namespace() -> bool:
    """Move into a new, empty network namespace (needs root); False when the host refuses."""
    return bool(_libc.unshare(CLONE_NEWNET) == 0)


def forbid_new_privileges() -> bool:
    """``PR_SET_NO_NEW_PRIVS``: no exec can grant privileges; also what Landlock and seccomp need."""
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError:
        return False
    return bool(_libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (and group ``uid``, no supplementary groups) when running as root.

    A refusal (no ``CAP_SETUID`` in a container, say) is not raised: :func:`unprivileged` then
    reports the layer missing, and the trusted side names it.
    """
    if os.geteuid() != 0 or uid <= 0:
        return
    try:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    except OSError:
        pass


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def unprivileged() -> bool:
    """Whether this process has no root uid and no capability left: what ``setuid`` stands for.

    True after the drop to the sandbox uid, and also when the server never ran as root; False
    for root, or a non-root process holding capabilities (ambient or from a file).
    """
    if 0 in os.getresuid():
        return False
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if _libc.capget(ctypes.byref(header), data) != 0:
        return False
    return all(d.effective == 0 and d.permitted == 0 for d in data)


# --- Landlock ---------------------------------------------------------------------------------

_SYS_LANDLOCK = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_LL_READ = (1 << 2) | (1 << 3)  # READ_FILE | READ_DIR
_LL_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
_LL_NET = (1 << 0) | (1 << 1)  # BIND_TCP | CONNECT_TCP, ABI 4+
_LL_SCOPE = (1 << 0) | (1 << 1)  # abstract unix sockets, signals, ABI 6+


def _readable_roots() -> list[str]:
    paths = {sys.prefix, sys.base_prefix, "/usr/share/zoneinfo"}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(sysconfig.get_paths()[key])
    return sorted(p for p in paths if os.path.isdir(p))


# Computed at import, in the fork server: after the privilege drop the child may not even be
# allowed to read the interpreter's configuration.
_READABLE_ROOTS = _readable_roots()


def restrict_filesystem() -> bool:
    """Landlock: read-only access to the interpreter's own trees, nothing else; no TCP.

    Returns False when the kernel has no Landlock. On ABI 6+ it also scopes signals and
    abstract Unix sockets to the child itself.
    """
    numbers = _SYS_LANDLOCK.get(platform.machine())
    if numbers is None:
        return False
    create, add_rule, restrict = numbers
    abi = _libc.syscall(create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return False
    handled_fs = _LL_FS_BY_ABI.get(abi, (1 << 16) - 1)
    attr = struct.pack("=QQQ", handled_fs, _LL_NET if abi >= 4 else 0, _LL_SCOPE if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    buf = ctypes.create_string_buffer(attr[:size], size)
    ruleset = _libc.syscall(create, buf, ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return False
    try:
        for root in _READABLE_ROOTS:
            try:
                fd = os.open(root, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a tree this user cannot reach stays unreadable, which is stricter
            try:
                rule = ctypes.create_string_buffer(struct.pack("=Qi", _LL_READ, fd), 12)
                _libc.syscall(add_rule, ctypes.c_int(ruleset), ctypes.c_int(1), rule, ctypes.c_uint32(0))
            finally:
                os.close(fd)
        return bool(_libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) == 0)
    finally:
        os.close(ruleset)


def isolate(limits: dict[str, Any], *, uid: int, network_namespace: bool) -> list[str]:
    """Apply every available layer to the calling (freshly forked) child, in order.

    Each name is reported only once the layer is known to hold in this process; a layer the
    host refuses is left out rather than raising, so the trusted side can name what is missing.

    Returns:
        The names of the layers now active, e.g. ``["process-group", "rlimits", "netns", ...]``.
    """
    layers = ["process-group"]
    if set_limits(limits):
        layers.append("rlimits")
    if network_namespace and os.geteuid() == 0 and enter_network_namespace():
        layers.append("netns")
    # No new privileges before Landlock: without it (or CAP_SYS_ADMIN) the kernel refuses
    # landlock_restrict_self, which is the case of every worker that does not run as root.
    if forbid_new_privileges():
        layers.append("no-new-privs")
    # Landlock before the privilege drop: the rules need descriptors of directories that
    # the unprivileged user may not be allowed to open.
    if restrict_filesystem():
        layers.append("landlock")
    drop_privileges(uid)
    if unprivileged():
        layers.append("setuid")
    prctl(PR_SET_DUMPABLE, 0)  # after the uid change, which may reset it from suid_dumpable
    die_with_parent()  # after the uid change too, which clears the parent-death signal
    if seccomp.install():
        layers.append("seccomp")
    return layers
