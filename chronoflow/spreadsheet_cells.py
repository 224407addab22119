"""CSV cells that spreadsheets read as text, never as formulas.

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and
one whose tab or carriage return hides such a start) as a formula, so a contact named
``=HYPERLINK(...)`` would execute in the operator's spreadsheet. Every CSV ChronoFlow writes passes
each cell through :func:`guarded`, which puts an apostrophe in front (spreadsheets show the text
without it); the contact import passes each cell through :func:`unguarded`, so a file exported and
imported again keeps its values.
"""

from __future__ import annotations

__all__ = ["FORMULA_STARTS", "guarded", "unguarded"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP's list)."""


def guarded(value: str) -> str:
    """``value`` with a leading apostrophe when it starts like a formula, else unchanged."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unguarded(value: str) -> str:
    """Undo :func:`guarded`: one leading apostrophe in front of a formula start is dropped."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value
