"""The fake gateway itself: start-up time, control routes, and the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from chronoflow.devtools.fake_whatsapp import FakeWhatsApp
from chronoflow.devtools.fake_whatsapp.cli import build_parser


def test_it_starts_fast_and_stops_cleanly() -> None:
    """It serves within well under a second of start() and frees its port on stop()."""
    began = time.perf_counter()
    fake = FakeWhatsApp().start()
    assert time.perf_counter() - began < 0.5
    url = fake.url
    assert httpx.get(f"{url}/_fake/sessions").status_code == 200
    fake.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_fake/sessions")
    with pytest.raises(RuntimeError):
        _ = fake.url


def test_sessions_start_working_for_both_providers() -> None:
    """It starts every configured session WORKING and paired, once per provider."""
    with FakeWhatsApp(sessions=("default", "vendas")) as fake:
        items = httpx.get(f"{fake.url}/_fake/sessions").json()["items"]
    assert {(i["provider"], i["name"], i["status"], i["paired"]) for i in items} == {
        (p, n, "WORKING", True) for p in ("waha", "evolution") for n in ("default", "vendas")
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"status": 99}, "status"),
        ({"status": 500, "times": 0}, "times"),
        ({"delay": -1}, "delay"),
        ({}, "give a status"),
    ],
    ids=["bad-status", "zero-times", "negative-delay", "nothing"],
)
def test_fail_validates(body: dict[str, Any], problem: str) -> None:
    """It refuses a failure rule it could not apply, saying which field is wrong."""
    with FakeWhatsApp() as fake:
        response = httpx.post(f"{fake.url}/_fake/fail", json=body)
    assert response.status_code == 400
    assert problem in response.json()["message"]


def test_fail_over_http_limited_to_a_path() -> None:
    """It fails only matching requests, the given number of times, with the given body."""
    with FakeWhatsApp() as fake:
        httpx.post(
            f"{fake.url}/_fake/fail", json={"status": 502, "times": 1, "path": "/message/", "body": {"x": 1}}
        )
        assert httpx.get(f"{fake.url}/instance/fetchInstances").status_code == 200
        failed = httpx.post(
            f"{fake.url}/message/sendText/default", json={"number": "5511987654321", "text": "a"}
        )
        assert (failed.status_code, failed.json()) == (502, {"x": 1})
        assert (
            httpx.post(
                f"{fake.url}/message/sendText/default", json={"number": "5511987654321", "text": "a"}
            ).status_code
            == 201
        )
        log = httpx.get(f"{fake.url}/_fake/requests", params={"path": "/message/"}).json()["items"]
    assert [entry["status"] for entry in log] == [502, 201]


@pytest.mark.parametrize(
    ("action", "body", "problem"),
    [
        ("inbound", {"session": "nope", "from": "5511987654321", "text": "x"}, "no waha session"),
        ("inbound", {"session": "default", "from": "abc", "text": "x"}, "invalid phone number"),
        ("inbound", {"session": "default", "text": "x"}, "from is required"),
        ("disconnect", {"session": "default", "provider": "telegram"}, "provider must be"),
        ("status", {"session": "default", "status": "SLEEPING"}, "status must be one of"),
        ("connect", {}, "session is required"),
    ],
    ids=["unknown-session", "bad-number", "no-from", "bad-provider", "bad-status", "no-session"],
)
def test_control_routes_validate(action: str, body: dict[str, Any], problem: str) -> None:
    """It answers 400 with the reason to a control request it cannot carry out."""
    with FakeWhatsApp() as fake:
        response = httpx.post(f"{fake.url}/_fake/{action}", json=body)
    assert response.status_code == 400
    assert problem in response.json()["message"]


def test_inbound_keeps_an_exact_whatsapp_id(http_receiver: Any) -> None:
    """It posts a given WhatsApp id as is, to simulate ids without the ninth digit or groups."""
    with FakeWhatsApp(webhook_url=f"{http_receiver.url}/hook") as fake:
        httpx.post(
            f"{fake.url}/_fake/inbound",
            json={"session": "default", "from": "120363025246125486@g.us", "text": "PARE"},
        )
    [hook] = http_receiver.wait_for(1)
    assert hook.json()["payload"]["from"] == "120363025246125486@g.us"


def test_reset_and_clear() -> None:
    """It forgets messages, requests and session changes on reset."""
    with FakeWhatsApp() as fake:
        httpx.post(
            f"{fake.url}/api/sendText",
            json={"session": "default", "chatId": "5511987654321@c.us", "text": "a"},
        )
        httpx.post(f"{fake.url}/_fake/disconnect", json={"session": "default"})
        assert httpx.delete(f"{fake.url}/_fake/messages").status_code == 204
        assert httpx.get(f"{fake.url}/_fake/messages").json()["total"] == 0
        assert len(fake.requests()) == 1
        httpx.post(f"{fake.url}/_fake/reset")
        assert fake.requests() == []
        assert fake.state.session("waha", "default").status.value == "WORKING"  # type: ignore[union-attr]


def test_unknown_routes() -> None:
    """It answers 404 for unknown paths and 405 for a known path with the wrong method."""
    with FakeWhatsApp() as fake:
        assert httpx.get(f"{fake.url}/nothing").status_code == 404
        assert httpx.get(f"{fake.url}/_fake/nothing").status_code == 404
        assert httpx.delete(f"{fake.url}/api/sendText").status_code == 405
        assert httpx.post(f"{fake.url}/api/sendText", content=b"{not json").status_code == 400


def test_cli_defaults_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """It takes keys from ChronoFlow's environment, so both sides agree without repeating them."""
    from chronoflow.config import get_settings

    monkeypatch.setenv("WAHA_API_KEY", "from-env")
    monkeypatch.setenv("WAHA_WEBHOOK_HMAC_KEY", "hmac-env")
    get_settings.cache_clear()
    try:
        args = build_parser().parse_args(["--webhook-url", "http://127.0.0.1:3000/waha/webhooks"])
    finally:
        get_settings.cache_clear()
    assert (args.port, args.api_key, args.hmac_key, args.sessions) == (3001, "from-env", "hmac-env", None)


def test_cli_serves_until_sigterm(closed_port: int) -> None:
    """It runs as a process on the given port and exits 0 on SIGTERM."""
    env = {**os.environ, "WAHA_API_KEY": "", "EVOLUTION_API_KEY": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "chronoflow.devtools.fake_whatsapp", "--port", str(closed_port), "--session", "s1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                items = httpx.get(f"http://127.0.0.1:{closed_port}/_fake/sessions").json()["items"]
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "fake-whatsapp did not start"
                time.sleep(0.05)
        assert {i["name"] for i in items} == {"s1"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
