"""Message templates: ``Olá {{name}}, sua fatura vence {{ due }}``.

Templates are written by users and rendered on the server, so the language is deliberately tiny:
a placeholder is ``{{`` + a plain name + ``}}`` (spaces inside the braces allowed) and nothing
else. There is no attribute or index access, no filters, no expressions: a value is inserted with
``str()`` and can never run code or reach into an object.

Single braces are ordinary text (``R$ {valor}`` stays as written), but double braces must form a
placeholder: a stray ``{{`` or ``}}``, an unclosed placeholder, or a name such as ``user.name`` is
a :class:`TemplateSyntaxError` when the chrono is saved, not a surprise in a customer's inbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from chronoflow.channels.errors import MissingVariable, TemplateSyntaxError

__all__ = ["render", "template_variables"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A placeholder name: an ASCII identifier, as users write them in JSON payloads."""

_BRACES = re.compile(r"\{\{|\}\}")


@dataclass(frozen=True)
class _Text:
    value: str


@dataclass(frozen=True)
class _Placeholder:
    name: str


def _parts(template: str) -> Iterator[_Text | _Placeholder]:
    """Split a template into literal text and placeholders, checking its syntax as it goes.

    Raises:
        TemplateSyntaxError: malformed double braces or a placeholder that is not a plain name.
    """
    if not isinstance(template, str):
        raise TypeError(f"template must be a string, got {type(template).__name__}")
    pos = 0
    while True:
        match = _BRACES.search(template, pos)
        if match is None:
            if pos < len(template):
                yield _Text(template[pos:])
            return
        if match.group() == "}}":
            raise TemplateSyntaxError("'}}' without a matching '{{'", match.start())
        if match.start() > pos:
            yield _Text(template[pos : match.start()])
        end = template.find("}}", match.end())
        if end == -1:
            raise TemplateSyntaxError("'{{' is never closed with '}}'", match.start())
        inner = template[match.end() : end]
        if "{" in inner or "}" in inner:
            raise TemplateSyntaxError("braces inside a placeholder", match.start())
        name = inner.strip()
        if not name:
            raise TemplateSyntaxError("empty placeholder '{{}}'", match.start())
        if not _NAME.fullmatch(name):
            raise TemplateSyntaxError(
                f"placeholder {{{{{name}}}}} is not a plain name (letters, digits and _ only; "
                "no dots, indexes or expressions)",
                match.start(),
            )
        yield _Placeholder(name)
        pos = end + 2


def template_variables(template: str) -> set[str]:
    """The placeholder names a template uses, e.g. to check a contact list has them all.

    Raises:
        TemplateSyntaxError: the template is malformed.
    """
    return {part.name for part in _parts(template) if isinstance(part, _Placeholder)}


def render(template: str, values: Mapping[str, object]) -> str:
    """Fill a template's placeholders with ``str(value)``.

    Args:
        template: the message template.
        values: a value per placeholder; extra keys are ignored, so one contact record can serve
            many templates.

    Returns:
        The message text.

    Raises:
        TemplateSyntaxError: the template is malformed.
        MissingVariable: a placeholder has no value, or ``None``: sending "Olá None" to a
            customer is worse than not sending.
    """
    out: list[str] = []
    for part in _parts(template):
        if isinstance(part, _Text):
            out.append(part.value)
            continue
        value = values.get(part.name)
        if value is None:
            raise MissingVariable(part.name)
        out.append(str(value))
    return "".join(out)
