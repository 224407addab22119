"""Suggestions for unreadable schedules: the nearest phrase the grammar does read.

Two tries, cheapest to explain first. A *word fix* replaces the unreadable word by the closest
known word (``sexxta`` -> ``sexta``, ``evry`` -> ``every``) or drops it, and keeps the change
only if the whole phrase then reads; that keeps the user's own numbers and word order. Failing
that, the closest of the canonical examples in ``en``/``pt_br`` is offered. Runs only on the
error path, so ``difflib`` is fast enough.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from chronoflow.nlcron import en, pt_br
from chronoflow.nlcron.errors import ScheduleError
from chronoflow.nlcron.grammar import read_phrase
from chronoflow.nlcron.text import normalize

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")
_PROBE_NOW = datetime(2026, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[str, ...]:
    """Every single word the grammar knows, taken from both vocabularies."""
    words: set[str] = set()
    for module in (en, pt_br):
        for value in vars(module).values():
            items = value.keys() if isinstance(value, dict) else value if isinstance(value, tuple) else ()
            for item in items:
                if isinstance(item, str):
                    words.update(_WORD.findall(item))
    return tuple(sorted(word for word in words if len(word) > 1))


def _display(phrase: str) -> str:
    """Put Portuguese accents back (``as`` -> ``às``) so a suggestion reads naturally."""
    if not any(word in pt_br.DISPLAY or word in pt_br.DAYS for word in phrase.split()):
        return phrase
    return " ".join(pt_br.DISPLAY.get(word, word) for word in phrase.split(" "))


def _reads(candidate: str) -> bool:
    try:
        read_phrase(candidate, candidate, ZoneInfo("UTC"), _PROBE_NOW)
    except (ScheduleError, KeyError, ValueError):
        return False
    return True


def suggest(text: str, start: int, end: int) -> str | None:
    """Propose a readable phrase close to ``text``.

    Args:
        text: The normalized schedule.
        start: Start of the unreadable stretch.
        end: End of the unreadable stretch.

    Returns:
        A phrase the grammar reads, spelled for people, or ``None``.
    """
    head, stretch, tail = text[:start], text[start:end], text[end:]
    words = stretch.split(" ")
    for index, word in enumerate(words):
        for replacement in [*difflib.get_close_matches(word, _vocabulary(), n=3, cutoff=0.6), ""]:
            fixed = [*words[:index], replacement, *words[index + 1 :]]
            candidate = " ".join(part for part in (head.strip(), *fixed, tail.strip()) if part)
            if candidate and candidate != text and _reads(candidate):
                return _display(candidate)
    examples = [normalize(example) for example in (*en.EXAMPLES, *pt_br.EXAMPLES)]
    nearest = difflib.get_close_matches(text, examples, n=1, cutoff=0.0)
    return _display(nearest[0]) if nearest else None
