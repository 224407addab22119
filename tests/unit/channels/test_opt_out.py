"""is_opt_out: a whole message that is one keyword, whatever its case, accents and punctuation."""

from __future__ import annotations

import pytest

from chronoflow.channels import is_opt_out, opt_out_confirmation
from chronoflow.channels.optout_keywords import OPT_OUT_CONFIRMATION

OPT_OUTS = [
    "PARE",
    "pare",
    "Pare",
    " Pare!! ",
    "pare.",
    "STOP",
    "stop",
    "Stop!",
    "SAIR",
    "sair",
    "SAÍR",
    "sáir",
    "CANCELAR",
    "cancelar?",
    "Cancelár",
    "DESCADASTRAR",
    "descadastrar",
    "  descadastrar  ",
    '"PARE"',
    "*PARE*",
    "(stop)",
    "pare 🙏",
    "🛑 STOP 🛑",
    "\u200bpare\u200b",
    "pare\n",
    "¡PARE!",
]


@pytest.mark.parametrize("text", OPT_OUTS, ids=[repr(text) for text in OPT_OUTS])
def test_it_recognizes_opt_outs(text: str) -> None:
    """It accepts every keyword in any case, with accents, spaces, punctuation or emoji around."""
    assert is_opt_out(text)


NOT_OPT_OUTS = [
    "",
    None,
    "olá",
    "pare de mandar mensagem amanhã",
    "não vou sair de casa hoje",
    "stop by tomorrow",
    "parei",
    "pa re",
    "sairr",
    "p.a.r.e",
    "ok",
    "1",
    "PARE PARE",
]


@pytest.mark.parametrize("text", NOT_OPT_OUTS, ids=[repr(text) for text in NOT_OPT_OUTS])
def test_it_ignores_other_messages(text: str | None) -> None:
    """It does not read free text as an opt-out, even when a keyword appears inside it."""
    assert not is_opt_out(text)


def test_keywords_can_be_replaced() -> None:
    """It checks a caller's own keywords with the same normalization."""
    assert is_opt_out(" Unsubscribe! ", keywords=["UNSUBSCRIBE"])
    assert not is_opt_out("pare", keywords=["unsubscribe"])


@pytest.mark.parametrize(
    ("language", "key"),
    [
        (None, "pt-BR"),
        ("pt-BR", "pt-BR"),
        ("pt", "pt-BR"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN_gb", "en"),
        ("es", "pt-BR"),
    ],
    ids=["none", "pt-BR", "pt", "en", "en-US", "EN_gb", "es"],
)
def test_confirmation_text(language: str | None, key: str) -> None:
    """It answers in English for English tags and in Portuguese otherwise."""
    assert opt_out_confirmation(language) == OPT_OUT_CONFIRMATION[key]
