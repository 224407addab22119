"""Recipient phone numbers: one canonical digits-only form.

The canonical form is the international number without ``+``: country code, then the national
number, ASCII digits only (``5511987654321``). Both providers take it (WAHA as
``<digits>@c.us``), and opt-outs, contacts and "already sent" checks compare numbers in this form,
so a number typed as ``+55 (11) 98765-4321`` and one arriving from a webhook as
``551187654321@c.us`` must come out identical.

Brazil (country code 55) is why that takes care: mobiles gained a leading ninth digit ``9`` in
2012–2016, yet people still write them with 8 digits, and WhatsApp ids of older accounts often lack
the 9. The canonical Brazilian mobile is therefore always **55 + DDD (2 digits) + 9 + 8 digits**
(13 digits): an 8-digit subscriber number starting with 6–9 (a mobile in the old plan) gets the
9 inserted. Landlines (subscriber starting with 2–5) keep their 8 digits (12 in all). A 9-digit
Brazilian subscriber number must start with 9.

A number written without ``+``/``00`` and without a default country code is taken as
international, except a bare Brazilian national number, which gets ``55``: 11 digits whose
two-digit area code (DDD) has no ``0`` and whose third digit is ``9`` (a mobile), or 10 digits
with an existing DDD and a third digit 2–8 (a landline, or a mobile in the old 8-digit plan).
Spreadsheets and forms in Brazil hold numbers that way, and sending to them as if ``11`` were a
country code reaches nobody. Anything else is left as written.

Accepted decorations: spaces, ``-``, ``.``, ``(``, ``)``, ``/``, one leading ``+`` or ``00``, and an
individual WhatsApp id suffix (``@c.us``, ``@s.whatsapp.net``). Everything else is refused with
:class:`InvalidPhoneNumber`, in particular group ids (``@g.us``), several numbers in one value,
letters, and digits of other scripts (``５``, ``٥``) that ``str.isdigit`` would let through.
"""

from __future__ import annotations

from chronoflow.channels.errors import InvalidPhoneNumber

__all__ = ["E164_MAX_DIGITS", "MIN_DIGITS", "normalize_number"]

E164_MAX_DIGITS = 15
"""ITU-T E.164: an international number has at most 15 digits, country code included."""

MIN_DIGITS = 7
"""Shortest international number accepted (the smallest numbering plans, e.g. +290, have 7)."""

BRAZIL = "55"
"""Country code whose mobiles get the ninth-digit treatment."""

_INDIVIDUAL_SUFFIXES = ("@c.us", "@s.whatsapp.net")
"""WhatsApp ids that name one person's phone number."""

_SEPARATORS = frozenset(" -.()/\t")
"""Characters people put inside numbers; dropped."""

_LIST_MARKERS = frozenset(",;|\n\r")
"""Characters that mean the value holds several recipients."""

_ASCII_DIGITS = frozenset("0123456789")

BRAZILIAN_DDDS = frozenset(
    "11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 49 "
    "51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 "
    "91 92 93 94 95 96 97 98 99".split()
)
"""The area codes (DDD) Anatel assigns: a bare 10-digit number is Brazilian only with one of them."""


def normalize_number(raw: str, *, default_country_code: str | None = None) -> str:
    """Turn a phone number as people write it into the canonical digits-only form.

    Args:
        raw: one phone number, international (``+55 11 98765-4321``, ``005511...``,
            ``5511987654321``) or a WhatsApp id of a person (``5511987654321@c.us``).
        default_country_code: prefixed to a number written without ``+``/``00`` that has 10 or
            11 digits after its trunk ``0`` (e.g. ``"55"`` lets ``(11) 98765-4321`` and
            ``011 98765-4321`` through). ``None`` (default) takes every number as international,
            except a bare Brazilian national number, which gets ``55`` (see the module docstring).

    Returns:
        Country code and number, ASCII digits only.

    Raises:
        InvalidPhoneNumber: not a string, a group or other non-personal id, several numbers,
            letters or non-ASCII digits, too short or too long, or an impossible Brazilian number.
    """
    if not isinstance(raw, str):
        raise InvalidPhoneNumber(raw, f"expected one number as text, got {type(raw).__name__}")
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "empty")
    whatsapp_id = "@" in text  # an id always carries its country code: nothing is guessed
    if whatsapp_id:
        text = _strip_individual_suffix(raw, text)
    if any(char in _LIST_MARKERS for char in text):
        raise InvalidPhoneNumber(raw, "several numbers in one value; give one number per recipient")

    international = False
    if text.startswith("+"):
        international, text = True, text[1:]
    if "+" in text:
        raise InvalidPhoneNumber(raw, "'+' may only start the number")

    digits: list[str] = []
    for char in text:
        if char in _ASCII_DIGITS:
            digits.append(char)
        elif char in _SEPARATORS:
            continue
        elif char.isdigit():
            raise InvalidPhoneNumber(raw, f"{char!r} is not an ASCII digit 0-9")
        else:
            raise InvalidPhoneNumber(raw, f"unexpected character {char!r}")
    number = "".join(digits)

    if not international and number.startswith("00"):
        international, number = True, number[2:]  # 00 is the international call prefix
    if not international and default_country_code:
        national = number.lstrip("0")  # a leading 0 is the national trunk prefix
        # Brazilian national numbers are exactly 10-11 digits, international ones 12-13, so a
        # 10-11 digit number is national even when its DDD is 55; elsewhere a number already
        # starting with the code is taken as international.
        if len(national) in (10, 11) and (
            default_country_code == BRAZIL or not national.startswith(default_country_code)
        ):
            number = default_country_code + national
    elif not international and not whatsapp_id and _bare_brazilian(number):
        number = BRAZIL + number

    if number.startswith("0"):
        raise InvalidPhoneNumber(
            raw, "country codes never start with 0; write the number with its country code"
        )
    if len(number) < MIN_DIGITS:
        raise InvalidPhoneNumber(
            raw, f"too short ({len(number)} digits, at least {MIN_DIGITS} with country code)"
        )
    if len(number) > E164_MAX_DIGITS:
        raise InvalidPhoneNumber(raw, f"too long ({len(number)} digits, E.164 allows {E164_MAX_DIGITS})")
    if number.startswith(BRAZIL):
        number = _canonical_brazilian(raw, number)
    return number


def _bare_brazilian(number: str) -> bool:
    """Whether ``number`` is a Brazilian national number written without the country code."""
    ddd = number[:2]
    if len(number) == 11:
        return "0" not in ddd and number[2] == "9"
    if len(number) == 10:
        return ddd in BRAZILIAN_DDDS and number[2] in "2345678"
    return False


def _strip_individual_suffix(raw: str, text: str) -> str:
    local, _, domain = text.partition("@")
    suffix = "@" + domain.lower()
    if suffix not in _INDIVIDUAL_SUFFIXES:
        kind = "a group" if suffix == "@g.us" else f"not a person's number ({suffix})"
        raise InvalidPhoneNumber(raw, f"WhatsApp id is {kind}")
    # Multi-device ids carry the device after ':' (5511...:12@s.whatsapp.net); the number is before it.
    return local.split(":", 1)[0]


def _canonical_brazilian(raw: str, number: str) -> str:
    """Apply the Brazilian rules to a number starting with 55 (see the module docstring)."""
    national = number[len(BRAZIL) :]
    ddd, subscriber = national[:2], national[2:]
    if len(national) not in (10, 11):
        raise InvalidPhoneNumber(raw, "a Brazilian number has a 2-digit DDD and 8 or 9 digits")
    if "0" in ddd:
        raise InvalidPhoneNumber(raw, f"DDD {ddd} does not exist (area codes 11-99 have no 0)")
    if len(subscriber) == 9:
        if subscriber[0] != "9":
            raise InvalidPhoneNumber(raw, "a 9-digit Brazilian number must start with 9")
        return number
    if subscriber[0] in "6789":
        return BRAZIL + ddd + "9" + subscriber
    if subscriber[0] in "2345":
        return number
    raise InvalidPhoneNumber(raw, f"a Brazilian 8-digit number cannot start with {subscriber[0]}")
