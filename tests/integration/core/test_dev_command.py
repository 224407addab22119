"""``chronoflow dev``: embedded Redis and SQLite, printed URL and token, children restarted, clean stop."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from chronoflow.devtools.embedded_redis import free_port
from tests.services import DevProcess


@contextmanager
def dev(tmp_path: Path, stop_signal: int) -> Iterator[DevProcess]:
    """``chronoflow dev`` from nothing (no Redis, database or token configured), stopped by ``stop_signal``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CHRONOFLOW_API_TOKENS")}
    env.update(CHRONOFLOW_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    running = DevProcess(["--port", str(free_port())], env)
    try:
        running.read_until("Press Ctrl-C", timeout=60)
        yield running
    finally:
        running.stop(stop_signal)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_dev_serves_on_the_printed_url_and_stops_its_children_on_ctrl_c(tmp_path: Path) -> None:
    """It starts everything from nothing, answers with the printed token, and leaves no process behind."""
    with dev(tmp_path, signal.SIGINT) as running:
        output = running.output
        url = re.search(r"running at (http://\S+)", output).group(1)
        token = re.search(r"API token:\s+(\S+)", output).group(1)
        assert f"{url}/schema" in output
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, output
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{url}/chronos", headers=headers, timeout=5, json={
            "name": "dev", "cron": "in 10 min", "targetType": "HTTP", "url": "http://127.0.0.1:9/x"})
        assert created.status_code == 201, created.text
        assert httpx.get(f"{url}/chronos", timeout=5).status_code == 401
        assert (tmp_path / "home" / "chronoflow.db").exists()
        children = running.children()
        assert len(children) == 4, children  # redis-server, api, scheduler, worker
    assert running.process.returncode == 0
    assert [pid for pid in children if _alive(pid)] == [], "left running"


def test_dev_restarts_a_child_that_exits_and_stops_them_all_on_sigterm(tmp_path: Path) -> None:
    """It starts a SIGKILLed worker again, saying which child exited and with which code, and keeps serving."""
    with dev(tmp_path, signal.SIGTERM) as running:
        worker = next(pid for pid in running.children()
                      if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes())
        os.kill(worker, signal.SIGKILL)
        running.read_until("worker restarted", timeout=30)
        assert f"worker exited with code {-signal.SIGKILL}" in running.output, running.output
        assert "worker restarted" in running.output, running.output
        children = running.children()
        assert len(children) == 4 and worker not in children, children
    assert running.process.returncode == 0
    assert [pid for pid in children if _alive(pid)] == [], "left running"
