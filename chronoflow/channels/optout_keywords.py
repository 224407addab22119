"""Opt-out keywords in inbound messages, and the reply that confirms them.

A recipient who answers ``PARE`` (or ``STOP``, ``SAIR``, ``CANCELAR``, ``DESCADASTRAR``) must not
be messaged again by campaigns. The check is deliberately strict: the whole message, once case,
accents, surrounding spaces, punctuation and emoji are set aside, must be one keyword. "Não vou
sair de casa hoje" contains *sair* and is not an opt-out; reading free text as consent would
silence customers who never asked for it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["OPT_OUT_CONFIRMATION", "OPT_OUT_KEYWORDS", "is_opt_out", "opt_out_confirmation"]

OPT_OUT_KEYWORDS = frozenset({"pare", "stop", "sair", "cancelar", "descadastrar"})
"""Keywords in their normalized form (lower case, no accents)."""

OPT_OUT_CONFIRMATION = {
    "pt-BR": (
        "Pronto! Você não receberá mais nossas mensagens automáticas. Se mudar de ideia, é só nos responder."
    ),
    "en": (
        "Done! You will not receive our automated messages anymore. "
        "If you change your mind, just reply to us."
    ),
}
"""Reply sent once after an opt-out, by language; pt-BR is the default."""

_EDGE_CATEGORIES = ("P", "S", "Z", "C")
"""Unicode categories stripped from both ends: punctuation, symbols (emoji), separators, controls
and format characters (zero-width spaces that phones insert)."""


def _normalize(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    start, end = 0, len(bare)
    while start < end and unicodedata.category(bare[start]).startswith(_EDGE_CATEGORIES):
        start += 1
    while end > start and unicodedata.category(bare[end - 1]).startswith(_EDGE_CATEGORIES):
        end -= 1
    return bare[start:end].casefold()


def is_opt_out(text: str | None, keywords: Iterable[str] = OPT_OUT_KEYWORDS) -> bool:
    """Whether an inbound message asks to stop receiving messages.

    Args:
        text: the message body; ``None`` (media without caption) is never an opt-out.
        keywords: accepted words, compared after the same normalization; the default is
            :data:`OPT_OUT_KEYWORDS`.

    Returns:
        ``True`` when the whole message is one keyword, e.g. ``" Pare!! "``, ``"SAÍR"``, ``"stop 🙏"``.
    """
    if not text:
        return False
    word = _normalize(text)
    if keywords is OPT_OUT_KEYWORDS:
        return word in OPT_OUT_KEYWORDS
    return word in {_normalize(keyword) for keyword in keywords}


def opt_out_confirmation(language: str | None = None) -> str:
    """The confirmation reply for a language tag (``"en"``, ``"en-US"``, ``"pt-BR"``…).

    English tags get the English text; everything else, including ``None``, Portuguese, since
    ChronoFlow's senders are mostly Brazilian.
    """
    if language and language.lower().split("-")[0].split("_")[0] == "en":
        return OPT_OUT_CONFIRMATION["en"]
    return OPT_OUT_CONFIRMATION["pt-BR"]
