"""The one error the schedule library raises on purpose.

::

    ChronoflowError (chronoflow.errors)
    └── ScheduleError   unreadable text, out-of-range value, unknown time zone   (also a ValueError)

It is a ``ValueError`` too because every cause is a bad value handed in by a caller. The core
turns it into an ``InvalidInput`` naming the request field (``chronoflow.scheduling.reading``); one that
escapes anyway is still a 422 at the API edge, with ``message`` shown as is.
"""

from __future__ import annotations

from chronoflow.errors import ChronoflowError


class ScheduleError(ChronoflowError, ValueError):
    """A schedule string could not be turned into a schedule.

    Attributes:
        problem: What is wrong, without the suggestion.
        message: The full, human-readable explanation (quotes ``fragment``).
        fragment: The part of the input that could not be read or is out of range.
        suggestion: The nearest supported phrasing, when one is known; otherwise ``None``.
    """

    def __init__(self, problem: str, fragment: str, suggestion: str | None = None) -> None:
        """Build the message once so every caller shows the same text.

        Args:
            problem: What is wrong, already quoting ``fragment`` where it belongs.
            fragment: The unread or out-of-range part of the input.
            suggestion: A supported phrasing close to what was written, if any.
        """
        self.problem = problem
        self.fragment = fragment
        self.suggestion = suggestion
        self.message = f'{problem}; did you mean "{suggestion}"?' if suggestion else problem
        super().__init__(self.message)

    def __reduce__(self) -> tuple[type[ScheduleError], tuple[str, str, str | None]]:
        # The message is built from its parts, so pickling (RQ, multiprocessing) passes the parts.
        return (type(self), (self.problem, self.fragment, self.suggestion))
