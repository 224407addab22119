"""The Evolution API part of the fake gateway: instances, connect/QR, sendText, number checks, chat messages.

Answers follow Evolution API v2: errors ``{status, error, response: {message: [...]}}``, a send
answers the Baileys message ``{key: {remoteJid, fromMe, id}, ...}`` with 201, ``connect`` answers
a QR object ``{pairingCode, code, base64, count}`` or, when already open, the connection state,
and ``restart`` reports its errors as 200 ``{error: true, message}`` as the real one does.
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


def _error(status: int, message: str) -> Response:
    names = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
    return json_response(
        {"status": status, "error": names.get(status, "Error"), "response": {"message": [message]}}, status
    )


def _instance_or_404(state: FakeState, name: str) -> FakeSession | Response:
    session = state.session("evolution", name)
    return session if session is not None else _error(404, f'The "{name}" instance does not exist')


def _state(session: FakeSession) -> dict[str, Any]:
    return {"instance": {"instanceName": session.name, "state": session.word()}}


def _qr_object(session: FakeSession) -> dict[str, Any]:
    image = session.qr()
    return {
        "pairingCode": None,
        "code": session.qr_code,
        "base64": f"data:{image.mimetype};base64,{image.data_base64}",
        "count": session.qr_count,
    }


def _connect(state: FakeState, session: FakeSession) -> dict[str, Any]:
    """What ``connect`` does: open stays open, close reconnects (or asks for a QR if unpaired)."""
    if session.status is ChannelStatus.WORKING:
        return _state(session)
    if session.status in (ChannelStatus.STOPPED, ChannelStatus.FAILED):
        if session.paired:
            state.set_status(session, ChannelStatus.WORKING, wait=False)
            return _state(session)
        state.set_status(session, ChannelStatus.SCAN_QR_CODE, wait=False)
    if session.status is ChannelStatus.STARTING:
        state.set_status(session, ChannelStatus.SCAN_QR_CODE, wait=False)
    return _qr_object(session)


@router.route("POST", "/instance/create")
def create_instance(state: FakeState, request: Request) -> Response:
    """A new, unpaired instance; with ``qrcode: true`` it waits for a scan at once."""
    body = request.json_object()
    name = body.get("instanceName")
    if not isinstance(name, str) or not name:
        return _error(400, "instanceName is required")
    if state.session("evolution", name) is not None:
        return _error(403, f'This name "{name}" is already in use.')
    hook: dict[str, Any] = body["webhook"] if isinstance(body.get("webhook"), dict) else {}
    headers: dict[str, Any] = hook["headers"] if isinstance(hook.get("headers"), dict) else {}
    secret = next((v for k, v in headers.items() if k.lower() == "x-webhook-secret"), None)
    session = state.add_session(
        FakeSession(
            "evolution",
            name,
            status=ChannelStatus.STOPPED,
            paired=False,
            webhook_url=hook.get("url"),
            webhook_secret=secret,
        )
    )
    if body.get("qrcode"):
        state.set_status(session, ChannelStatus.SCAN_QR_CODE, wait=False)
    token = str(body.get("token") or uuid.uuid4()).upper()
    session.token = token
    return json_response(
        {
            "instance": {
                "instanceName": name,
                "instanceId": session.instance_id,
                "integration": body.get("integration") or "WHATSAPP-BAILEYS",
                "webhookWaBusiness": None,
                "accessTokenWaBusiness": "",
                "status": "created",
            },
            "hash": token,
            "webhook": {
                "webhookUrl": hook.get("url"),
                "webhookByEvents": bool(hook.get("byEvents")),
                "webhookBase64": bool(hook.get("base64")),
            },
            "settings": {"rejectCall": False, "groupsIgnore": False, "alwaysOnline": False},
            "qrcode": _qr_object(session) if session.status is ChannelStatus.SCAN_QR_CODE else {"count": 0},
        },
        201,
    )


@router.route("GET", "/instance/fetchInstances")
def fetch_instances(state: FakeState, request: Request) -> Response:
    """Every instance, in v2's flat row shape."""
    wanted = request.query.get("instanceName")
    rows = [
        {
            "id": s.instance_id,
            "name": s.name,
            "connectionStatus": s.word(),
            "ownerJid": FAKE_ME["id"].replace("@c.us", "@s.whatsapp.net") if s.paired else None,
            "profileName": FAKE_ME["pushName"] if s.paired else None,
            "integration": "WHATSAPP-BAILEYS",
            "number": None,
        }
        for s in state.list_sessions("evolution")
        if wanted is None or s.name == wanted
    ]
    return json_response(rows)


@router.route("GET", "/instance/connectionState/{name}")
def connection_state(state: FakeState, request: Request, name: str) -> Response:
    """``{instance: {instanceName, state}}``."""
    session = _instance_or_404(state, name)
    return session if isinstance(session, Response) else json_response(_state(session))


@router.route("GET", "/instance/connect/{name}")
def connect(state: FakeState, request: Request, name: str) -> Response:
    """Connect, or hand out the QR to scan."""
    session = _instance_or_404(state, name)
    return session if isinstance(session, Response) else json_response(_connect(state, session))


@router.route("POST", "/instance/restart/{name}")
def restart(state: FakeState, request: Request, name: str) -> Response:
    """Restart a connected or connecting instance; a closed one is an (embedded) error."""
    session = _instance_or_404(state, name)
    if isinstance(session, Response):
        return session
    if session.status in (ChannelStatus.STOPPED, ChannelStatus.FAILED):
        return json_response(
            {"error": True, "message": f'BadRequestException: The "{name}" instance is not connected'}
        )
    return json_response(_connect(state, session))


@router.route("DELETE", "/instance/logout/{name}")
def logout(state: FakeState, request: Request, name: str) -> Response:
    """Unpair; the instance ends ``close``."""
    session = _instance_or_404(state, name)
    if isinstance(session, Response):
        return session
    if session.status is ChannelStatus.STOPPED:
        return _error(400, f'The "{name}" instance is not connected')
    session.paired = False
    state.set_status(session, ChannelStatus.STOPPED, wait=False)
    return json_response(
        {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}
    )


@router.route("POST", "/message/sendText/{name}")
def send_text(state: FakeState, request: Request, name: str) -> Response:
    """Record a text and answer the Baileys message, status PENDING."""
    session = _instance_or_404(state, name)
    if isinstance(session, Response):
        return session
    body = request.json_object()
    number, text = body.get("number"), body.get("text")
    if not isinstance(number, str) or not number:
        return _error(400, "number is required")
    if not isinstance(text, str) or not text:
        return _error(400, "text is required")
    if session.status is not ChannelStatus.WORKING:
        return _error(400, "Connection Closed")
    digits = number.split("@", 1)[0]
    if digits.isdigit() and state.lookup(digits) is None:  # as Evolution answers a number without WhatsApp
        return json_response({"status": 400, "error": "Bad Request", "response": {"message": [
            {"exists": False, "jid": f"{digits}@s.whatsapp.net", "number": digits}]}}, 400)
    record = state.record_message(session, digits, text, {"number": number})
    return json_response(
        {
            "key": {"remoteJid": f"{digits}@s.whatsapp.net", "fromMe": True, "id": record["id"]},
            "pushName": "",
            "status": "PENDING",
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": int(record["timestamp"]),
            "instanceId": session.instance_id,
            "source": "unknown",
        },
        201,
    )


@router.route("POST", "/chat/whatsappNumbers/{name}")
def whatsapp_numbers(state: FakeState, request: Request, name: str) -> Response:
    """``{numbers: [...]}`` → ``[{exists, jid, number}]`` in the order asked."""
    session = _instance_or_404(state, name)
    if isinstance(session, Response):
        return session
    numbers = request.json_object().get("numbers")
    if not isinstance(numbers, list) or not all(isinstance(n, str) and n.isdigit() for n in numbers):
        return _error(400, "numbers must be a list of digit strings")
    answer = []
    for number in numbers:
        known = state.lookup(number)
        answer.append({"exists": known is not None, "jid": f"{known}@s.whatsapp.net" if known else None,
                       "number": number})
    return json_response(answer)


@router.route("POST", "/chat/findMessages/{name}")
def find_messages(state: FakeState, request: Request, name: str) -> Response:
    """``{where: {key: {remoteJid}}, limit}`` → v2's ``{messages: {total, pages, currentPage, records}}``."""
    session = _instance_or_404(state, name)
    if isinstance(session, Response):
        return session
    body = request.json_object()
    key = ((body.get("where") or {}).get("key") or {}) if isinstance(body.get("where"), dict) else {}
    remote = key.get("remoteJid") if isinstance(key, dict) else None
    if not isinstance(remote, str) or not remote:
        return _error(400, "where.key.remoteJid is required")
    limit = body.get("limit", 50)
    if not isinstance(limit, int) or limit < 1:
        return _error(400, "limit must be a positive integer")
    records = [
        {"id": m["id"], "key": {"id": m["id"], "fromMe": True, "remoteJid": remote},
         "pushName": "", "messageType": "conversation", "message": {"conversation": m["text"]},
         "messageTimestamp": int(m["timestamp"]), "instanceId": session.instance_id}
        for m in state.history(session, remote.split("@", 1)[0], limit)
    ]
    return json_response({"messages": {"total": len(records), "pages": 1, "currentPage": 1, "records": records}})
