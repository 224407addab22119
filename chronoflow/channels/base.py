"""The contract every WhatsApp provider client fulfils, and the values they exchange.

ChronoFlow talks to two self-hosted WhatsApp gateways, WAHA and Evolution API. They name the same
things differently (a WAHA *session* is an Evolution *instance*; ``WORKING`` is ``open``), so
this module fixes one vocabulary, :class:`ChannelStatus`, and one interface,
:class:`WhatsAppProvider`. Everything above this layer (the MESSAGE target, the channel routes,
the webhooks) speaks only this vocabulary and never a provider's own words.

A provider object is bound to one session/instance of one server: the one a ``Channel`` row
describes. Server-wide operations (:meth:`WhatsAppProvider.list_sessions`,
:meth:`WhatsAppProvider.create_session`) are on the same object because both gateways expose
them with the same credentials.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from chronoflow.channels.errors import ProviderError
from chronoflow.channels.transport import ProviderTransport, RetryPolicy

if TYPE_CHECKING:
    import httpx

__all__ = [
    "SESSION_KEYS",
    "ChannelStatus",
    "ChatMessage",
    "ProviderError",
    "NumberCheck",
    "ProviderKind",
    "QrCode",
    "SentMessage",
    "SessionInfo",
    "WhatsAppProvider",
]


class ProviderKind(StrEnum):
    """Which gateway a channel uses; the values are the ``provider`` field of ``/channels``."""

    WAHA = "WAHA"
    EVOLUTION = "EVOLUTION"


SESSION_KEYS = {ProviderKind.WAHA: "session", ProviderKind.EVOLUTION: "instance"}
"""The config key (and webhook field) naming a channel's session, in each provider's own word."""


class ChannelStatus(StrEnum):
    """Connection state of a channel, the same words for both providers.

    The values are WAHA's session statuses; Evolution API's connection states map onto them
    (``open`` → WORKING, ``connecting`` → STARTING, ``close`` → STOPPED, ``refused`` → FAILED).
    A status a gateway reports that this version does not know is :attr:`UNKNOWN`, never an
    error: one odd session must not break a session list or a webhook.
    """

    STOPPED = "STOPPED"
    """Not running: nothing is sent or received until it is started."""
    STARTING = "STARTING"
    """Booting or reconnecting; may end in WORKING or SCAN_QR_CODE."""
    SCAN_QR_CODE = "SCAN_QR_CODE"
    """Waiting for a phone to scan the pairing QR code (after a logout, or on first use)."""
    WORKING = "WORKING"
    """Connected: messages can be sent."""
    FAILED = "FAILED"
    """The provider gave up on this session; it needs a restart or a new pairing."""
    PASSKEY_REQUIRED = "PASSKEY_REQUIRED"
    """WhatsApp asks the phone's owner for a passkey before the session can connect (WAHA)."""
    PASSKEY_CONFIRMATION_REQUIRED = "PASSKEY_CONFIRMATION_REQUIRED"
    """A passkey was given and waits to be confirmed on the phone (WAHA)."""
    UNKNOWN = "UNKNOWN"
    """The gateway reported a status this version does not know; nothing is sent through it."""


@dataclass(frozen=True)
class SentMessage:
    """What a provider answered to a send.

    Attributes:
        id: the provider's message id, kept on the run so a later delivery receipt or a
            duplicate check can find it; ``None`` if the gateway answered 2xx without one (the
            message was still accepted, so this is not an error).
        raw: the provider's full JSON answer, for the run's response snippet.
    """

    id: str | None
    raw: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat's recent history, as much as a campaign needs to settle an unknown send.

    Attributes:
        id: the provider's message id (the one a send answer and a delivery receipt carry).
        from_me: sent by our session, not by the person.
        text: the text, or a media caption; empty for other messages.
    """

    id: str | None
    from_me: bool
    text: str


@dataclass(frozen=True)
class NumberCheck:
    """Whether a number is on WhatsApp, as the gateway answered.

    Attributes:
        number: the number asked about, normalized digits.
        exists: whether WhatsApp knows it.
        chat_id: the chat id the gateway gave (``…@c.us`` or ``…@s.whatsapp.net``). For a Brazilian
            number registered before the ninth digit it lacks that digit, and messages must go there.
    """

    number: str
    exists: bool
    chat_id: str | None


@dataclass(frozen=True)
class QrCode:
    """A pairing QR code as an image.

    Attributes:
        mimetype: the image type, normally ``image/png``.
        data_base64: the image bytes, base64-encoded (no ``data:`` URL prefix), ready for JSON.
    """

    mimetype: str
    data_base64: str

    @property
    def content(self) -> bytes:
        """The image bytes, for serving the QR as a real image."""
        return base64.b64decode(self.data_base64)

    @classmethod
    def from_bytes(cls, content: bytes, mimetype: str = "image/png") -> QrCode:
        """Wrap raw image bytes."""
        return cls(mimetype=mimetype, data_base64=base64.b64encode(content).decode("ascii"))

    @classmethod
    def from_data_url(cls, value: str) -> QrCode:
        """Parse ``data:image/png;base64,...`` (Evolution API's form) or bare base64.

        Raises:
            ValueError: the value is not base64 image data.
        """
        mimetype = "image/png"
        data = value
        if value.startswith("data:"):
            header, sep, data = value.partition(",")
            if not sep or ";base64" not in header:
                raise ValueError("QR data URL is not base64-encoded")
            mimetype = header[len("data:") :].split(";", 1)[0] or mimetype
        base64.b64decode(data, validate=True)  # fail here, not when someone serves the image
        return cls(mimetype=mimetype, data_base64=data)


@dataclass(frozen=True)
class SessionInfo:
    """One session (WAHA) or instance (Evolution API) on a provider server.

    Attributes:
        name: the session or instance name, the value a channel's config stores.
        status: its state in ChronoFlow's vocabulary.
        raw: the provider's own description, for display.
        provider_status: the gateway's own word for the state (``DANCING`` when ``status`` is
            UNKNOWN), when it gave one.
    """

    name: str
    status: ChannelStatus
    raw: Any = field(default=None, repr=False, compare=False)
    provider_status: str | None = field(default=None, compare=False)


class WhatsAppProvider(ABC):
    """A client for one session of one WhatsApp gateway.

    Implementations are async, hold an ``httpx.AsyncClient`` and must be closed
    (``await provider.aclose()`` or ``async with provider:``). Every method raises
    :class:`~chronoflow.channels.errors.ProviderError` when the gateway refuses or cannot be
    reached; transient failures have already been retried (see
    :mod:`chronoflow.channels.transport`) by the time it is raised.
    """

    kind: ClassVar[ProviderKind]
    """Which gateway this client speaks to."""
    api_key_header: ClassVar[str]
    """The request header that carries the gateway's API key."""

    session: str
    """The session (WAHA) or instance (Evolution API) name this client acts on."""

    session_label: ClassVar[str]
    """How the gateway calls a session, for the empty-name refusal."""

    def __init__(
        self,
        base_url: str,
        session: str,
        api_key: str | None = None,
        *,
        policy: RetryPolicy | None = None,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Both gateways are JSON over HTTP with a key in one header: only the header's name differs.

        Args:
            base_url: the gateway's server.
            session: the session (instance) this client acts on.
            api_key: sent in :attr:`api_key_header`; ``None`` or empty sends no key.
            policy: timeouts and retries.
            client: a shared ``httpx.AsyncClient`` (not closed by :meth:`aclose`).
            sleep: backoff wait, replaceable in tests.

        Raises:
            ValueError: an empty session name, or a base URL without http(s) scheme.
        """
        if not session:
            raise ValueError(f"{self.session_label} name must not be empty")
        self.session = session
        headers = {"Accept": "application/json"}
        if api_key:
            headers[self.api_key_header] = api_key
        self._http = ProviderTransport(self.kind.value.lower(), base_url, headers, policy, client=client, sleep=sleep)

    @abstractmethod
    async def send_text(self, number_digits: str, text: str) -> SentMessage:
        """Send one text message to one person.

        Sending is not idempotent: the client retries only when the request surely never reached
        the gateway (connection refused, DNS, connect timeout). Once it went out, a read timeout, a
        connection broken mid-answer or an HTTP 5xx is reported at once as a
        :class:`ProviderError` with ``maybe_delivered=True``, never retried, so a recipient never
        gets the same text twice.

        Args:
            number_digits: the recipient as :func:`chronoflow.channels.phone.normalize_number`
                returns it (country code and number, digits only).
            text: the rendered message.

        Returns:
            The provider's message id and raw answer.
        """

    @abstractmethod
    async def check_numbers(self, numbers_digits: list[str]) -> list[NumberCheck]:
        """Ask the gateway which numbers are on WhatsApp, and their chat ids.

        Args:
            numbers_digits: normalized numbers (see ``normalize_number``).

        Returns:
            One check per number, in the same order.
        """

    @abstractmethod
    async def recent_messages(self, number_digits: str, limit: int) -> list[ChatMessage]:
        """The last ``limit`` messages of the chat with one person, newest first.

        Args:
            number_digits: the person as :meth:`send_text` takes them (their chat id's digits).
            limit: how many messages to read at most.
        """

    @abstractmethod
    async def status(self) -> ChannelStatus:
        """Ask the gateway for the session's current state."""

    @abstractmethod
    async def start(self) -> ChannelStatus:
        """Start (connect) the session; returns the state the gateway reports right after."""

    @abstractmethod
    async def stop(self) -> ChannelStatus:
        """Stop the session without forgetting its pairing."""

    @abstractmethod
    async def logout(self) -> ChannelStatus:
        """Unpair the phone; a new QR scan is needed afterwards."""

    @abstractmethod
    async def restart(self) -> ChannelStatus:
        """Stop and start again, e.g. to recover from FAILED."""

    @abstractmethod
    async def qr(self) -> QrCode:
        """The current pairing QR code as an image (only while the session waits for a scan)."""

    @abstractmethod
    async def list_sessions(self) -> list[SessionInfo]:
        """All sessions/instances on the gateway, whatever their state."""

    @abstractmethod
    async def create_session(
        self,
        name: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> SessionInfo:
        """Create a session/instance on the gateway and start it.

        Args:
            name: the new session's name.
            webhook_url: where the gateway should post this session's events (ChronoFlow's
                ``/waha/webhooks`` or ``/evolution/webhooks``); ``None`` leaves webhooks unset.
            webhook_secret: the WAHA HMAC key, or the Evolution shared secret sent as
                ``X-Webhook-Secret``, so ChronoFlow can authenticate the events.
        """

    @abstractmethod
    async def aclose(self) -> None:
        """Release the HTTP connections."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
