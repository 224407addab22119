"""``chronoflow dev`` opens the webhook routes with local secrets it generates, keeps (0600) and prints."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import time
from pathlib import Path

import httpx

from chronoflow.channels import sign_waha_body
from chronoflow.devtools.embedded_redis import free_port
from tests.services import DevProcess

GIVEN_HMAC_KEY = "hmac-from-the-environment"


def test_dev_generates_the_missing_webhook_secret_and_uses_the_given_one(tmp_path: Path) -> None:
    """It generates EVOLUTION_WEBHOOK_SECRET (unset), keeps WAHA_WEBHOOK_HMAC_KEY (set), and both routes work."""
    port = free_port()
    home = tmp_path / "home"
    dropped = ("DATABASE_URL", "REDIS_URL", "CHRONOFLOW_API_TOKENS", "EVOLUTION_WEBHOOK_SECRET")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(CHRONOFLOW_HOME=str(home), PYTHONUNBUFFERED="1", WAHA_WEBHOOK_HMAC_KEY=GIVEN_HMAC_KEY)
    running = DevProcess(["--port", str(port)], env)
    process = running.process
    try:
        running.read_until("Press Ctrl-C", timeout=60)
        output = running.output
        assert "Press Ctrl-C" in output, output
        url = re.search(r"running at (http://\S+)", output).group(1)  # type: ignore[union-attr]
        printed = re.search(r"EVOLUTION_WEBHOOK_SECRET=(\S+)", output)
        assert printed is not None, output
        secret = printed.group(1)
        assert "WAHA_WEBHOOK_HMAC_KEY" not in output and GIVEN_HMAC_KEY not in output

        kept = home / "evolution-webhook-secret"
        assert kept.read_text().strip() == secret and len(secret) >= 24
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert not (home / "waha-webhook-hmac-key").exists()

        _wait_healthy(url, output)
        status = {"event": "connection.update", "instance": "x", "data": {"instance": "x", "state": "open"}}
        assert httpx.post(f"{url}/evolution/webhooks", json=status, timeout=5).status_code == 401
        accepted = httpx.post(f"{url}/evolution/webhooks", json=status, headers={"X-Webhook-Secret": secret},
                              timeout=5)
        assert accepted.status_code == 200, accepted.text
        raw = json.dumps({"event": "presence.update", "session": "default", "payload": {}}).encode()
        assert httpx.post(f"{url}/waha/webhooks", content=raw, timeout=5).status_code == 401
        signed = httpx.post(f"{url}/waha/webhooks", content=raw, timeout=5,
                            headers={"X-Webhook-Hmac": sign_waha_body(raw, GIVEN_HMAC_KEY)})
        assert signed.status_code == 200, signed.text
    finally:
        running.stop(signal.SIGINT)
    assert process.returncode == 0


def _wait_healthy(url: str, output: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, output
        time.sleep(0.2)
