"""``chronoflow dev``: embedded Redis and SQLite, printed URL and token, clean stop on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chronoflow.devtools.embedded_redis import free_port


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_dev_serves_on_the_printed_url_and_stops_its_children(tmp_path: Path, stop_signal: int) -> None:
    """It starts everything from nothing, answers with the printed token, and leaves no process behind."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CHRONOFLOW_API_TOKENS")}
    env.update(CHRONOFLOW_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "chronoflow", "dev", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = ""
    try:
        deadline = time.monotonic() + 60
        while "Press Ctrl-C" not in output and time.monotonic() < deadline:
            output += process.stdout.readline()
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
        assert (tmp_path / "home" / "chronoflow.store.engine").exists()
        children = [int(pid) for pid in subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False).stdout.split()]
        assert len(children) == 4, children  # redis-server, api, scheduler, worker
    finally:
        process.send_signal(stop_signal)
        process.wait(30)
    assert process.returncode == 0
    left = [pid for pid in children if _alive(pid)]
    assert left == [], f"left running: {left}"


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_dev_restarts_a_child_that_exits(tmp_path: Path) -> None:
    """It starts a SIGKILLed worker again, saying which child exited and with which code, and keeps serving."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CHRONOFLOW_API_TOKENS")}
    env.update(CHRONOFLOW_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "chronoflow", "dev", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = ""
    try:
        deadline = time.monotonic() + 60
        while "Press Ctrl-C" not in output and time.monotonic() < deadline:
            output += process.stdout.readline()
        worker = next(pid for pid in _children(process.pid) if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes())
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while "worker restarted" not in output and time.monotonic() < deadline:
            output += process.stdout.readline()
        assert f"worker exited with code {-signal.SIGKILL}" in output, output
        assert "worker restarted" in output, output
        children = _children(process.pid)
        assert len(children) == 4 and worker not in children, children
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.returncode == 0
    assert [pid for pid in children if _alive(pid)] == []


def _children(pid: int) -> list[int]:
    listed = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(child) for child in listed.split()]
