"""Everything the fake gateway remembers, behind one lock.

Sessions exist per provider: WAHA's ``default`` and Evolution's ``default`` are two different
sessions, as they would be on two real servers. Each session has a status in ChronoFlow's
vocabulary (Evolution routes translate it) and a ``paired`` flag: a paired session comes back to
WORKING when started, an unpaired one (after logout, or new) waits in SCAN_QR_CODE until
``POST /_fake/connect`` plays the phone scanning the code.

Status changes post the provider's status webhook to ChronoFlow; that is how the fake lets a test
check the whole loop without a phone.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from chronoflow.channels.base import ChannelStatus, QrCode
from chronoflow.devtools.fake_whatsapp.events import (
    FAKE_ME,
    Delivery,
    WebhookSender,
    evolution_state,
    evolution_webhook,
    waha_webhook,
)
from chronoflow.devtools.fake_whatsapp.png import qr_png

__all__ = ["PROVIDERS", "FailRule", "FakeConfig", "FakeSession", "FakeState"]

PROVIDERS = ("waha", "evolution")
"""Provider names used by the control API and the request log."""


@dataclass(frozen=True)
class FakeConfig:
    """How the fake gateway behaves; see :class:`chronoflow.devtools.fake_whatsapp.FakeWhatsApp`."""

    api_key: str | None = None
    evolution_api_key: str | None = None
    webhook_url: str | None = None
    evolution_webhook_url: str | None = None
    hmac_key: str | None = None
    evolution_secret: str | None = None
    sessions: tuple[str, ...] = ("default",)


@dataclass
class FakeSession:
    """One WAHA session or Evolution instance."""

    provider: str
    name: str
    status: ChannelStatus = ChannelStatus.WORKING
    paired: bool = True
    webhook_url: str | None = None
    webhook_secret: str | None = None
    qr_count: int = 0
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    token: str = field(default_factory=lambda: uuid.uuid4().hex.upper())
    """The instance's own API key, which Evolution API puts in every webhook body."""
    provider_status: str | None = None
    """A word the gateway reports instead of ``status`` (a status newer than ChronoFlow knows)."""

    def word(self) -> str:
        """The status as this session's gateway says it (WAHA's word, or Evolution's state)."""
        if self.provider_status:
            return self.provider_status
        return self.status.value if self.provider == "waha" else evolution_state(self.status)

    @property
    def qr_code(self) -> str:
        """The pairing string of the current QR (changes each time a new QR is issued)."""
        return f"2@fake-{self.provider}-{self.name}-{self.qr_count}"

    def qr(self) -> QrCode:
        """The current QR image."""
        return QrCode.from_bytes(qr_png(self.qr_code))

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return {
            "provider": self.provider,
            "name": self.name,
            "status": self.status.value,
            "providerStatus": self.word(),
            "paired": self.paired,
        }


@dataclass
class FailRule:
    """Make the next ``times`` matching provider requests fail or stall.

    Attributes:
        status: HTTP status to answer; ``None`` answers normally (after ``delay_s``).
        times: how many requests it still applies to.
        path: only requests whose path starts with this; ``None`` for all provider routes.
        delay_s: wait before answering, to provoke client timeouts.
        body: JSON answered with ``status``.
        processed: the gateway does the work, then answers ``status`` anyway (a slow gateway's 5xx).
    """

    status: int | None
    times: int = 1
    path: str | None = None
    delay_s: float = 0.0
    body: Any = None
    processed: bool = False


class FakeState:
    """Sessions, sent messages, the request log and failure rules of one fake server."""

    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.sender = WebhookSender()
        self.url = ""
        """Base URL of the running server (set by the server once bound)."""
        self.sessions: dict[tuple[str, str], FakeSession] = {}
        self.messages: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.fail_rules: list[FailRule] = []
        self.lids: dict[str, str] = {}
        """Hidden ``…@lid`` senders and the numbers behind them (WAHA ``GET /api/{s}/lids/{lid}``)."""
        self.numbers: dict[str, str] = {}
        """How WhatsApp knows a number (normalized digits): ``invalid`` (not on WhatsApp) or
        ``legacy`` (a Brazilian mobile registered before the ninth digit: its chat id lacks it);
        any other number is on WhatsApp as written."""
        self.reset()

    def reset(self) -> None:
        """Back to the initial state: configured sessions WORKING and paired, logs empty."""
        with self.lock:
            self.sessions = {
                (provider, name): FakeSession(provider, name)
                for provider in PROVIDERS
                for name in self.config.sessions
            }
            self.messages.clear()
            self.requests.clear()
            self.fail_rules.clear()
            self.numbers.clear()
            self.lids.clear()
            self.sender.clear()

    def lookup(self, digits: str) -> str | None:
        """The chat number WhatsApp knows ``digits`` by (without ``@…``), or ``None`` when it is not on WhatsApp."""
        with self.lock:
            kind = self.numbers.get(digits)
        if kind == "invalid":
            return None
        if kind == "legacy" and digits.startswith("55") and len(digits) == 13:
            return digits[:4] + digits[5:]
        return digits

    def lid_for(self, digits: str) -> str:
        """The ``…@lid`` id WhatsApp shows ``digits`` behind (stable per number), remembered for look-ups."""
        lid = f"{int(digits) * 7919 % 10**15:015d}@lid"
        with self.lock:
            self.lids[lid] = digits
        return lid

    def api_key(self, provider: str) -> str | None:
        """The key a provider route requires, or ``None`` when it is open."""
        if provider == "evolution" and self.config.evolution_api_key:
            return self.config.evolution_api_key
        return self.config.api_key

    def session(self, provider: str, name: str) -> FakeSession | None:
        """A session, or ``None``."""
        with self.lock:
            return self.sessions.get((provider, name))

    def add_session(self, session: FakeSession) -> FakeSession:
        """Register a new session."""
        with self.lock:
            self.sessions[(session.provider, session.name)] = session
        return session

    def list_sessions(self, provider: str) -> list[FakeSession]:
        """A provider's sessions, by name."""
        with self.lock:
            return sorted((s for (p, _), s in self.sessions.items() if p == provider), key=lambda s: s.name)

    def take_failure(self, path: str) -> FailRule | None:
        """The failure rule for this request, if any, counting it as used."""
        with self.lock:
            for rule in self.fail_rules:
                if rule.times > 0 and (rule.path is None or path.startswith(rule.path)):
                    rule.times -= 1
                    self.fail_rules = [r for r in self.fail_rules if r.times > 0]
                    return rule
        return None

    def record_request(self, entry: dict[str, Any]) -> None:
        """Append to the request log."""
        with self.lock:
            self.requests.append(entry)

    def record_message(
        self, session: FakeSession, to_digits: str, text: str, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """Remember a sent text; returns the stored record (with its id)."""
        record = {
            "id": uuid.uuid4().hex[:20].upper(),
            "provider": session.provider,
            "session": session.name,
            "to": to_digits,
            "text": text,
            "timestamp": time.time(),
            **extra,
        }
        with self.lock:
            self.messages.append(record)
        return record

    def history(self, session: FakeSession, to_digits: str, limit: int) -> list[dict[str, Any]]:
        """The texts ``session`` sent to one person, newest first (what a chat's history lists)."""
        with self.lock:
            sent = [m for m in self.messages
                    if m["provider"] == session.provider and m["session"] == session.name and m["to"] == to_digits]
        return sent[::-1][:limit]

    def set_status(
        self, session: FakeSession, status: ChannelStatus, *, wait: bool, provider_status: str | None = None
    ) -> list[Delivery]:
        """Change a session's status and post the matching webhooks.

        Args:
            session: the session.
            status: its new status; nothing is posted when it does not change.
            wait: post before returning (control routes, so a test sees the result at once), or
                in the background (provider routes, as a real gateway does).
            provider_status: a word the gateway reports instead (``status`` is then UNKNOWN).

        Returns:
            The deliveries made, when ``wait``.
        """
        with self.lock:
            if session.status is status and session.provider_status == provider_status:
                return []
            session.status = status
            session.provider_status = provider_status
            if status is ChannelStatus.SCAN_QR_CODE:
                session.qr_count += 1
        if session.provider == "waha":
            bodies = [
                waha_webhook(session.name, "session.status", {"name": session.name, "status": session.word()})
            ]
        else:
            bodies = [
                self._evolution_body(
                    session,
                    "connection.update",
                    {"instance": session.name, "state": session.word(), "statusReason": 200},
                )
            ]
            if status is ChannelStatus.SCAN_QR_CODE:
                qr = session.qr()
                bodies.append(
                    self._evolution_body(
                        session,
                        "qrcode.updated",
                        {
                            "qrcode": {
                                "instance": session.name,
                                "pairingCode": None,
                                "code": session.qr_code,
                                "base64": f"data:{qr.mimetype};base64,{qr.data_base64}",
                            }
                        },
                    )
                )
        return [d for body in bodies if (d := self._emit(session, body, wait)) is not None]

    def inbound(self, session: FakeSession, sender_jid: str, text: str) -> list[Delivery]:
        """Post the webhook of a person writing ``text`` to ``session`` (synchronously)."""
        message_id = uuid.uuid4().hex[:20].upper()
        now = int(time.time())
        if session.provider == "waha":
            body = waha_webhook(
                session.name,
                "message",
                {
                    "id": f"false_{sender_jid}_{message_id}",
                    "timestamp": now,
                    "from": sender_jid,
                    "fromMe": False,
                    "to": "5511900000000@c.us",
                    "body": text,
                    "hasMedia": False,
                    "ack": 1,
                    "ackName": "SERVER",
                },
            )
        else:
            body = self._evolution_body(
                session,
                "messages.upsert",
                {
                    "key": {"remoteJid": sender_jid, "fromMe": False, "id": message_id},
                    "pushName": "Fake Contact",
                    "message": {"conversation": text},
                    "messageType": "conversation",
                    "messageTimestamp": now,
                    "instanceId": session.instance_id,
                    "source": "android",
                },
            )
        delivery = self._emit(session, body, True)
        return [delivery] if delivery else []

    def receipt(self, message_id: str, status: str) -> tuple[FakeSession, list[Delivery]]:
        """Post the receipt of a sent text (``delivered`` or ``read``) as its gateway does (synchronously).

        Raises:
            LookupError: no text was sent with that id.
        """
        with self.lock:
            record = next((m for m in self.messages if m["id"] == message_id), None)
        if record is None:
            raise LookupError(message_id)
        session = self.session(record["provider"], record["session"])
        assert session is not None
        read = status == "read"
        if session.provider == "waha":
            chat_id = record["chatId"]
            body = waha_webhook(session.name, "message.ack", {
                "id": f"true_{chat_id}_{message_id}", "from": FAKE_ME["id"], "to": chat_id, "fromMe": True,
                "ack": 3 if read else 2, "ackName": "READ" if read else "DEVICE",
            })
        else:
            body = self._evolution_body(session, "messages.update", {
                "messageId": uuid.uuid4().hex, "keyId": message_id, "remoteJid": f"{record['to']}@s.whatsapp.net",
                "fromMe": True, "participant": None, "status": "READ" if read else "DELIVERY_ACK",
                "instanceId": session.instance_id,
            })
        delivery = self._emit(session, body, True)
        return session, [delivery] if delivery else []

    def _evolution_body(self, session: FakeSession, event: str, data: dict[str, Any]) -> dict[str, Any]:
        return evolution_webhook(
            session.name, event, data, destination=self._webhook_url(session) or "", server_url=self.url,
            apikey=session.token,
        )

    def _webhook_url(self, session: FakeSession) -> str | None:
        if session.webhook_url:
            return session.webhook_url
        if session.provider == "waha":
            return self.config.webhook_url
        return self.config.evolution_webhook_url or self.config.webhook_url

    def _secret(self, session: FakeSession) -> str | None:
        if session.webhook_secret:
            return session.webhook_secret
        return self.config.hmac_key if session.provider == "waha" else self.config.evolution_secret

    def _emit(self, session: FakeSession, body: dict[str, Any], wait: bool) -> Delivery | None:
        url = self._webhook_url(session)
        if not url:
            return None
        if wait:
            return self.sender.post(url, body, provider=session.provider, secret=self._secret(session))
        self.sender.post_later(url, body, provider=session.provider, secret=self._secret(session))
        return None
