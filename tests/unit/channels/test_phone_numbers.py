"""normalize_number: one canonical digits-only form, Brazilian mobiles always with the ninth digit."""

from __future__ import annotations

import pytest

from chronoflow.channels import InvalidPhoneNumber, normalize_number

ACCEPTED = [
    ("5511987654321", None, "5511987654321"),
    ("+55 (11) 98765-4321", None, "5511987654321"),
    ("+55 11 8765-4321", None, "5511987654321"),  # old 8-digit mobile gains the 9
    ("551187654321@c.us", None, "5511987654321"),  # WhatsApp id without the ninth digit
    ("5521987654321@s.whatsapp.net", None, "5521987654321"),
    ("5511987654321:12@s.whatsapp.net", None, "5511987654321"),  # multi-device id
    ("005511987654321", None, "5511987654321"),
    ("551133334444", None, "551133334444"),  # landline keeps 8 digits
    ("  +55.31.9.8765.4321  ", None, "5531987654321"),
    ("(11) 98765-4321", "55", "5511987654321"),
    ("011 98765-4321", "55", "5511987654321"),  # national trunk prefix
    ("(55) 99123-4567", "55", "5555991234567"),  # DDD 55 is national, not a country code
    ("(11) 8765-4321", "55", "5511987654321"),
    ("+1 415 555 2671", None, "14155552671"),
    ("4155552671", "1", "14155552671"),
    ("14155552671", "1", "14155552671"),
    ("+44 20 7946 0958", None, "442079460958"),
    ("+351 912 345 678", None, "351912345678"),
]


@pytest.mark.parametrize(("raw", "country", "expected"), ACCEPTED, ids=[case[0].strip() for case in ACCEPTED])
def test_it_normalizes(raw: str, country: str | None, expected: str) -> None:
    """It accepts the ways people write one number and returns the canonical digits."""
    assert normalize_number(raw, default_country_code=country) == expected


BARE_BRAZILIAN = [
    ("11987654321", "5511987654321", "mobile-sp"),
    ("(21) 99876-5432", "5521998765432", "mobile-rio-written"),
    ("99912345678", "5599912345678", "mobile-ddd-99"),
    ("1133334444", "551133334444", "landline-sp"),
    ("(31) 2345-6789", "553123456789", "landline-bh-written"),
    ("4187654321", "5541987654321", "old-mobile-gains-nine"),
    ("6188887777", "5561988887777", "old-mobile-third-digit-8"),
]


@pytest.mark.parametrize(("raw", "expected"), [case[:2] for case in BARE_BRAZILIAN],
                         ids=[case[2] for case in BARE_BRAZILIAN])
def test_a_bare_brazilian_number_gets_the_country_code(raw: str, expected: str) -> None:
    """It prefixes 55 to a national Brazilian number written without it, as forms and spreadsheets hold them."""
    assert normalize_number(raw) == expected


LEFT_AS_WRITTEN = [
    ("10987654321", "10987654321", "eleven-digits-ddd-with-zero"),
    ("11887654321", "11887654321", "eleven-digits-third-digit-not-9"),
    ("2387654321", "2387654321", "ten-digits-unassigned-ddd-23"),
    ("1193456789", "1193456789", "ten-digits-third-digit-9"),
    ("1113456789", "1113456789", "ten-digits-third-digit-1"),
    ("119876543210", "119876543210", "twelve-digits"),
    ("119876543", "119876543", "nine-digits"),
    ("+1 198 765 4321", "11987654321", "plus-is-international"),
    ("0011987654321", "11987654321", "double-zero-is-international"),
    ("11987654321@c.us", "11987654321", "whatsapp-id-is-international"),
    ("79912345678@c.us", "79912345678", "whatsapp-id-russian-mobile"),
]


@pytest.mark.parametrize(("raw", "expected"), [case[:2] for case in LEFT_AS_WRITTEN],
                         ids=[case[2] for case in LEFT_AS_WRITTEN])
def test_anything_else_keeps_its_digits(raw: str, expected: str) -> None:
    """It guesses no country code for numbers outside the Brazilian national shapes, or written internationally."""
    assert normalize_number(raw) == expected


def test_both_brazilian_forms_are_the_same_number() -> None:
    """It gives a typed number and a webhook sender id without the 9 the same form (opt-outs match)."""
    assert normalize_number("+55 (31) 98765-4321") == normalize_number("553187654321@c.us")


REJECTED = [
    ("", "empty"),
    ("   ", "empty"),
    ("call me", "unexpected character"),
    ("+55 11 9876x-4321", "unexpected character"),
    ("120363025246125486@g.us", "group"),
    ("status@broadcast", "not a person"),
    ("12345678@lid", "not a person"),
    ("5511987654321,5521987654321", "several numbers"),
    ("5511987654321; 5521987654321", "several numbers"),
    ("5511987654321\n5521987654321", "several numbers"),
    ("+55+11987654321", "'+' may only start"),
    ("５５１１９８７６５４３２１", "not an ASCII digit"),  # full-width digits
    ("٥٥١١٩٨٧٦٥٤٣٢١", "not an ASCII digit"),  # Arabic-Indic digits
    ("123456", "too short"),
    ("1234567890123456", "too long"),
    ("0987654321", "never start with 0"),
    ("55119876543210", "2-digit DDD and 8 or 9 digits"),
    ("5501987654321", "DDD 01"),
    ("5511887654321", "must start with 9"),
    ("551117654321", "cannot start with 1"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED, ids=[repr(case[0]) for case in REJECTED])
def test_it_rejects(raw: str, reason: str) -> None:
    """It refuses what is not one individual phone number, saying why."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_number(raw)
    assert reason in str(caught.value)
    assert caught.value.raw == raw


@pytest.mark.parametrize("raw", [["5511987654321"], 5511987654321, None], ids=["list", "int", "none"])
def test_it_rejects_non_strings(raw: object) -> None:
    """It refuses lists and numbers: a recipient is one string."""
    with pytest.raises(InvalidPhoneNumber, match="expected one number as text"):
        normalize_number(raw)  # type: ignore[arg-type]


def test_the_error_is_a_value_error() -> None:
    """It raises a ValueError subclass, so generic validation code catches it."""
    with pytest.raises(ValueError):
        normalize_number("abc")
