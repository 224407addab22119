"""Operating-system layers around a sandbox child, applied right after the fork.

Order matters: resource limits, the network namespace and the Landlock rules need root (or
directories only root may open), so they come first; then the child drops to an unprivileged
user, forbids itself new privileges and finally installs a seccomp filter. Each layer is detected at runtime and
skipped when the host lacks it; :func:`isolate` returns the names of the layers that took
effect so the trusted side can report them.

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

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
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


def set_limits(limits: dict[str, Any]) -> None:
    """Resource limits of a child: address space, CPU time, files, processes, core dumps.

    The address-space limit is the current size (the pre-imported interpreter, shared
    copy-on-write with the fork server) plus the function's ``max_memory_mb``, so the figure a
    user configures is what their code may allocate.
    """
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


def enter_network_namespace() -> bool:
    """Move into a new, empty network namespace (needs root); False when the host refuses."""
    return bool(_libc.unshare(CLONE_NEWNET) == 0)


def drop_privileges(uid: int) -> bool:
    """Become ``uid`` (and group ``uid``, no supplementary groups) when running as root."""
    if os.geteuid() != 0:
        return False
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    return True


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
            fd = os.open(root, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = ctypes.create_string_buffer(struct.pack("=Qi", _LL_READ, fd), 12)
                _libc.syscall(add_rule, ctypes.c_int(ruleset), ctypes.c_int(1), rule, ctypes.c_uint32(0))
            finally:
                os.close(fd)
        return bool(_libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) == 0)
    finally:
        os.close(ruleset)


# --- seccomp ----------------------------------------------------------------------------------

_AUDIT_ARCH_X86_64 = 0xC000003E
#: x86_64 system calls a sandbox child never needs: networking, processes, exec, namespaces,
#: tracing, kernel keyrings and modules, signals to others, and every call that writes the
#: filesystem (open/openat are filtered on their flags instead).
_DENIED_X86_64 = (
    41, 42, 43, 49, 50, 53, 288,  # socket connect accept bind listen socketpair accept4
    56, 57, 58, 59, 322, 435,  # clone fork vfork execve execveat clone3
    62, 200, 234, 129, 297, 424,  # kill tkill tgkill rt_sigqueueinfo rt_tgsigqueueinfo pidfd_send_signal
    101, 310, 311, 434, 438, 440,  # ptrace process_vm_readv/writev pidfd_open pidfd_getfd process_madvise
    272, 308, 165, 166, 155, 161,  # unshare setns mount umount2 pivot_root chroot
    175, 176, 313, 246, 248, 249, 250, 321, 298, 323, 319, 447,  # modules kexec keys bpf perf uffd memfd
    425, 426, 427, 428, 429, 430, 431, 432, 433, 437,  # io_uring, new mount api, openat2
    76, 77, 82, 83, 84, 85, 86, 87, 88, 90, 91, 92, 93, 94, 133,  # truncate ... mknod
    258, 259, 260, 263, 264, 265, 266, 268, 316, 132, 235, 280,  # *at variants, utime(s)
    188, 189, 190, 197, 198, 199,  # setxattr lsetxattr fsetxattr removexattr lremovexattr fremovexattr
)
_OPEN, _OPENAT = 2, 257
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _seccomp_program() -> list[tuple[int, int, int, int]]:
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, errno, kill = 0x7FFF0000, 0x00050000 | 1, 0x80000000  # EPERM
    # Labels are resolved at the end: ("ERRNO", "ALLOW", "KILL", "ARG1", "ARG2").
    prog: list[tuple[int, Any, Any, int]] = [
        (ld, 0, 0, 4),
        (jeq, 0, "KILL", _AUDIT_ARCH_X86_64),
        (ld, 0, 0, 0),
        (jge, "ERRNO", 0, 0x40000000),  # x32 ABI numbers
        (jeq, "ARG1", 0, _OPEN),
        (jeq, "ARG2", 0, _OPENAT),
    ]
    prog += [(jeq, "ERRNO", 0, nr) for nr in _DENIED_X86_64]
    prog.append((ret, 0, 0, allow))
    # BPF only jumps forward: the flag checks come before the shared return instructions.
    labels: dict[str, int] = {"ARG1": len(prog)}
    prog += [(ld, 0, 0, 16 + 8 * 1), (jset, "ERRNO", "ALLOW", _WRITE_FLAGS)]
    labels["ARG2"] = len(prog)
    prog += [(ld, 0, 0, 16 + 8 * 2), (jset, "ERRNO", "ALLOW", _WRITE_FLAGS)]
    labels["ALLOW"] = len(prog)
    prog.append((ret, 0, 0, allow))
    labels["ERRNO"] = len(prog)
    prog.append((ret, 0, 0, errno))
    labels["KILL"] = len(prog)
    prog.append((ret, 0, 0, kill))

    def offset(index: int, target: Any) -> int:
        if isinstance(target, int):
            return target
        jump = labels[target] - index - 1
        assert 0 <= jump < 256
        return jump

    return [(code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(prog)]


def install_seccomp() -> bool:
    """Refuse sockets, exec, new processes, signals to others and filesystem writes (x86_64)."""
    if platform.machine() != "x86_64":
        return False
    program = _seccomp_program()
    filters = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    fprog = _SockFprog(len(program), filters)
    return bool(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0)


def isolate(limits: dict[str, Any], *, uid: int, network_namespace: bool) -> list[str]:
    """Apply every available layer to the calling (freshly forked) child, in order.

    Returns:
        The names of the layers now active, e.g. ``["rlimits", "netns", "setuid", ...]``.
    """
    layers = ["process-group", "rlimits"]
    set_limits(limits)
    if network_namespace and os.geteuid() == 0 and enter_network_namespace():
        layers.append("netns")
    # Landlock before the privilege drop: the rules need descriptors of directories that
    # the unprivileged user may not be allowed to open.
    if restrict_filesystem():
        layers.append("landlock")
    if drop_privileges(uid):
        layers.append("setuid")
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    layers.append("no-new-privs")
    die_with_parent()  # after setuid, which clears the parent-death signal
    if install_seccomp():
        layers.append("seccomp")
    return layers
