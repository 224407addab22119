"""The WAHA part of the fake gateway: sessions, QR, sendText, check-exists, a chat's messages.

Answers follow WAHA's shapes: a session is ``{name, status, config, me}``, errors are NestJS
``{statusCode, message, error}``, a send answers the WEBJS message with its id object.
"""

from __future__ import annotations

import uuid
from typing import Any

from chronoflow.channels.base import ChannelStatus
from chronoflow.devtools.fake_whatsapp.events import FAKE_ME
from chronoflow.devtools.fake_whatsapp.routing import Request, Response, Router, json_response
from chronoflow.devtools.fake_whatsapp.state import FakeSession, FakeState

__all__ = ["router"]

router = Router()

_PERSON_SUFFIXES = ("@c.us", "@s.whatsapp.net")


def _error(status: int, message: str) -> Response:
    names = {400: "Bad Request", 404: "Not Found", 422: "Unprocessable Entity"}
    return json_response(
        {"statusCode": status, "message": message, "error": names.get(status, "Error")}, status
    )


def _info(session: FakeSession) -> dict[str, Any]:
    working = session.status is ChannelStatus.WORKING
    config: dict[str, Any] = {"webhooks": []}
    if session.webhook_url:
        config["webhooks"] = [{"url": session.webhook_url,
                               "events": ["session.status", "message", "message.ack"]}]
    return {
        "name": session.name,
        "status": session.word(),
        "config": config,
        "me": FAKE_ME if working else None,
        "engine": {"engine": "WEBJS"},
    }


def _session_or_404(state: FakeState, name: str) -> FakeSession | Response:
    session = state.session("waha", name)
    return session if session is not None else _error(404, "Session not found")


@router.route("GET", "/api/sessions")
def list_sessions(state: FakeState, request: Request) -> Response:
    """Sessions; without ``?all=true`` only those not STOPPED, as WAHA does."""
    every = request.query.get("all", "").lower() == "true"
    sessions = [s for s in state.list_sessions("waha") if every or s.status is not ChannelStatus.STOPPED]
    return json_response([_info(s) for s in sessions])


@router.route("POST", "/api/sessions")
def create_session(state: FakeState, request: Request) -> Response:
    """A new, unpaired session; started (→ SCAN_QR_CODE) when ``start`` is true."""
    body = request.json_object()
    name = body.get("name") or f"session_{uuid.uuid4().hex[:8]}"
    if not isinstance(name, str):
        return _error(400, "name must be a string")
    if state.session("waha", name) is not None:
        return _error(422, f"Session '{name}' already exists. Use PUT to update it.")
    hooks = (body.get("config") or {}).get("webhooks") or []
    hook = hooks[0] if hooks and isinstance(hooks[0], dict) else {}
    session = state.add_session(
        FakeSession(
            "waha",
            name,
            status=ChannelStatus.STOPPED,
            paired=False,
            webhook_url=hook.get("url"),
            webhook_secret=(hook.get("hmac") or {}).get("key"),
        )
    )
    if body.get("start", True):
        state.set_status(session, ChannelStatus.SCAN_QR_CODE, wait=False)
    return json_response(_info(session), 201)


@router.route("GET", "/api/sessions/{name}")
def get_session(state: FakeState, request: Request, name: str) -> Response:
    """One session."""
    session = _session_or_404(state, name)
    return session if isinstance(session, Response) else json_response(_info(session))


def _running_status(session: FakeSession) -> ChannelStatus:
    return ChannelStatus.WORKING if session.paired else ChannelStatus.SCAN_QR_CODE


@router.route("POST", "/api/sessions/{name}/{action}")
def session_action(state: FakeState, request: Request, name: str, action: str) -> Response:
    """start, stop, logout, restart."""
    session = _session_or_404(state, name)
    if isinstance(session, Response):
        return session
    if action == "start":
        if session.status in (ChannelStatus.STOPPED, ChannelStatus.FAILED):
            state.set_status(session, _running_status(session), wait=False)
    elif action == "stop":
        state.set_status(session, ChannelStatus.STOPPED, wait=False)
    elif action == "logout":
        was_running = session.status is not ChannelStatus.STOPPED
        session.paired = False
        state.set_status(
            session, ChannelStatus.SCAN_QR_CODE if was_running else ChannelStatus.STOPPED, wait=False
        )
    elif action == "restart":
        state.set_status(session, _running_status(session), wait=False)
    else:
        return _error(404, f"Cannot POST /api/sessions/{name}/{action}")
    return json_response(_info(session), 201)


@router.route("GET", "/api/{name}/auth/qr")
def qr(state: FakeState, request: Request, name: str) -> Response:
    """The QR, only while the session waits for a scan: PNG, JSON (Accept) or raw value."""
    session = _session_or_404(state, name)
    if isinstance(session, Response):
        return session
    if session.status is not ChannelStatus.SCAN_QR_CODE:
        return _error(
            422,
            f"Can get QR code only in SCAN_QR_CODE status. The current status is '{session.status.value}'",
        )
    if request.query.get("format") == "raw":
        return json_response({"value": session.qr_code})
    image = session.qr()
    if "application/json" in request.headers.get("accept", ""):
        return json_response({"mimetype": image.mimetype, "data": image.data_base64})
    return Response(200, image.content, {"Content-Type": image.mimetype})


@router.route("POST", "/api/sendText")
def send_text(state: FakeState, request: Request) -> Response:
    """Record a text to a person and answer the WEBJS message."""
    body = request.json_object()
    session = _session_or_404(state, str(body.get("session") or "default"))
    if isinstance(session, Response):
        return session
    chat_id, text = body.get("chatId"), body.get("text")
    if not isinstance(chat_id, str) or not chat_id:
        return _error(400, "chatId must be a string")
    if not isinstance(text, str):
        return _error(400, "text must be a string")
    if session.status is not ChannelStatus.WORKING:
        return _error(
            422,
            f"Session status is not as expected. Try again later or restart the session. "
            f"Session: '{session.name}', status: '{session.status.value}', expected: ['WORKING']",
        )
    local, _, suffix = chat_id.partition("@")
    to = local if "@" + suffix in _PERSON_SUFFIXES else chat_id
    # Like WAHA, a send to an id WhatsApp does not know (a legacy number with its ninth digit) is
    # accepted with 201 and never arrives.
    arrived = to != local or state.lookup(local) == local
    record = state.record_message(session, to, text, {"chatId": chat_id, "arrived": arrived})
    serialized = f"true_{chat_id}_{record['id']}"
    return json_response(
        {
            "id": {"fromMe": True, "remote": chat_id, "id": record["id"], "_serialized": serialized},
            "timestamp": int(record["timestamp"]),
            "from": FAKE_ME["id"],
            "fromMe": True,
            "to": chat_id,
            "body": text,
            "hasMedia": False,
            "ack": 0,
        },
        201,
    )


@router.route("GET", "/api/contacts/check-exists")
def check_exists(state: FakeState, request: Request) -> Response:
    """``?phone=&session=`` → ``{numberExists, chatId}``; a legacy Brazilian number's chat id lacks the ninth digit."""
    session = _session_or_404(state, request.query.get("session", "default"))
    if isinstance(session, Response):
        return session
    if session.status is not ChannelStatus.WORKING:
        return _error(422, f"Session status is not as expected. status: {session.word()}")
    phone = request.query.get("phone", "")
    if not (phone.isascii() and phone.isdigit()):
        return _error(400, "phone must be digits")
    known = state.lookup(phone)
    return json_response({"numberExists": known is not None, "chatId": f"{known}@c.us" if known else None})


@router.route("GET", "/api/{name}/lids/{lid}")
def lid(state: FakeState, request: Request, name: str, lid: str) -> Response:
    """``{lid, pn}``: the number behind a hidden sender; ``pn`` is null for one the phone does not know."""
    session = _session_or_404(state, name)
    if isinstance(session, Response):
        return session
    with state.lock:
        digits = state.lids.get(lid)
    return json_response({"lid": lid, "pn": f"{digits}@c.us" if digits else None})


@router.route("GET", "/api/{name}/chats/{chat_id}/messages")
def chat_messages(state: FakeState, request: Request, name: str, chat_id: str) -> Response:
    """The texts sent to one chat, newest first, as WEBJS messages (``?limit=``, default 100)."""
    session = _session_or_404(state, name)
    if isinstance(session, Response):
        return session
    if session.status is not ChannelStatus.WORKING:
        return _error(422, f"Session status is not as expected. status: {session.word()}")
    limit = request.query.get("limit", "100")
    if not limit.isdigit():
        return _error(400, "limit must be a number")
    local = chat_id.partition("@")[0]
    return json_response([
        {"id": f"true_{m['chatId']}_{m['id']}", "timestamp": int(m["timestamp"]), "from": FAKE_ME["id"],
         "fromMe": True, "to": m["chatId"], "body": m["text"], "hasMedia": False, "ack": 1}
        for m in state.history(session, local, int(limit))
    ])
