"""``/_fake/*``: look inside the fake gateway and make things happen to it.

These routes need no API key: the fake is a local test tool bound to 127.0.0.1. Routes acting on
a session take ``{"session": ..., "provider": "waha" | "evolution"}`` (``provider`` defaults to
``waha``) and answer the webhooks they posted, after posting them, so a test can assert at once.
"""

from __future__ import annotations

from typing import Any

from chronoflow.channels.base import ChannelStatus
from chronoflow.channels.errors import InvalidPhoneNumber
from chronoflow.channels.phone import normalize_number
from chronoflow.devtools.fake_whatsapp.routing import BadRequest, Request, Response, Router, json_response
from chronoflow.devtools.fake_whatsapp.state import PROVIDERS, FailRule, FakeSession, FakeState

__all__ = ["router"]

router = Router()


def _target(state: FakeState, body: dict[str, Any]) -> FakeSession:
    provider = str(body.get("provider") or "waha").lower()
    if provider not in PROVIDERS:
        raise BadRequest(f"provider must be one of {', '.join(PROVIDERS)}")
    name = body.get("session")
    if not isinstance(name, str) or not name:
        raise BadRequest("session is required")
    session = state.session(provider, name)
    if session is None:
        raise BadRequest(f"no {provider} session named {name!r}")
    return session


def _deliveries(session: FakeSession, deliveries: list[Any]) -> Response:
    return json_response({"session": session.as_dict(), "webhooks": [d.as_dict() for d in deliveries]})


@router.route("GET", "/_fake/messages")
def messages(state: FakeState, request: Request) -> Response:
    """Texts sent through either provider, oldest first (``?provider=``, ``?session=`` filter).

    A WAHA record's ``arrived`` is false when the chat id is one WhatsApp does not know: WAHA
    answered 201, the person never got it (a legacy Brazilian number addressed with its ninth digit).
    """
    with state.lock:
        items = [
            m
            for m in state.messages
            if request.query.get("provider") in (None, m["provider"])
            and request.query.get("session") in (None, m["session"])
        ]
    return json_response({"items": items, "total": len(items)})


@router.route("DELETE", "/_fake/messages")
def clear_messages(state: FakeState, request: Request) -> Response:
    """Forget sent texts."""
    with state.lock:
        state.messages.clear()
    return Response(204)


@router.route("POST", "/_fake/numbers")
def mark_number(state: FakeState, request: Request) -> Response:
    """``{"number": "+55 11 98765-4321", "whatsapp": "invalid" | "legacy" | "valid"}``: how number checks answer."""
    body = request.json_object()
    kind = body.get("whatsapp")
    if kind not in ("invalid", "legacy", "valid"):
        raise BadRequest("whatsapp must be invalid, legacy or valid")
    try:
        digits = normalize_number(str(body.get("number") or ""))
    except InvalidPhoneNumber as exc:
        raise BadRequest(f"number: {exc.reason}") from None
    with state.lock:
        if kind == "valid":
            state.numbers.pop(digits, None)
        else:
            state.numbers[digits] = kind
    return json_response({"number": digits, "whatsapp": kind})


@router.route("GET", "/_fake/requests")
def requests(state: FakeState, request: Request) -> Response:
    """Every provider request received, failed ones included (``?path=`` prefix filter)."""
    prefix = request.query.get("path", "")
    with state.lock:
        items = [r for r in state.requests if r["path"].startswith(prefix)]
    return json_response({"items": items, "total": len(items)})


@router.route("GET", "/_fake/sessions")
def sessions(state: FakeState, request: Request) -> Response:
    """Every session of both providers."""
    items = [s.as_dict() for provider in PROVIDERS for s in state.list_sessions(provider)]
    return json_response({"items": items, "total": len(items)})


@router.route("GET", "/_fake/webhooks")
def webhooks(state: FakeState, request: Request) -> Response:
    """Webhooks posted so far, with ChronoFlow's answer status or the delivery error."""
    items = [d.as_dict() for d in state.sender.deliveries]
    return json_response({"items": items, "total": len(items)})


@router.route("POST", "/_fake/reset")
def reset(state: FakeState, request: Request) -> Response:
    """Back to the initial sessions, with empty logs and no failure rules."""
    state.reset()
    return json_response({"ok": True})


@router.route("POST", "/_fake/fail")
def fail(state: FakeState, request: Request) -> Response:
    """``{"status": 500, "times": 2, "path": "/api/sendText", "delay": 0, "body": {...}, "processed": false}``.

    ``processed``: the request is carried out, then answered with the failure anyway.
    """
    body = request.json_object()
    status, times, delay = body.get("status"), body.get("times", 1), body.get("delay", 0)
    if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
        raise BadRequest("status must be an HTTP status code")
    if not isinstance(times, int) or times < 1:
        raise BadRequest("times must be a positive integer")
    if not isinstance(delay, int | float) or delay < 0:
        raise BadRequest("delay must be a number of seconds >= 0")
    if status is None and not delay:
        raise BadRequest("give a status, a delay, or both")
    path = body.get("path")
    rule = FailRule(
        status=status,
        times=times,
        path=path if isinstance(path, str) else None,
        delay_s=float(delay),
        body=body.get("body"),
        processed=body.get("processed") is True,
    )
    with state.lock:
        state.fail_rules.append(rule)
    return json_response({"ok": True})


@router.route("POST", "/_fake/disconnect")
def disconnect(state: FakeState, request: Request) -> Response:
    """The phone lost its connection: STOPPED / ``close``; the pairing survives."""
    session = _target(state, request.json_object())
    return _deliveries(session, state.set_status(session, ChannelStatus.STOPPED, wait=True))


@router.route("POST", "/_fake/connect")
def connect(state: FakeState, request: Request) -> Response:
    """The phone scanned the QR or came back: paired, WORKING / ``open``."""
    session = _target(state, request.json_object())
    session.paired = True
    return _deliveries(session, state.set_status(session, ChannelStatus.WORKING, wait=True))


@router.route("POST", "/_fake/status")
def set_status(state: FakeState, request: Request) -> Response:
    """``{"session", "provider", "status": "FAILED"}``: any status change, with its webhook.

    ``{"providerStatus": "DANCING"}`` instead makes the gateway report a word of its own, as a
    gateway newer than ChronoFlow would (ChronoFlow reads it as UNKNOWN).
    """
    body = request.json_object()
    session = _target(state, body)
    word = body.get("providerStatus")
    if word is not None:
        if not isinstance(word, str) or not word:
            raise BadRequest("providerStatus must be a non-empty string")
        return _deliveries(session, state.set_status(session, ChannelStatus.UNKNOWN, wait=True, provider_status=word))
    known = [s.value for s in ChannelStatus if s is not ChannelStatus.UNKNOWN]
    status = str(body.get("status", "")).upper()
    if status not in known:
        raise BadRequest(f"status must be one of {', '.join(known)} (or give providerStatus)")
    return _deliveries(session, state.set_status(session, ChannelStatus(status), wait=True))


@router.route("POST", "/_fake/inbound")
def inbound(state: FakeState, request: Request) -> Response:
    """``{"session", "provider", "from": "+55 11 98765-4321", "text": "PARE"}``: a person writes in.

    ``from`` may be any number form (it becomes ``<digits>@c.us`` / ``@s.whatsapp.net``) or an
    exact WhatsApp id containing ``@`` (to simulate groups or numbers without the ninth digit).
    ``"lid": true`` (WAHA) hides the number behind a ``…@lid`` id, as WEBJS and GOWS report some
    senders; ``GET /api/{session}/lids/{lid}`` then tells the number.
    """
    body = request.json_object()
    session = _target(state, body)
    sender, text = body.get("from"), body.get("text")
    if not isinstance(sender, str) or not sender:
        raise BadRequest("from is required")
    if not isinstance(text, str):
        raise BadRequest("text must be a string")
    if "@" not in sender:
        try:
            digits = normalize_number(sender)
        except InvalidPhoneNumber as exc:
            raise BadRequest(str(exc)) from None
        sender = f"{digits}@c.us" if session.provider == "waha" else f"{digits}@s.whatsapp.net"
        if body.get("lid") is True and session.provider == "waha":
            sender = state.lid_for(digits)
    return _deliveries(session, state.inbound(session, sender, text))


@router.route("POST", "/_fake/ack")
def ack(state: FakeState, request: Request) -> Response:
    """``{"messageId": <an id from /_fake/messages>, "status": "delivered" | "read"}``: the person's phone got
    the text, or they read it; posts WAHA ``message.ack`` / Evolution ``messages.update`` to ChronoFlow."""
    body = request.json_object()
    message_id, status = body.get("messageId"), body.get("status")
    if status not in ("delivered", "read"):
        raise BadRequest("status must be delivered or read")
    if not isinstance(message_id, str) or not message_id:
        raise BadRequest("messageId is required")
    try:
        session, deliveries = state.receipt(message_id, status)
    except LookupError:
        raise BadRequest(f"no message with id {message_id!r}") from None
    return _deliveries(session, deliveries)
