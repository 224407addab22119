"""Webhooks the fake gateway posts, shaped and authenticated like the real ones.

WAHA: ``{id, timestamp, event, session, engine, me, payload}``, signed with ``X-Webhook-Hmac``
(hex HMAC-SHA512 of the body) and ``X-Webhook-Hmac-Algorithm: sha512`` when a key is set.
Evolution API: ``{event, instance, data, destination, date_time, sender, server_url, apikey}``,
carrying ``X-Webhook-Secret`` when a secret is set.

Every delivery attempt is recorded (``GET /_fake/webhooks``), successful or not, so a test can see
what ChronoFlow was sent and what it answered.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from chronoflow.channels.base import ChannelStatus
from chronoflow.channels.evolution import SECRET_HEADER
from chronoflow.channels.webhooks import WAHA_HMAC_HEADER, sign_waha_body

__all__ = ["Delivery", "WebhookSender", "evolution_state", "evolution_webhook", "waha_webhook"]

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_S = 5.0
"""How long the fake waits for ChronoFlow to answer a webhook."""

FAKE_ME = {"id": "5511900000000@c.us", "pushName": "ChronoFlow Fake"}
"""The account the fake pretends to be logged in as."""

_EVOLUTION_STATES = {
    ChannelStatus.WORKING: "open",
    ChannelStatus.STARTING: "connecting",
    ChannelStatus.SCAN_QR_CODE: "connecting",
    ChannelStatus.PASSKEY_REQUIRED: "connecting",
    ChannelStatus.PASSKEY_CONFIRMATION_REQUIRED: "connecting",
    ChannelStatus.STOPPED: "close",
    ChannelStatus.FAILED: "refused",
}


def evolution_state(status: ChannelStatus) -> str:
    """The Evolution connection state shown for a status (waiting for a QR is ``connecting``)."""
    return _EVOLUTION_STATES.get(status, "unknown")


@dataclass(frozen=True)
class Delivery:
    """One webhook POST the fake made."""

    url: str
    event: str
    body: str
    headers: dict[str, str]
    status: int | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return asdict(self)


def waha_webhook(session: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A WAHA webhook body."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "timestamp": int(time.time() * 1000),
        "event": event,
        "session": session,
        "engine": "WEBJS",
        "me": FAKE_ME,
        "environment": {"version": "fake", "engine": "WEBJS", "tier": "CORE"},
        "payload": payload,
    }


def evolution_webhook(
    instance: str, event: str, data: dict[str, Any], *, destination: str, server_url: str, apikey: str | None = None
) -> dict[str, Any]:
    """An Evolution API webhook body; like the real one, it carries the instance's API key."""
    return {
        "event": event,
        "instance": instance,
        "data": data,
        "destination": destination,
        "date_time": datetime.now(UTC).isoformat(),
        "sender": FAKE_ME["id"].replace("@c.us", "@s.whatsapp.net"),
        "server_url": server_url,
        "apikey": apikey,
    }


class WebhookSender:
    """Posts webhooks and remembers every attempt."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._queue: queue.Queue[tuple[str, dict[str, Any], str, str | None]] = queue.Queue()
        self._worker: threading.Thread | None = None

    @property
    def deliveries(self) -> list[Delivery]:
        """A copy of the attempts so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def clear(self) -> None:
        """Forget past deliveries."""
        with self._lock:
            self._deliveries.clear()

    def post(self, url: str, body: dict[str, Any], *, provider: str, secret: str | None) -> Delivery:
        """POST ``body`` to ``url`` now, authenticated as ``provider`` does, and record it.

        Args:
            url: ChronoFlow's webhook URL.
            body: the webhook JSON.
            provider: ``"waha"`` (HMAC signature) or ``"evolution"`` (shared secret header).
            secret: the HMAC key or shared secret; ``None`` sends the webhook unauthenticated.
        """
        raw = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if provider == "waha":
            headers["X-Webhook-Request-Id"] = uuid.uuid4().hex
            headers["X-Webhook-Timestamp"] = str(int(time.time() * 1000))
            if secret:
                headers[WAHA_HMAC_HEADER] = sign_waha_body(raw, secret)
                headers["X-Webhook-Hmac-Algorithm"] = "sha512"
        elif secret:
            headers[SECRET_HEADER] = secret
        status: int | None = None
        error: str | None = None
        try:
            response = httpx.post(url, content=raw, headers=headers, timeout=DELIVERY_TIMEOUT_S)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("fake %s webhook to %s failed: %s", provider, url, error)
        delivery = Delivery(url, str(body.get("event")), raw.decode("utf-8"), headers, status, error)
        with self._lock:
            self._deliveries.append(delivery)
        return delivery

    def post_later(self, url: str, body: dict[str, Any], *, provider: str, secret: str | None) -> None:
        """:meth:`post` from a background thread, as a real gateway does after answering a call.

        One worker thread posts them in order, so a receiver sees status changes as they happened.
        """
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="fake-whatsapp-webhooks", daemon=True)
                self._worker.start()
        self._queue.put((url, body, provider, secret))

    def _work(self) -> None:
        while True:
            url, body, provider, secret = self._queue.get()
            try:
                self.post(url, body, provider=provider, secret=secret)
            finally:
                self._queue.task_done()

    def join(self, timeout: float = DELIVERY_TIMEOUT_S + 1) -> None:
        """Wait for background deliveries, so stopping the fake does not cut one in half."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
