"""Client of WAHA (devlikeapro/waha), the WhatsApp HTTP API.

Routes used (all under ``/api``, authenticated by the ``X-Api-Key`` header)::

    POST /api/sendText                      {session, chatId: "<digits>@c.us", text}
    GET  /api/{s}/chats/{chatId}/messages   ?limit=&downloadMedia=false → [{id, fromMe, body}], newest first
    GET  /api/{s}/lids/{lid}                {lid, pn}: the phone number behind a hidden ``@lid`` sender
    GET  /api/contacts/check-exists         ?phone=<digits>&session= → {numberExists, chatId}
    GET  /api/sessions?all=true             list
    POST /api/sessions                      {name, start, config}
    GET  /api/sessions/{s}                  {name, status, ...}
    POST /api/sessions/{s}/start|stop|logout|restart
    GET  /api/{s}/auth/qr                   PNG, or {mimetype, data} with Accept: application/json

WAHA's session statuses are ChronoFlow's :class:`ChannelStatus` values, one to one (``STOPPED``,
``STARTING``, ``SCAN_QR_CODE``, ``PASSKEY_REQUIRED``, ``PASSKEY_CONFIRMATION_REQUIRED``, ``WORKING``,
``FAILED``); a status added by a later WAHA version reads as ``UNKNOWN``.
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
from chronoflow.channels.errors import ProviderError

__all__ = ["WAHA_WEBHOOK_EVENTS", "WahaClient", "waha_chat_id", "waha_status"]

logger = logging.getLogger(__name__)

PROVIDER = "waha"
"""Provider name in errors and logs."""

WAHA_WEBHOOK_EVENTS = ("session.status", "message", "message.ack")
"""Events ChronoFlow subscribes to when it creates a session: status changes, inbound texts, receipts."""


def waha_status(value: object) -> ChannelStatus:
    """Map a WAHA session status to a :class:`ChannelStatus`; one it does not know is ``UNKNOWN``.

    Never raises: a newer WAHA's new status must not make a session list or a webhook fail.
    """
    if not isinstance(value, str):
        return ChannelStatus.UNKNOWN
    try:
        return ChannelStatus(value.upper())
    except ValueError:
        logger.warning("unknown WAHA session status %r, kept as UNKNOWN", value[:64])
        return ChannelStatus.UNKNOWN


def waha_chat_id(number_digits: str) -> str:
    """The WAHA chat id of a person: ``<digits>@c.us``.

    Raises:
        ValueError: the number is not plain ASCII digits (normalize it first).
    """
    if not number_digits or not (number_digits.isascii() and number_digits.isdigit()):
        raise ValueError(f"expected a normalized number (digits only), got {number_digits!r}")
    return f"{number_digits}@c.us"


class WahaClient(WhatsAppProvider):
    """A WAHA server, acting on one session.

    Args:
        base_url: the WAHA server (``WAHA_BASE_URL``).
        session: the session this client sends through and manages.
        api_key: ``WAHA_API_KEY``; ``None`` or empty sends no key.
        policy, client, sleep: as :class:`~chronoflow.channels.base.WhatsAppProvider` takes them.
    """

    kind = ProviderKind.WAHA
    api_key_header = "X-Api-Key"
    session_label = "WAHA session"

    @property
    def _path(self) -> str:
        return f"/api/sessions/{quote(self.session, safe='')}"

    async def send_text(self, number_digits: str, text: str) -> SentMessage:
        """Send a text through ``POST /api/sendText``; see :meth:`WhatsAppProvider.send_text`."""
        body = {"session": self.session, "chatId": waha_chat_id(number_digits), "text": text}
        answer = await self._http.request_json(
            "send_text", "POST", "/api/sendText", json=body, sends_message=True
        )
        return SentMessage(id=_message_id(answer), raw=answer)

    async def check_numbers(self, numbers_digits: list[str]) -> list[NumberCheck]:
        """``GET /api/contacts/check-exists`` once per number; see :meth:`WhatsAppProvider.check_numbers`."""
        checks = []
        for number in numbers_digits:
            waha_chat_id(number)  # refuses anything but digits
            answer = await self._http.request_json(
                "check_numbers", "GET", "/api/contacts/check-exists", params={"phone": number, "session": self.session}
            )
            if not isinstance(answer, dict) or not isinstance(answer.get("numberExists"), bool):
                raise ProviderError(PROVIDER, "check_numbers", f"unexpected answer {str(answer)[:200]!r}")
            chat_id = answer.get("chatId")
            checks.append(NumberCheck(number, answer["numberExists"], chat_id if isinstance(chat_id, str) else None))
        return checks

    async def recent_messages(self, number_digits: str, limit: int) -> list[ChatMessage]:
        """``GET /api/{session}/chats/{chatId}/messages``; see :meth:`WhatsAppProvider.recent_messages`."""
        path = f"/api/{quote(self.session, safe='')}/chats/{quote(waha_chat_id(number_digits), safe='')}/messages"
        answer = await self._http.request_json("recent_messages", "GET", path,
                                               params={"limit": str(limit), "downloadMedia": "false"})
        if not isinstance(answer, list):
            raise ProviderError(PROVIDER, "recent_messages", f"expected a list, got {str(answer)[:200]!r}")
        return [ChatMessage(_message_id(item), item.get("fromMe") is True,
                            str(item["body"]) if isinstance(item.get("body"), str) else "")
                for item in answer if isinstance(item, dict)]

    async def resolve_lid(self, lid: str) -> str | None:
        """The number behind a ``…@lid`` sender (``GET /api/{session}/lids/{lid}``), or None when WAHA knows none.

        WEBJS and GOWS report some senders by a linked id that hides their number; an opt-out from one
        must still reach the number it belongs to.
        """
        path = f"/api/{quote(self.session, safe='')}/lids/{quote(lid, safe='')}"
        try:
            answer = await self._http.request_json("resolve_lid", "GET", path)
        except ProviderError as exc:
            if exc.http_status == 404:
                return None
            raise
        pn = answer.get("pn") if isinstance(answer, dict) else None
        if not isinstance(pn, str) or not pn:
            return None
        digits = pn.split("@", 1)[0]
        return digits if digits.isascii() and digits.isdigit() else None

    async def status(self) -> ChannelStatus:
        """``GET /api/sessions/{session}``'s status."""
        return self._status_of("status", await self._http.request_json("status", "GET", self._path))

    async def start(self) -> ChannelStatus:
        """``POST /api/sessions/{session}/start``."""
        return await self._session_call("start")

    async def stop(self) -> ChannelStatus:
        """``POST /api/sessions/{session}/stop``."""
        return await self._session_call("stop")

    async def logout(self) -> ChannelStatus:
        """``POST /api/sessions/{session}/logout``."""
        return await self._session_call("logout")

    async def restart(self) -> ChannelStatus:
        """``POST /api/sessions/{session}/restart``."""
        return await self._session_call("restart")

    async def qr(self) -> QrCode:
        """``GET /api/{session}/auth/qr`` as JSON ``{mimetype, data}``.

        An older WAHA that ignores ``Accept`` answers the PNG itself; both are accepted.
        """
        response = await self._http.request("qr", "GET", self._qr_path)
        if response.headers.get("content-type", "").startswith("image/"):
            return QrCode.from_bytes(response.content, response.headers["content-type"].split(";")[0])
        try:
            answer = response.json()
            return QrCode(
                mimetype=str(answer.get("mimetype") or "image/png"), data_base64=str(answer["data"])
            )
        except (ValueError, KeyError, AttributeError) as exc:
            raise ProviderError(
                PROVIDER,
                "qr",
                f"unexpected QR answer: {response.text[:200]!r}",
                http_status=response.status_code,
            ) from exc

    async def qr_png(self) -> bytes:
        """``GET /api/{session}/auth/qr`` as the PNG bytes, for serving the image directly."""
        response = await self._http.request("qr_png", "GET", self._qr_path, headers={"Accept": "image/png"})
        if not response.headers.get("content-type", "").startswith("image/"):
            # A WAHA that prefers JSON still carries the image inside it.
            return (await self.qr()).content
        return response.content

    async def list_sessions(self) -> list[SessionInfo]:
        """``GET /api/sessions?all=true``: stopped sessions included."""
        answer = await self._http.request_json(
            "list_sessions", "GET", "/api/sessions", params={"all": "true"}
        )
        if not isinstance(answer, list):
            raise ProviderError(PROVIDER, "list_sessions", f"expected a list, got {type(answer).__name__}")
        return [self._info("list_sessions", item) for item in answer]

    async def create_session(
        self,
        name: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> SessionInfo:
        """``POST /api/sessions`` with ``start: true``; see :meth:`WhatsAppProvider.create_session`.

        With ``webhook_url``, the session posts :data:`WAHA_WEBHOOK_EVENTS` there, signed with
        ``webhook_secret`` as its HMAC key when one is given.
        """
        body: dict[str, Any] = {"name": name, "start": True}
        if webhook_url:
            hook: dict[str, Any] = {"url": webhook_url, "events": list(WAHA_WEBHOOK_EVENTS)}
            if webhook_secret:
                hook["hmac"] = {"key": webhook_secret}
            body["config"] = {"webhooks": [hook]}
        answer = await self._http.request_json("create_session", "POST", "/api/sessions", json=body)
        return self._info("create_session", answer)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    @property
    def _qr_path(self) -> str:
        return f"/api/{quote(self.session, safe='')}/auth/qr"

    async def _session_call(self, action: str) -> ChannelStatus:
        answer = await self._http.request_json(action, "POST", f"{self._path}/{action}")
        return self._status_of(action, answer)

    def _status_of(self, call: str, answer: Any) -> ChannelStatus:
        return self._info(call, answer).status

    def _info(self, call: str, answer: Any) -> SessionInfo:
        if not isinstance(answer, dict) or "name" not in answer or "status" not in answer:
            raise ProviderError(
                PROVIDER, call, f"expected a session {{name, status}}, got {str(answer)[:200]!r}"
            )
        raw_status = answer["status"]
        return SessionInfo(
            name=str(answer["name"]),
            status=waha_status(raw_status),
            raw=answer,
            provider_status=str(raw_status)[:64] if raw_status is not None else None,
        )


def _message_id(answer: Any) -> str | None:
    """The message id in a WAHA send answer, whatever the engine.

    WEBJS answers ``{"id": {"_serialized": ...}}``, GOWS and newer versions ``{"id": "..."}``,
    NOWEB the Baileys ``{"key": {"id": ...}}``.
    """
    if not isinstance(answer, dict):
        return None
    ident = answer.get("id")
    if isinstance(ident, str) and ident:
        return ident
    if isinstance(ident, dict):
        for key in ("_serialized", "id"):
            if isinstance(ident.get(key), str) and ident[key]:
                return str(ident[key])
    key_obj = answer.get("key")
    if isinstance(key_obj, dict) and isinstance(key_obj.get("id"), str) and key_obj["id"]:
        return str(key_obj["id"])
    return None
