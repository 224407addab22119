"""The seccomp allowlist: its program on both machines, and forbidden calls in a real isolated child."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import re
import socket
import struct
from pathlib import Path

import pytest

from chronoflow.sandbox import isolation, seccomp

from .forked import run_forked

MACHINES = ("x86_64", "aarch64")

# System calls a sandbox child must never make, with their numbers (x86_64, aarch64).
FORBIDDEN = {
    "socket": (41, 198), "connect": (42, 203), "bind": (49, 200), "ptrace": (101, 117), "mount": (165, 40),
    "unshare": (272, 97), "setns": (308, 268), "execve": (59, 221), "execveat": (322, 281),
    "clone": (56, 220), "clone3": (435, 435), "kill": (62, 129), "tgkill": (234, 131), "ioctl": (16, 29),
    "bpf": (321, 280), "io_uring_setup": (425, 425), "memfd_create": (319, 279), "unlinkat": (263, 35),
    "mkdirat": (258, 34), "fchmodat": (268, 53), "openat2": (437, 437), "prctl": (157, 167),
    "seccomp": (317, 277), "setuid": (105, 146), "capset": (126, 91), "process_vm_readv": (310, 270),
}

O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND = 0, 0o1, 0o2, 0o100, 0o1000, 0o2000
O_CLOEXEC, O_DIRECTORY, O_NONBLOCK = 0o2000000, 0o200000, 0o4000


def evaluate(program: list[tuple[int, int, int, int]], arch: int, nr: int, args: tuple[int, ...] = ()) -> int:
    """Run a classic BPF seccomp program on one ``seccomp_data``, as the kernel would."""
    data = struct.pack("<iI", nr, arch) + struct.pack("<Q", 0) + b"".join(
        struct.pack("<Q", a) for a in (*args, *([0] * (6 - len(args)))))
    accumulator, pc = 0, 0
    for _ in range(len(program)):  # a seccomp program only jumps forward: it ends within its length
        code, jt, jf, k = program[pc]
        if code == 0x20:  # ld [k]
            accumulator = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == 0x06:  # ret k
            return k
        else:
            taken = {0x15: accumulator == k, 0x35: accumulator >= k, 0x45: bool(accumulator & k)}[code]
            pc += 1 + (jt if taken else jf)
    raise AssertionError("the program ran off its end")


@pytest.mark.parametrize("machine", MACHINES)
def test_program_allows_exactly_the_allowlist(machine):
    """It allows each listed call and denies every other number, including the dangerous ones, with EPERM."""
    program = seccomp.build_program(machine)
    column = MACHINES.index(machine)
    arch = seccomp.AUDIT_ARCH[machine]
    allowed = {numbers[column] for numbers in seccomp.ALLOWED.values() if numbers[column] is not None}
    eperm = seccomp.RET_ERRNO | errno.EPERM
    for nr in sorted(allowed):
        assert evaluate(program, arch, nr) == seccomp.RET_ALLOW, nr
    opens = {numbers[column] for numbers, _ in seccomp.READ_ONLY_OPENS.values() if numbers[column] is not None}
    for nr in range(600):
        if nr not in allowed and nr not in opens:
            assert evaluate(program, arch, nr) == eperm, nr
    for name, numbers in FORBIDDEN.items():
        assert numbers[column] not in allowed, name


@pytest.mark.parametrize("machine", MACHINES)
def test_program_opens_files_read_only(machine):
    """It allows openat for reading (directories too) and denies any flag that writes, creates or truncates."""
    program = seccomp.build_program(machine)
    arch = seccomp.AUDIT_ARCH[machine]
    openat = seccomp.READ_ONLY_OPENS["openat"][0][MACHINES.index(machine)]
    at_fdcwd = 2**64 - 100
    for flags in (O_RDONLY | O_CLOEXEC, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC):
        assert evaluate(program, arch, openat, (at_fdcwd, 0x1000, flags)) == seccomp.RET_ALLOW
    for flags in (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC):
        assert evaluate(program, arch, openat, (at_fdcwd, 0x1000, flags)) == seccomp.RET_ERRNO | errno.EPERM
    if machine == "x86_64":  # the legacy open(2) carries its flags one argument earlier
        assert evaluate(program, arch, 2, (0x1000, O_RDONLY)) == seccomp.RET_ALLOW
        assert evaluate(program, arch, 2, (0x1000, O_WRONLY | O_CREAT)) == seccomp.RET_ERRNO | errno.EPERM


def test_program_kills_other_abis():
    """It kills a call made through another ABI: x32 numbers, or another architecture's table."""
    x86 = seccomp.build_program("x86_64")
    assert evaluate(x86, seccomp.AUDIT_ARCH["x86_64"], 0x40000000 | 41) == seccomp.RET_KILL_PROCESS
    assert evaluate(x86, seccomp.AUDIT_ARCH["x86_64"], 0x40000000 | 0) == seccomp.RET_KILL_PROCESS
    assert evaluate(x86, 0x40000003, 3) == seccomp.RET_KILL_PROCESS  # i386 compat: 3 is read there
    arm = seccomp.build_program("aarch64")
    assert evaluate(arm, 0x40000028, 63) == seccomp.RET_KILL_PROCESS  # 32-bit ARM compat task
    with pytest.raises(ValueError, match="no seccomp table"):
        seccomp.build_program("riscv64")


def _header_numbers(path: Path, pattern: str) -> dict[str, int]:
    text = path.read_text()
    return {m.group(2): int(m.group(3)) for m in re.finditer(pattern, text)}


@pytest.mark.parametrize("machine", MACHINES)
def test_numbers_match_the_kernel_headers(machine):
    """It allows the calls it names: every number in the tables is the kernel's for that name."""
    if machine == "x86_64":
        header = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
        pattern = r"#define __NR(_)(\w+) (\d+)"
    else:
        header = Path("/usr/include/asm-generic/unistd.h")
        pattern = r"#define __NR(3264_|_)(\w+) (\d+)"
    if not header.exists():
        pytest.skip(f"{header} is not installed")
    known = _header_numbers(header, pattern)
    if machine == "aarch64":  # the generic table names the 64-bit variants through __NR3264_*
        known["newfstatat"] = known["fstatat"]
    column = MACHINES.index(machine)
    tables = {**seccomp.ALLOWED, **{name: numbers for name, (numbers, _) in seccomp.READ_ONLY_OPENS.items()},
              **FORBIDDEN}
    for name, numbers in tables.items():
        number = numbers[column]
        if number is None:
            assert name not in known, f"{name} exists on {machine}"
        else:
            assert known.get(name) == number, f"{name} on {machine}"


def _in_isolated_child(attempts: dict[str, object]) -> dict[str, str]:
    """Fork, isolate as a worker would, try each call; ``name -> "ok" | errno name``."""

    def body() -> str:
        lines = []
        layers = isolation.isolate({"timeout_ms": 2000, "max_memory_mb": 64}, uid=65534, network_namespace=True)
        lines.append("layers=" + ",".join(layers))
        for name, attempt in attempts.items():
            try:
                result = attempt()  # type: ignore[operator]
                if name == "fork" and result == 0:
                    os._exit(0)
                lines.append(f"{name}=ok")
            except OSError as exc:
                lines.append(f"{name}={errno.errorcode.get(exc.errno or 0, str(exc.errno))}")
        return "\n".join(lines)

    _, text = run_forked(body)
    return dict(line.split("=", 1) for line in text.splitlines())


_libc = ctypes.CDLL(None, use_errno=True)


def _checked(result: int) -> int:
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


@pytest.mark.skipif(platform.machine() not in MACHINES, reason="no seccomp table for this machine")
def test_forbidden_calls_fail_in_an_isolated_child(tmp_path):
    """It denies sockets, tracing, mounts, namespaces, exec, new processes, signals and writes in the child."""
    parent = os.getpid()
    target = tmp_path / "written"
    outcome = _in_isolated_child({
        "socket-inet": lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM),
        "socket-unix": lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
        "ptrace": lambda: _checked(_libc.ptrace(0, 0, None, None)),  # PTRACE_TRACEME
        "mount": lambda: _checked(_libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
        "unshare": lambda: _checked(_libc.unshare(0x10000000)),  # CLONE_NEWUSER
        "execve": lambda: os.execv("/bin/true", ["true"]),
        "fork": os.fork,
        "kill": lambda: os.kill(parent, 0),
        "write-file": lambda: os.open(str(target), os.O_WRONLY | os.O_CREAT, 0o600),
        "mkdir": lambda: os.mkdir(str(tmp_path / "dir")),
        "getpid": os.getpid,
    })
    assert "seccomp" in outcome["layers"].split(","), outcome
    for name in ("socket-inet", "socket-unix", "ptrace", "mount", "unshare", "execve", "fork", "kill",
                 "write-file", "mkdir"):
        assert outcome[name] == "EPERM", (name, outcome)
    assert outcome["getpid"] == "ok"
    assert not target.exists() and not (tmp_path / "dir").exists()


@pytest.mark.skipif(platform.machine() not in MACHINES, reason="no seccomp table for this machine")
def test_normal_functions_run_under_the_allowlist(run, base_url, sent):
    """It allows what functions do: every facade, time zones, HTTP, messages, state, logs, errors."""
    code = f"""
import json, math, re, datetime, zoneinfo, random, decimal, hashlib, hmac, base64
def run(ctx):
    when = datetime.datetime(2024, 3, 10, 12, tzinfo=zoneinfo.ZoneInfo("America/Sao_Paulo"))
    parsed = datetime.datetime.strptime("2024-01-02 10:11", "%Y-%m-%d %H:%M")
    body = ctx.http.get("{base_url}/json").json()
    ctx.message.send(to="+55 11 99999-0001", text="oi")
    ctx.state.set("n", 1)
    ctx.log("done")
    try:
        zoneinfo.ZoneInfo("Nowhere/Land")
        missing = False
    except Exception:
        missing = True
    big = "x" * 5_000_000
    return {{"when": when.isoformat(), "parsed": parsed.isoformat(), "users": len(body["users"]),
             "d": str(decimal.Decimal("1.10") * 3), "h": hashlib.sha256(b"x").hexdigest()[:8],
             "m": hmac.new(b"k", b"m", "sha256").hexdigest()[:8], "b": base64.b64encode(b"a").decode(),
             "r": 1 <= random.randint(1, 6) <= 6, "re": re.findall(r"\\d+", "a1b22"), "sqrt": math.isqrt(16),
             "j": json.loads("[1]"), "missing": missing, "big": len(big)}}
"""
    result = run(code, send_message=sent)
    assert result.ok, (result.error, result.traceback)
    assert result.result == {
        "when": "2024-03-10T12:00:00-03:00", "parsed": "2024-01-02T10:11:00", "users": 1, "d": "3.30",
        "h": "2d711642", "m": "b60090e3", "b": "YQ==", "r": True, "re": ["1", "22"], "sqrt": 4, "j": [1],
        "missing": True, "big": 5_000_000,
    }
    assert sent.calls == [("5511999990001", "oi")]
    assert result.state == {"n": 1} and result.logs == ["done"]
    failed = run("def run(ctx):\n    return 1 / 0\n")
    assert failed.error == "ZeroDivisionError: division by zero" and "line 2" in failed.traceback
