"""Domain errors. The API turns them into HTTP responses at its edge (``chronoflow.api.errors``).

::

    ChronoflowError
    ├── ConfigError       the environment holds bad settings (the process refuses to start)
    ├── InvalidInput      a field of a request is wrong (422)
    ├── NotFound          an id names nothing (404)
    └── Conflict          the request clashes with the current state (409)
"""

from __future__ import annotations


class ChronoflowError(Exception):
    """Root of every error ChronoFlow raises on purpose."""


class ConfigError(ChronoflowError):
    """The environment holds bad settings; ``problems`` lists one line per bad variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("bad configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class InvalidInput(ChronoflowError, ValueError):
    """A field of the input is wrong; ``field`` names it in camelCase."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class NotFound(ChronoflowError, LookupError):
    """An id names no stored object."""

    def __init__(self, kind: str, ident: object) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} {ident} not found")


class Conflict(ChronoflowError):
    """The request is well-formed but clashes with the current state."""


class Unauthorized(ChronoflowError):
    """Credentials are missing or wrong (401)."""


class TooLarge(ChronoflowError):
    """A body, field or list exceeds a configured limit (413)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class Unavailable(ChronoflowError):
    """A dependency the request needs is down or not configured (503)."""


class UpstreamError(ChronoflowError):
    """A gateway ChronoFlow called answered wrongly or not at all (502)."""
