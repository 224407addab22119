"""Framing of the messages between the trusted side, the fork server and a sandbox child.

A frame is a 4-byte big-endian length followed by that many bytes of strict JSON (an object).
Both ends refuse frames over their size cap, so a hostile child cannot make the trusted side
allocate without bound, and NaN/Infinity never cross the boundary.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

#: Largest frame the trusted side accepts from a sandbox child (bodies, results, state).
MAX_FRAME_BYTES = 16 * 1024 * 1024

_HEADER = struct.Struct(">I")


class ChannelClosed(Exception):
    """The other end closed the channel (or it broke) before a whole frame arrived."""


class FrameError(Exception):
    """A frame is too large or is not a strict JSON object."""


def _reject_constant(name: str) -> Any:
    raise FrameError(f"{name} is not valid JSON")


def encode(message: dict[str, Any]) -> bytes:
    """One frame for ``message``; raises ``ValueError`` for anything that is not strict JSON."""
    body = json.dumps(message, allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode()
    return _HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    """The object carried by a frame body; raises :class:`FrameError` for anything else."""
    try:
        message = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"malformed frame: {exc}") from None
    if not isinstance(message, dict):
        raise FrameError("a frame must hold a JSON object")
    return message


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    """Write one frame (blocking)."""
    sock.sendall(encode(message))


def _recv_exact(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline passed while reading a frame")
            sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(size - len(chunks), 1 << 20))
        except TimeoutError:
            raise TimeoutError("deadline passed while reading a frame") from None
        except OSError as exc:
            raise ChannelClosed(str(exc)) from None
        if not chunk:
            raise ChannelClosed("channel closed")
        chunks += chunk
    return bytes(chunks)


def recv(sock: socket.socket, *, deadline: float | None = None, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any]:
    """Read one frame.

    Args:
        sock: a stream socket.
        deadline: ``time.monotonic()`` value after which :class:`TimeoutError` is raised.
        max_bytes: frames larger than this raise :class:`FrameError` without being read.

    Raises:
        ChannelClosed: end of stream.
        FrameError: oversize or malformed frame.
        TimeoutError: the deadline passed.
    """
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size, deadline))
    if size > max_bytes:
        raise FrameError(f"frame of {size} bytes exceeds the {max_bytes} byte cap")
    return decode(_recv_exact(sock, size, deadline))
