"""The seccomp filter of a sandbox child: an allowlist of the system calls it needs, nothing more.

By the time the filter is installed the child has its channel (fd 3), its limits and its
unprivileged identity; from then on it only computes, allocates memory, talks over fd 3, reads
the time and random bytes, reads a few files (time zone data, the interpreter's own modules when
one is imported lazily) and exits. The list below was measured by tracing children through every
SDK call, every importable facade, user errors, tracebacks, recursion, memory and time limits.
Any other call fails with ``EPERM`` (so a stray call is an ordinary ``OSError``, not a crash);
``open``/``openat`` with a flag that could write fail the same way; a call made through another
ABI (x32, a 32-bit compat task) kills the process.

Numbers come from the kernel's tables: ``arch/x86/entry/syscalls/syscall_64.tbl`` for x86_64
and the generic table (``include/uapi/asm-generic/unistd.h``) for aarch64.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Mapping
from types import MappingProxyType

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

AUDIT_ARCH = MappingProxyType({"x86_64": 0xC000003E, "aarch64": 0xC00000B7})
"""``AUDIT_ARCH_*`` value the kernel reports for a native call of each supported machine."""

_X32_BIT = 0x40000000
_EPERM = 1

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000

#: ``O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND``: the same values on x86_64 and aarch64.
WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000

#: System calls the child may make, ``name: (x86_64, aarch64)``; ``None`` where the machine has none.
ALLOWED: Mapping[str, tuple[int | None, int | None]] = MappingProxyType({
    # the channel and /dev/null
    "read": (0, 63), "write": (1, 64), "readv": (19, 65), "writev": (20, 66), "pread64": (17, 67),
    "recvfrom": (45, 207), "sendto": (44, 206), "close": (3, 57), "lseek": (8, 62),
    # read-only files: time zone data, lazily imported modules (openat is checked on its flags)
    "fstat": (5, 80), "stat": (4, None), "lstat": (6, None), "newfstatat": (262, 79), "statx": (332, 291),
    "getdents64": (217, 61), "getcwd": (79, 17),
    # memory
    "mmap": (9, 222), "munmap": (11, 215), "mremap": (25, 216), "mprotect": (10, 226), "brk": (12, 214),
    "madvise": (28, 233),
    # time, randomness, identity
    "clock_gettime": (228, 113), "clock_getres": (229, 114), "gettimeofday": (96, 169), "time": (201, None),
    "clock_nanosleep": (230, 115), "nanosleep": (35, 101), "getrandom": (318, 278),
    "getpid": (39, 172), "getppid": (110, 173), "gettid": (186, 178), "getuid": (102, 174),
    "geteuid": (107, 175), "getgid": (104, 176), "getegid": (108, 177),
    # the interpreter's own plumbing
    "futex": (202, 98), "sched_yield": (24, 124), "rt_sigaction": (13, 134), "rt_sigprocmask": (14, 135),
    "rt_sigreturn": (15, 139), "sigaltstack": (131, 132), "restart_syscall": (219, 128),
    "exit": (60, 93), "exit_group": (231, 94),
})

#: Calls allowed only when their flags argument (index given) asks for no write access.
READ_ONLY_OPENS: Mapping[str, tuple[tuple[int | None, int | None], int]] = MappingProxyType({
    "open": ((2, None), 1),
    "openat": ((257, 56), 2),
})

_COLUMN = {"x86_64": 0, "aarch64": 1}

_libc = ctypes.CDLL(None, use_errno=True)

# BPF opcodes: load a word of seccomp_data, conditional jumps on the accumulator, return.
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_OFFSET_NR, _OFFSET_ARCH = 0, 4


def _arg_offset(index: int) -> int:
    """Offset of the low 32 bits of argument ``index`` in ``struct seccomp_data`` (little-endian)."""
    return 16 + 8 * index


def build_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The filter for ``machine`` (``x86_64`` or ``aarch64``) as ``(code, jt, jf, k)`` instructions.

    Raises:
        ValueError: for a machine without a table.
    """
    if machine not in _COLUMN:
        raise ValueError(f"no seccomp table for {machine}")
    column = _COLUMN[machine]
    allowed = sorted({nr for numbers in ALLOWED.values() if (nr := numbers[column]) is not None})
    opens = [(nr, arg) for numbers, arg in READ_ONLY_OPENS.values() if (nr := numbers[column]) is not None]
    # Jump targets are labels until the end: BPF jumps only forward, by at most 255 instructions.
    program: list[tuple[int, int | str, int | str, int]] = [
        (_LD, 0, 0, _OFFSET_ARCH),
        (_JEQ, 0, "KILL", AUDIT_ARCH[machine]),
        (_LD, 0, 0, _OFFSET_NR),
    ]
    if machine == "x86_64":
        program.append((_JGE, "KILL", 0, _X32_BIT))
    program += [(_JEQ, f"OPEN{i}", 0, nr) for i, (nr, _) in enumerate(opens)]
    program += [(_JEQ, "ALLOW", 0, nr) for nr in allowed]
    program.append((_RET, 0, 0, RET_ERRNO | _EPERM))
    labels: dict[str, int] = {}
    for i, (_, arg) in enumerate(opens):
        labels[f"OPEN{i}"] = len(program)
        program += [(_LD, 0, 0, _arg_offset(arg)), (_JSET, "ERRNO", "ALLOW", WRITE_FLAGS)]
    labels["ALLOW"] = len(program)
    program.append((_RET, 0, 0, RET_ALLOW))
    labels["ERRNO"] = len(program)
    program.append((_RET, 0, 0, RET_ERRNO | _EPERM))
    labels["KILL"] = len(program)
    program.append((_RET, 0, 0, RET_KILL_PROCESS))

    def jump(index: int, target: int | str) -> int:
        if isinstance(target, int):
            return target
        distance = labels[target] - index - 1
        if not 0 <= distance < 256:
            raise AssertionError(f"seccomp jump of {distance} instructions cannot be encoded")
        return distance

    return [(code, jump(i, jt), jump(i, jf), k) for i, (code, jt, jf, k) in enumerate(program)]


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _compiled(machine: str) -> tuple[_SockFprog, ctypes.Array[_SockFilter]] | None:
    """The kernel's form of :func:`build_program` for ``machine``; ``None`` without a table."""
    if machine not in _COLUMN:
        return None
    program = build_program(machine)
    filters = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    return _SockFprog(len(program), filters), filters


# Built once at import, in the fork server: every child installs the same program, and building it
# in Python took more time than the prctl itself. The kernel copies the program when installing it.
_PROGRAM = _compiled(platform.machine())


def install() -> bool:
    """Install the allowlist on the calling process; False on a machine without a table or when refused.

    Needs ``PR_SET_NO_NEW_PRIVS`` (or ``CAP_SYS_ADMIN``), like any unprivileged seccomp filter.
    """
    if _PROGRAM is None:
        return False
    fprog, _ = _PROGRAM
    return bool(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0)
