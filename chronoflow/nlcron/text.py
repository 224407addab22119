"""Text normalization: the reason case, accents and spacing never change a schedule.

Every grammar rule is written against the normalized form (lower case, no accents, single
spaces), so ``Às``, ``as`` and ``  AS `` are the same word to the parser. Accents are removed by
a translation table of precomposed characters rather than Unicode decomposition: it is several
times faster and keeps one output character per input character, which lets an error quote the
user's own spelling of the part it could not read.
"""

from __future__ import annotations

import unicodedata

_ACCENTS = str.maketrans(
    "áàâãäåéèêëíìîïóòôõöúùûüçñýÿÁÀÂÃÄÅÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑÝ",
    "aaaaaaeeeeiiiiooooouuuucnyyaaaaaaeeeeiiiiooooouuuucny",
)
"""Precomposed accented letters of Portuguese, Spanish and French mapped to plain ASCII."""

_NBSP_AND_DASHES = str.maketrans({"\u00a0": " ", "\u2013": "-", "\u2014": "-", "\u2019": "'"})
"""Look-alike characters that phones and word processors insert in place of plain ones."""


def normalize(text: str) -> str:
    """Lower-case, strip accents and collapse whitespace.

    Args:
        text: The schedule as written.

    Returns:
        The form every grammar rule is matched against.
    """
    if text.isascii():
        # The common case skips the translation table, whose per-character lookups dominate.
        return " ".join(text.lower().split())
    # Decomposed input (a letter followed by a combining accent) is rare but real; NFC first
    # folds it into precomposed letters the translation table knows.
    text = unicodedata.normalize("NFC", text).translate(_NBSP_AND_DASHES)
    return " ".join(text.lower().translate(_ACCENTS).split())


def original_span(text: str, start: int, end: int) -> str:
    """Map a span of the normalized text back to the user's own spelling.

    Args:
        text: The schedule as written.
        start: Start offset in ``normalize(text)``.
        end: End offset in ``normalize(text)``.

    Returns:
        The matching slice of ``text`` (accents and case as the user wrote them).
    """
    source = unicodedata.normalize("NFC", text)
    positions: list[int] = []
    previous_space = True  # leading whitespace is dropped, as ``strip`` does
    for index, char in enumerate(source):
        if char.isspace():
            if not previous_space:
                positions.append(index)
            previous_space = True
        else:
            positions.append(index)
            previous_space = False
    if not positions or start >= len(positions):
        return text.strip()
    last = positions[min(end, len(positions)) - 1] if end > start else positions[start]
    return source[positions[start] : last + 1].strip()
