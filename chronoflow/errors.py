"""Domain errors: one tree under :class:`ChronoflowError`.

The API turns them into HTTP responses in one table at its edge (``chronoflow.api.errors``); the
statuses below are that table's. Errors that belong to one layer live beside it (module in
brackets) but still descend from this root::

    ChronoflowError
    ├── ConfigError              the environment holds bad settings: the process refuses to start
    ├── FieldError               one field is at fault: ``field`` names it, ``problem`` says why
    │   ├── InvalidInput         a field of a request is wrong (ValueError)                  422
    │   │   └── InvalidCode      uploaded code refused, with its line and reason             422
    │   └── TooLarge             a body or field exceeds a limit                              413
    ├── NotFound                 an id names nothing (LookupError)                            404
    ├── Conflict                 the request clashes with the current state                   409
    ├── Unauthorized             credentials are missing or wrong                             401
    ├── Forbidden                a form without its anti-forgery token (the console)          403
    ├── Unavailable              a dependency is down or not configured                       503
    │   ├── SandboxUnavailable   [sandbox.runner] no sandbox process can start (RuntimeError) 503
    │   └── SandboxLayersMissing [sandbox.runner] layers the operator requires are not active  503
    ├── UpstreamError            a gateway answered wrongly or not at all                     502
    ├── DestinationRefused       [targets.destinations] a destination the operator forbids; the
    │                            HTTP target turns it into InvalidInput naming ``url``
    ├── ScheduleError            [nlcron.errors] unreadable or out-of-range schedule          422
    ├── CodeError                [sandbox.compiler] code that does not compile; the service
    │                            turns it into InvalidCode naming the field
    └── ChannelError             [channels.errors] the WhatsApp layer
        ├── ProviderError        a WAHA or Evolution API call failed        404, 409 or 502
        │   ├── UnsupportedCall  the provider has no such operation                      409
        │   └── NotOnWhatsApp    a send refused: the number has no WhatsApp (Evolution)  as ProviderError
        ├── ChannelNotConnected  a send needs a WORKING channel; fails the run, not a request
        ├── InvalidPhoneNumber   not one individual phone number (ValueError)             422
        ├── TemplateError        an unusable message template (ValueError)                422
        │   ├── TemplateSyntaxError
        │   └── MissingVariable  (LookupError)
        └── WebhookPayloadError  a webhook event with an unusable shape (ValueError)       422

Anything else reaching the edge is a bug: it is logged with its traceback and the request id, and
the client gets a bare 500.

Outside the tree on purpose, because they never leave their process as errors of the service: the
sandbox's wire errors (``sandbox.protocol``), the errors its SDK raises into user code
(``sandbox.sdk``, ``sandbox.policy``, ``sandbox.refusals``) and the fake WhatsApp gateway's.
"""

from __future__ import annotations


class ChronoflowError(Exception):
    """Root of every error ChronoFlow raises on purpose."""


class ConfigError(ChronoflowError):
    """The environment holds bad settings; ``problems`` lists one line per bad variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("bad configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class FieldError(ChronoflowError):
    """One field of the input is at fault; ``field`` names it in camelCase, ``problem`` says why.

    Never raised itself: its subclasses choose the status (422 or 413), the body is the same.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class InvalidInput(FieldError, ValueError):
    """A field of the input is wrong (422)."""


class InvalidCode(InvalidInput):
    """Code refused at upload; ``line`` (0: the whole code) and ``reason`` as the sandbox gave them."""

    def __init__(self, field: str, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(field, f"line {line}: {reason}" if line else reason)


class NotFound(ChronoflowError, LookupError):
    """An id names no stored object."""

    def __init__(self, kind: str, ident: object) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} {ident} not found")


class Conflict(ChronoflowError):
    """The request is well-formed but clashes with the current state.

    ``field`` names the field at fault when there is one (a taken phone or tag name), so the 409's
    body names it as a 422's does.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class Unauthorized(ChronoflowError):
    """Credentials are missing or wrong (401)."""


class Forbidden(ChronoflowError):
    """A console form posted without the token proving it came from a console page (403)."""


class TooLarge(FieldError):
    """A body, field or list exceeds a configured limit (413)."""


class Unavailable(ChronoflowError):
    """A dependency the request needs is down or not configured (503)."""


class UpstreamError(ChronoflowError):
    """A gateway ChronoFlow called answered wrongly or not at all (502)."""
