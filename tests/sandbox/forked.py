"""Run a piece of a test in a forked child, as the fork server runs a sandbox child."""

from __future__ import annotations

import os
from collections.abc import Callable


def run_forked(body: Callable[[], str]) -> tuple[int, str]:
    """Run ``body()`` in a forked child; its pid and the text it returned (or the error it raised).

    Like a sandbox child, the child keeps only its answer pipe open (as fd 3), below the file limit
    the isolation layers set.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked child
        text = "error"
        try:
            os.dup2(write_end, 3)
            os.closerange(4, 65536)
            text = body()
        except BaseException as exc:  # noqa: BLE001 - reported to the test instead
            text = f"error {type(exc).__name__}: {exc}"
        finally:
            os.write(3, text.encode())
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return pid, b"".join(chunks).decode()
