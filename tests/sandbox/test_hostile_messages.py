"""Hostile code: recipient allowlist bypasses and message abuse (allowlist prefix ``5511``)."""

from __future__ import annotations

import pytest

from chronoflow.sandbox import FunctionLimits, RunStatus


def send(to: str, text: str = "'hi'") -> str:
    return f"def run(ctx):\n    return ctx.message.send(to={to}, text={text})\n"


@pytest.mark.parametrize(
    "to",
    [
        "'5511999990001,5521999990001'",
        "'5511999990001 5521999990001'",
        "'5511999990001@c.us'",
        "'120363999990001@g.us'",
        "'５５１１９９９９９０００１'",
        "'٥٥١١٩٩٩٩٩٠٠٠١'",
        "'5511\\u200b999990001'",
        "'5511999990001\\u2060'",
        "'5511' + '9' * 36",
        "'++5511999990001'",
        "'5511+999990001'",
        "'+1 5511999990001'",
        "'55 21 99999-0001'",
        "'005511999990001'",
        "'5511999990001\\n5521999990001'",
        "'5511'",
        "''",
    ],
    ids=["comma-list", "space-list", "c.us", "g.us", "fullwidth-digits", "arabic-digits", "zero-width",
         "word-joiner", "40-digits", "double-plus", "inner-plus", "plus-country", "other-prefix",
         "leading-zeros", "newline", "too-short", "empty"],
)
def test_recipient_bypass(run, sent, to):
    """It denies recipients that are not exactly one allowlisted number; nothing is sent."""
    result = run(send(to), send_message=sent)
    assert result.status is RunStatus.FAILED, result
    assert result.error.startswith("MessageError"), result.error
    assert sent.calls == []


def test_recipient_list_object(run, sent):
    """It denies a list of recipients."""
    result = run(send("['5511999990001', '5521999990001']"), send_message=sent)
    assert result.status is RunStatus.FAILED and result.error.startswith("TypeError")
    assert sent.calls == []


def test_recipient_str_subclass(run, sent):
    """It denies a str subclass recipient whose methods lie."""
    code = (
        "class N(str):\n"
        "    def startswith(self, p):\n"
        "        return True\n"
        "def run(ctx):\n"
        "    return ctx.message.send(to=N('5521999990001'), text='x')\n"
    )
    result = run(code, send_message=sent)
    assert result.status is RunStatus.FAILED and result.error.startswith("TypeError")
    assert sent.calls == []


def test_message_text_too_long(run, sent):
    """It denies message text over the cap."""
    result = run(send("'5511999990001'", "'x' * 5000"), send_message=sent, limits=FunctionLimits(max_message_chars=1000))
    assert result.status is RunStatus.FAILED and sent.calls == []


def test_message_text_not_str(run, sent):
    """It denies a non-string text."""
    result = run(send("'5511999990001'", "{'a': 1}"), send_message=sent)
    assert result.status is RunStatus.FAILED and result.error.startswith("TypeError")


def test_max_messages(run, sent):
    """It denies more messages than maxMessages per run."""
    code = "def run(ctx):\n    for i in range(5):\n        ctx.message.send(to='5511999990001', text='x')\n"
    result = run(code, send_message=sent, limits=FunctionLimits(max_messages=2))
    assert result.status is RunStatus.FAILED and "maxMessages" in result.error
    assert len(sent.calls) == 2 and result.message_count == 2


def test_no_channel(run):
    """It denies sending when no channel (callback) is configured."""
    result = run(send("'5511999990001'"))
    assert result.status is RunStatus.FAILED and "no channel" in result.error
