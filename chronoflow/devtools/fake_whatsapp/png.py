"""A small, valid PNG that looks like a QR code, made with the standard library only.

The fake gateway must hand out a real image (clients decode it, browsers show it), but nothing
will ever scan it, so the modules are a hash of the pairing code drawn between the three finder
squares of a real QR code.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

__all__ = ["qr_png"]

MODULES = 25
"""Modules per side (a version-2 QR code has 25)."""

SCALE = 4
"""Pixels per module."""

QUIET = 4
"""Blank modules around the code, as the QR standard asks."""


def _finder(row: int, col: int) -> bool | None:
    """Dark/light for a module inside one of the three 7x7 finder squares, else ``None``."""
    for top, left in ((0, 0), (0, MODULES - 7), (MODULES - 7, 0)):
        r, c = row - top, col - left
        if 0 <= r < 7 and 0 <= c < 7:
            ring = min(r, c, 6 - r, 6 - c)
            return ring != 1
        if -1 <= r <= 7 and -1 <= c <= 7:
            return False  # the light separator around a finder
    return None


def qr_png(code: str) -> bytes:
    """A greyscale PNG of a QR-like pattern derived from ``code`` (same code, same image)."""
    stream = b""
    counter = 0
    while len(stream) * 8 < MODULES * MODULES:
        stream += hashlib.sha256(f"{code}:{counter}".encode()).digest()
        counter += 1
    bits = "".join(f"{byte:08b}" for byte in stream)

    side = (MODULES + 2 * QUIET) * SCALE
    rows = []
    for y in range(side):
        module_row = y // SCALE - QUIET
        line = bytearray([0])  # filter type 0 (None) for each scanline
        for x in range(side):
            module_col = x // SCALE - QUIET
            dark = False
            if 0 <= module_row < MODULES and 0 <= module_col < MODULES:
                finder = _finder(module_row, module_col)
                dark = finder if finder is not None else bits[module_row * MODULES + module_col] == "1"
            line.append(0 if dark else 255)
        rows.append(bytes(line))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )
