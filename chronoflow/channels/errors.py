"""Errors of the WhatsApp channel layer.

Every error here descends from :class:`chronoflow.errors.ChronoflowError`, so the API edge can
translate them once. Errors about user input are also ``ValueError`` (bad data), and
:class:`MissingVariable` is also a ``LookupError`` (a name that is not there)::

    ChannelError
    ├── ProviderError          a call to WAHA or Evolution API failed (provider, call, http_status,
    │                          retryable, maybe_delivered)
    │   ├── UnsupportedCall    the provider has no such operation (Evolution API cannot "stop")
    │   └── NotOnWhatsApp      a send refused because the number is not on WhatsApp (Evolution's ``exists: false``)
    ├── ChannelNotConnected    a send needs a WORKING channel and this one is not
    ├── InvalidPhoneNumber     a recipient is not one individual phone number        (ValueError)
    ├── TemplateError          a message template is unusable                        (ValueError)
    │   ├── TemplateSyntaxError   malformed braces or a placeholder that is not a plain name
    │   └── MissingVariable       render() was given no value for a placeholder   (LookupError)
    └── WebhookPayloadError    a provider webhook has the right event but an unusable shape (ValueError)
"""

from __future__ import annotations

from typing import Any

from chronoflow.errors import ChronoflowError


class ChannelError(ChronoflowError):
    """Root of the errors raised by ``chronoflow.channels``."""


class ProviderError(ChannelError):
    """A call to a WhatsApp provider failed after the retries it deserved.

    The message names the provider and the call so that a failed run says where it broke
    ("waha send_text: HTTP 500: ... (after 3 attempts)") without a stack trace.

    Attributes:
        provider: ``"waha"`` or ``"evolution"``.
        call: the client method that failed, e.g. ``"send_text"``.
        http_status: the provider's HTTP status, or ``None`` when no response arrived.
        retryable: whether trying again later may succeed (5xx, connection errors, timeouts).
            A 4xx is final: the request itself is wrong and a retry would fail the same way.
        attempts: how many HTTP attempts were made before giving up.
        detail: the provider's error text, or the transport error.
        answer: the provider's decoded error body, when it answered JSON (for callers that read it).
        maybe_delivered: a send whose request reached the gateway without a clear answer (a read
            timeout, a connection broken mid-answer, a 5xx): the message may have gone out, so it
            is never sent again on its own. Always ``False`` for calls that send nothing.
    """

    def __init__(
        self,
        provider: str,
        call: str,
        detail: str,
        *,
        http_status: int | None = None,
        retryable: bool = False,
        attempts: int = 1,
        answer: Any = None,
        maybe_delivered: bool = False,
    ) -> None:
        self.provider = provider
        self.maybe_delivered = maybe_delivered
        self.answer = answer
        self.call = call
        self.detail = detail
        self.http_status = http_status
        self.retryable = retryable
        self.attempts = attempts
        status = f"HTTP {http_status}: " if http_status is not None else ""
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        super().__init__(f"{provider} {call}: {status}{detail}{tries}")


class UnsupportedCall(ProviderError):
    """The provider offers no equivalent of this operation; retrying cannot help."""

    def __init__(self, provider: str, call: str, detail: str) -> None:
        super().__init__(provider, call, detail, retryable=False, attempts=0)


class NotOnWhatsApp(ProviderError):
    """The gateway refused a send because the recipient has no WhatsApp: a fact about the number, not a failure."""

    def __init__(self, provider: str, call: str, number: str) -> None:
        super().__init__(provider, call, f"{number} is not on WhatsApp", http_status=400, retryable=False)
        self.number = number


class ChannelNotConnected(ChannelError):
    """A send was asked of a channel whose status is not ``WORKING``.

    Attributes:
        name: the channel's name.
        status: its status.
    """

    def __init__(self, name: str, status: str) -> None:
        self.name = name
        self.status = status
        super().__init__(f"channel {name!r} is {status}, not WORKING")


class InvalidPhoneNumber(ChannelError, ValueError):
    """A recipient is not one individual phone number.

    Attributes:
        raw: the value as given.
        reason: what is wrong with it, in words a user can act on.
    """

    def __init__(self, raw: object, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"invalid phone number {raw!r}: {reason}")


class TemplateError(ChannelError, ValueError):
    """A message template cannot be used."""


class TemplateSyntaxError(TemplateError):
    """The template has malformed braces or a placeholder that is not a plain name.

    Attributes:
        position: index in the template where the problem starts.
    """

    def __init__(self, problem: str, position: int) -> None:
        self.problem = problem
        self.position = position
        super().__init__(f"{problem} at position {position}")


class MissingVariable(TemplateError, LookupError):
    """``render`` was given no value (or ``None``) for a placeholder of the template.

    Attributes:
        name: the placeholder without braces.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no value for template variable {name!r}")

    def __str__(self) -> str:
        # LookupError/KeyError would repr() the message; keep it readable.
        return str(self.args[0])


class WebhookPayloadError(ChannelError, ValueError):
    """A webhook names an event we handle but lacks the fields that event needs."""
