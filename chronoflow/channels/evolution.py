"""Client of Evolution API (v2), the Baileys-based WhatsApp gateway.

Routes used (authenticated by the ``apikey`` header)::

    POST   /message/sendText/{instance}         {number, text} → {key: {remoteJid, fromMe, id}, ...}
    GET    /instance/connectionState/{instance} {instance: {instanceName, state}}
    POST   /chat/whatsappNumbers/{instance}     {numbers: [...]} → [{exists, jid, number}]
    POST   /chat/findMessages/{instance}        {where: {key: {remoteJid}}, limit} → {messages: {records: [...]}}
    GET    /instance/connect/{instance}         QR {pairingCode, code, base64, count}, or the state when open
    POST   /instance/restart/{instance}
    DELETE /instance/logout/{instance}
    POST   /instance/create                     {instanceName, integration, qrcode, webhook}
    GET    /instance/fetchInstances             list

An Evolution *instance* is what ChronoFlow calls a session. Its connection states map onto
:class:`ChannelStatus` through :func:`evolution_status`. Evolution API has no "stop" that keeps the
pairing: :meth:`EvolutionClient.stop` raises :class:`UnsupportedCall` rather than silently
logging the phone out.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote


from chronoflow.channels.base import (
    ChannelStatus,
    ChatMessage,
    NumberCheck,
    ProviderKind,
    QrCode,
    SentMessage,
    SessionInfo,
    WhatsAppProvider,
)
from chronoflow.channels.errors import NotOnWhatsApp, ProviderError, UnsupportedCall

__all__ = ["EVOLUTION_WEBHOOK_EVENTS", "EvolutionClient", "evolution_status", "evolution_text"]

logger = logging.getLogger(__name__)

PROVIDER = "evolution"
"""Provider name in errors and logs."""

INTEGRATION = "WHATSAPP-BAILEYS"
"""Evolution integration used for new instances: the QR-paired WhatsApp Web protocol."""

EVOLUTION_WEBHOOK_EVENTS = ("CONNECTION_UPDATE", "MESSAGES_UPSERT", "MESSAGES_UPDATE", "QRCODE_UPDATED")
"""Events ChronoFlow subscribes to when it creates an instance."""

SECRET_HEADER = "X-Webhook-Secret"
"""Header carrying the shared secret on Evolution webhooks (set through the instance's webhook
``headers``, since Evolution API does not sign its webhooks)."""

_STATES = {
    "open": ChannelStatus.WORKING,
    "connecting": ChannelStatus.STARTING,
    "close": ChannelStatus.STOPPED,
    "closed": ChannelStatus.STOPPED,
    "refused": ChannelStatus.FAILED,
}
"""Evolution connection states; ``refused`` is what it sends when it gives up (QR limit)."""


def evolution_status(value: object) -> ChannelStatus:
    """Map an Evolution connection state (``open``, ``connecting``, ``close``, ``refused``).

    A state this version does not know is ``UNKNOWN``; never raises, so one odd instance cannot
    break an instance list or a webhook.
    """
    if isinstance(value, str) and value.lower() in _STATES:
        return _STATES[value.lower()]
    logger.warning("unknown Evolution connection state %r, kept as UNKNOWN", str(value)[:64])
    return ChannelStatus.UNKNOWN


class EvolutionClient(WhatsAppProvider):
    """An Evolution API server, acting on one instance.

    Args:
        base_url: the Evolution server (``EVOLUTION_BASE_URL``).
        instance: the instance this client sends through and manages.
        api_key: ``EVOLUTION_API_KEY`` (global key) or the instance's own token.
        policy, client, sleep: as :class:`~chronoflow.channels.base.WhatsAppProvider` takes them.
    """

    kind = ProviderKind.EVOLUTION
    api_key_header = "apikey"
    session_label = "Evolution instance"

    @property
    def _name(self) -> str:
        return quote(self.session, safe="")

    async def send_text(self, number_digits: str, text: str) -> SentMessage:
        """``POST /message/sendText/{instance}``; see :meth:`WhatsAppProvider.send_text`.

        Raises:
            NotOnWhatsApp: Evolution answered 400 ``{response: {message: [{exists: false, ...}]}}``.
        """
        if not number_digits or not (number_digits.isascii() and number_digits.isdigit()):
            raise ValueError(f"expected a normalized number (digits only), got {number_digits!r}")
        try:
            answer = await self._http.request_json(
                "send_text",
                "POST",
                f"/message/sendText/{self._name}",
                json={"number": number_digits, "text": text},
                sends_message=True,
            )
        except ProviderError as exc:
            if exc.http_status == 400 and _not_on_whatsapp(exc.answer):
                raise NotOnWhatsApp(PROVIDER, "send_text", number_digits) from exc
            raise
        key = answer.get("key") if isinstance(answer, dict) else None
        ident = key.get("id") if isinstance(key, dict) else None
        return SentMessage(id=str(ident) if ident else None, raw=answer)

    async def check_numbers(self, numbers_digits: list[str]) -> list[NumberCheck]:
        """``POST /chat/whatsappNumbers/{instance}`` with ``{numbers}``; see :meth:`WhatsAppProvider.check_numbers`.

        The answer lists ``{exists, jid, number}``; entries are matched to the numbers asked by
        ``number``, else by position.
        """
        if any(not (n and n.isascii() and n.isdigit()) for n in numbers_digits):
            raise ValueError("expected normalized numbers (digits only)")
        if not numbers_digits:
            return []
        answer = await self._http.request_json(
            "check_numbers", "POST", f"/chat/whatsappNumbers/{self._name}", json={"numbers": numbers_digits}
        )
        if not isinstance(answer, list) or len(answer) != len(numbers_digits) or not all(
                isinstance(entry, dict) for entry in answer):
            raise ProviderError(PROVIDER, "check_numbers", f"unexpected answer {str(answer)[:200]!r}")
        by_number = {str(entry.get("number")): entry for entry in answer}
        checks = []
        for number, positional in zip(numbers_digits, answer, strict=True):
            entry = by_number.get(number, positional)
            jid = entry.get("jid")
            checks.append(NumberCheck(number, entry.get("exists") is True, jid if isinstance(jid, str) else None))
        return checks

    async def recent_messages(self, number_digits: str, limit: int) -> list[ChatMessage]:
        """``POST /chat/findMessages/{instance}`` for the person's chat; see :meth:`WhatsAppProvider.recent_messages`.

        v2 answers ``{messages: {total, pages, currentPage, records}}``, v1 a bare list; both are read.
        """
        if not number_digits or not (number_digits.isascii() and number_digits.isdigit()):
            raise ValueError(f"expected a normalized number (digits only), got {number_digits!r}")
        body = {"where": {"key": {"remoteJid": f"{number_digits}@s.whatsapp.net"}}, "limit": limit}
        answer = await self._http.request_json("recent_messages", "POST", f"/chat/findMessages/{self._name}",
                                               json=body)
        inner = answer.get("messages") if isinstance(answer, dict) else answer
        records = inner.get("records") if isinstance(inner, dict) else inner
        if not isinstance(records, list):
            raise ProviderError(PROVIDER, "recent_messages", f"unexpected answer {str(answer)[:200]!r}")
        found = []
        for record in records[:limit]:
            key = record.get("key") if isinstance(record, dict) else None
            if not isinstance(key, dict):
                continue
            ident = key.get("id")
            found.append(ChatMessage(str(ident) if ident else None, key.get("fromMe") is True,
                                     evolution_text(record.get("message"))))
        return found

    async def status(self) -> ChannelStatus:
        """``GET /instance/connectionState/{instance}``."""
        answer = await self._http.request_json("status", "GET", f"/instance/connectionState/{self._name}")
        instance = answer.get("instance") if isinstance(answer, dict) else None
        state = instance.get("state") if isinstance(instance, dict) else None
        if state is None:
            raise ProviderError(PROVIDER, "status", f"answer without a connection state: {str(answer)[:200]!r}")
        return evolution_status(state)

    async def start(self) -> ChannelStatus:
        """``GET /instance/connect/{instance}``: connects, or produces a QR code to scan."""
        answer = await self._http.request_json("start", "GET", f"/instance/connect/{self._name}")
        return self._connect_status("start", answer)

    async def stop(self) -> ChannelStatus:
        """Always raises: Evolution API can only log out, which would unpair the phone.

        Raises:
            UnsupportedCall: use :meth:`logout` if unpairing is really meant.
        """
        raise UnsupportedCall(PROVIDER, "stop", "Evolution API has no stop; logout unpairs the phone")

    async def logout(self) -> ChannelStatus:
        """``DELETE /instance/logout/{instance}``, then the state it leaves."""
        answer = await self._http.request_json("logout", "DELETE", f"/instance/logout/{self._name}")
        _raise_embedded_error("logout", answer)
        return await self.status()

    async def restart(self) -> ChannelStatus:
        """``POST /instance/restart/{instance}``."""
        answer = await self._http.request_json("restart", "POST", f"/instance/restart/{self._name}")
        return self._connect_status("restart", answer)

    async def qr(self) -> QrCode:
        """The QR code of ``GET /instance/connect/{instance}``.

        Raises:
            ProviderError: the instance is already connected (no QR to scan) or the answer has
                no image.
        """
        answer = await self._http.request_json("qr", "GET", f"/instance/connect/{self._name}")
        _raise_embedded_error("qr", answer)
        image = answer.get("base64") if isinstance(answer, dict) else None
        if not image:
            state = self._connect_status("qr", answer)
            raise ProviderError(PROVIDER, "qr", f"no QR code to scan: the instance is {state}")
        try:
            return QrCode.from_data_url(str(image))
        except ValueError as exc:
            raise ProviderError(PROVIDER, "qr", f"QR image is not base64: {exc}") from exc

    async def list_sessions(self) -> list[SessionInfo]:
        """``GET /instance/fetchInstances`` (v2 rows ``{name, connectionStatus}``; v1 nested too)."""
        answer = await self._http.request_json("list_sessions", "GET", "/instance/fetchInstances")
        if not isinstance(answer, list):
            raise ProviderError(PROVIDER, "list_sessions", f"expected a list, got {type(answer).__name__}")
        sessions = []
        for item in answer:
            inner = (
                item.get("instance")
                if isinstance(item, dict) and isinstance(item.get("instance"), dict)
                else item
            )
            if not isinstance(inner, dict):
                raise ProviderError(PROVIDER, "list_sessions", f"unexpected instance {str(item)[:200]!r}")
            name = inner.get("name") or inner.get("instanceName")
            state = inner.get("connectionStatus") or inner.get("status") or inner.get("state")
            if not name:
                raise ProviderError(PROVIDER, "list_sessions", f"instance without a name {str(item)[:200]!r}")
            sessions.append(SessionInfo(name=str(name), status=evolution_status(state), raw=item,
                                        provider_status=str(state)[:64] if state is not None else None))
        return sessions

    async def create_session(
        self,
        name: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> SessionInfo:
        """``POST /instance/create`` with a QR code; see :meth:`WhatsAppProvider.create_session`.

        With ``webhook_url``, the instance posts :data:`EVOLUTION_WEBHOOK_EVENTS` there, carrying
        ``webhook_secret`` in the ``X-Webhook-Secret`` header when one is given, and ``base64: false``
        (true would inline every inbound media file into the webhooks).

        Evolution creates slowly: a request that timed out may still have created the instance, so it
        is not repeated (a timeout is reported). A retry after a 5xx answered "already in use" means
        the first attempt did create it, and counts as success.
        """
        body: dict[str, Any] = {"instanceName": name, "integration": INTEGRATION, "qrcode": True}
        if webhook_url:
            hook: dict[str, Any] = {
                "enabled": True,
                "url": webhook_url,
                "byEvents": False,
                "base64": False,
                "events": list(EVOLUTION_WEBHOOK_EVENTS),
            }
            if webhook_secret:
                hook["headers"] = {SECRET_HEADER: webhook_secret}
            body["webhook"] = hook
        try:
            answer = await self._http.request_json("create_session", "POST", "/instance/create", json=body,
                                                   idempotent=False)
        except ProviderError as exc:
            if exc.attempts > 1 and exc.http_status in (400, 403, 409) and "already in use" in exc.detail.lower():
                return SessionInfo(name=name, status=ChannelStatus.STARTING, raw=exc.answer)
            raise
        if not isinstance(answer, dict) or not isinstance(answer.get("instance"), dict):
            raise ProviderError(PROVIDER, "create_session", f"unexpected answer {str(answer)[:200]!r}")
        qrcode = answer.get("qrcode")
        waiting = isinstance(qrcode, dict) and bool(qrcode.get("base64") or qrcode.get("code"))
        status = ChannelStatus.SCAN_QR_CODE if waiting else ChannelStatus.STARTING
        return SessionInfo(
            name=str(answer["instance"].get("instanceName") or name), status=status, raw=answer
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    def _connect_status(self, call: str, answer: Any) -> ChannelStatus:
        """The state after connect/restart: a QR means SCAN_QR_CODE, a state is mapped."""
        _raise_embedded_error(call, answer)
        if not isinstance(answer, dict):
            return ChannelStatus.STARTING
        if answer.get("base64") or answer.get("code"):
            return ChannelStatus.SCAN_QR_CODE
        instance = answer.get("instance")
        if isinstance(instance, dict) and (instance.get("state") or instance.get("status")):
            return evolution_status(instance.get("state") or instance.get("status"))
        return ChannelStatus.STARTING


def evolution_text(message: object) -> str:
    """The text of a Baileys message: plain, extended (with a link or reply), or a media caption."""
    if not isinstance(message, dict):
        return ""
    if isinstance(message.get("conversation"), str):
        return str(message["conversation"])
    for kind, attribute in (
        ("extendedTextMessage", "text"),
        ("imageMessage", "caption"),
        ("videoMessage", "caption"),
        ("documentMessage", "caption"),
    ):
        inner = message.get(kind)
        if isinstance(inner, dict) and isinstance(inner.get(attribute), str):
            return str(inner[attribute])
    return ""


def _not_on_whatsapp(answer: Any) -> bool:
    """Whether a 400 answer is Evolution's "this number has no WhatsApp" (``exists: false`` in its message list)."""
    inner = answer.get("response") if isinstance(answer, dict) else None
    messages = inner.get("message") if isinstance(inner, dict) else None
    return isinstance(messages, list) and any(isinstance(m, dict) and m.get("exists") is False for m in messages)


def _raise_embedded_error(call: str, answer: Any) -> None:
    """Evolution's connect and restart catch their errors and answer 200 ``{error: true, message}``."""
    if isinstance(answer, dict) and answer.get("error") is True:
        raise ProviderError(PROVIDER, call, str(answer.get("message") or answer)[:300])
