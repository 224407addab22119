"""Templates: {{name}} placeholders only, clear errors for missing values and malformed braces."""

from __future__ import annotations

import pytest

from chronoflow.channels import MissingVariable, TemplateSyntaxError, render, template_variables

RENDERED = [
    ("Olá {{name}}!", {"name": "Ana"}, "Olá Ana!"),
    ("Olá {{ name }}, vence {{due}}", {"name": "Ana", "due": "10/05"}, "Olá Ana, vence 10/05"),
    ("{{a}}{{a}}", {"a": "x"}, "xx"),
    ("Total: {{total}}", {"total": 12.5}, "Total: 12.5"),
    ("Qtd: {{n}}", {"n": 0}, "Qtd: 0"),
    ("R$ {valor} e {x}", {}, "R$ {valor} e {x}"),  # single braces are text
    ("sem variáveis", {"extra": "ignored"}, "sem variáveis"),
    ("", {}, ""),
    ("{{ _private_1 }}", {"_private_1": "ok"}, "ok"),
]


@pytest.mark.parametrize(
    ("template", "values", "expected"), RENDERED, ids=[case[0] or "empty" for case in RENDERED]
)
def test_it_renders(template: str, values: dict[str, object], expected: str) -> None:
    """It replaces each placeholder with str(value) and leaves the rest as written."""
    assert render(template, values) == expected


def test_it_does_not_evaluate_values() -> None:
    """It inserts a value that looks like a placeholder as text, never rendering it again."""
    assert render("{{a}}", {"a": "{{b}}"}) == "{{b}}"


VARIABLES = [
    ("Olá {{name}}, {{ due }} {{name}}", {"name", "due"}),
    ("nada", set()),
    ("{x} {{y}}", {"y"}),
]


@pytest.mark.parametrize(("template", "expected"), VARIABLES, ids=[case[0] for case in VARIABLES])
def test_it_lists_variables(template: str, expected: set[str]) -> None:
    """It reports each placeholder name once."""
    assert template_variables(template) == expected


@pytest.mark.parametrize(
    ("values", "missing"),
    [({}, "name"), ({"name": None}, "name"), ({"nome": "Ana"}, "name")],
    ids=["absent", "none", "misspelled"],
)
def test_a_missing_value_is_named(values: dict[str, object], missing: str) -> None:
    """It refuses to send a message with a hole in it and names the variable."""
    with pytest.raises(MissingVariable) as caught:
        render("Olá {{name}}", values)
    assert caught.value.name == missing
    assert "'name'" in str(caught.value)


MALFORMED = [
    ("Olá {{name", "never closed"),
    ("Olá name}}", "without a matching"),
    ("{{}}", "empty placeholder"),
    ("{{   }}", "empty placeholder"),
    ("{{user.name}}", "not a plain name"),
    ("{{items[0]}}", "not a plain name"),
    ("{{ name | upper }}", "not a plain name"),
    ("{{ __import__('os') }}", "not a plain name"),
    ("{{ 1name }}", "not a plain name"),
    ("{{{name}}}", "braces inside"),
    ("{{a {{b}} }}", "braces inside"),
    ("{{nome}} }}", "without a matching"),
]


@pytest.mark.parametrize(("template", "problem"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_templates_are_errors(template: str, problem: str) -> None:
    """It rejects malformed braces and anything but a plain name, in both functions."""
    with pytest.raises(TemplateSyntaxError, match="position"):
        template_variables(template)
    with pytest.raises(TemplateSyntaxError) as caught:
        render(template, {"name": "x", "a": "x", "b": "x", "nome": "x"})
    assert problem in str(caught.value)


def test_syntax_errors_say_where() -> None:
    """It reports the position of the faulty braces."""
    with pytest.raises(TemplateSyntaxError) as caught:
        render("Olá {{ name", {})
    assert caught.value.position == 4


def test_template_errors_are_value_errors() -> None:
    """It raises ValueError subclasses, so input validation can catch them generically."""
    with pytest.raises(ValueError):
        render("{{a.b}}", {})
    with pytest.raises(ValueError):
        render("{{a}}", {})
