"""Bounded JSON bodies: nesting is counted outside strings, and the error names the deep field."""

from __future__ import annotations

import json

import pytest

from chronoflow.api.json_bodies import MAX_JSON_DEPTH, check_depth, json_object
from chronoflow.errors import InvalidInput


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_the_deepest_accepted_body_passes_and_one_level_more_is_refused() -> None:
    """It accepts MAX_JSON_DEPTH levels (the body counts as one) and refuses one more."""
    check_depth(json.dumps({"payload": json.loads(nested(MAX_JSON_DEPTH - 1))}).encode())
    with pytest.raises(InvalidInput) as caught:
        check_depth(json.dumps({"payload": json.loads(nested(MAX_JSON_DEPTH))}).encode())
    assert caught.value.field == "payload"
    assert str(MAX_JSON_DEPTH) in caught.value.problem


def test_the_field_is_the_top_level_key_holding_the_deep_value() -> None:
    """It names the top-level key, not a nested one, and ``body`` for a deep top-level array."""
    body = '{"name": "x", "extras": {"a": {"b": ' + nested(100) + "}}, \"after\": 1}"
    with pytest.raises(InvalidInput) as caught:
        check_depth(body.encode())
    assert caught.value.field == "extras"
    with pytest.raises(InvalidInput) as top:
        check_depth(nested(5000).encode())
    assert top.value.field == "body"


def test_brackets_inside_strings_do_not_count() -> None:
    """It skips string contents, escaped quotes included."""
    text = '\\"' + "[" * 500 + "{" * 500
    body = json.dumps({"payload": text, "other": ["a\\\"[[[", 1]})
    check_depth(body.encode())
    assert json_object(body.encode())["payload"] == text


def test_a_key_with_escapes_is_named_as_decoded() -> None:
    """It decodes the key it reports (``"pay\\u006coad"`` is ``payload``)."""
    with pytest.raises(InvalidInput) as caught:
        check_depth(('{"pay\\u006coad": ' + nested(MAX_JSON_DEPTH + 1) + "}").encode())
    assert caught.value.field == "payload"


@pytest.mark.parametrize(("raw", "problem"), [
    pytest.param(b"{not json", "is not JSON", id="malformed"),
    pytest.param(b"\xff\xfe", "is not JSON", id="not-utf8"),
    pytest.param(b"[1, 2]", "must be a JSON object", id="array"),
    pytest.param(b'"text"', "must be a JSON object", id="string"),
])
def test_json_object_names_the_body(raw: bytes, problem: str) -> None:
    """It refuses what is not one JSON object, naming ``body``."""
    with pytest.raises(InvalidInput) as caught:
        json_object(raw)
    assert (caught.value.field, caught.value.problem) == ("body", problem)
