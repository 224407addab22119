"""The console's languages: both catalogs complete, the browser's choice honoured, numbers per locale."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chronoflow.console.charts import bar_chart
from chronoflow.console.i18n import Speaker, negotiate
from chronoflow.console.messages import EN, PT_BR


def test_both_catalogs_hold_the_same_keys_and_placeholders() -> None:
    """It keeps a missing translation from reaching a page as a bare key."""
    assert EN.keys() == PT_BR.keys()
    for key, text in EN.items():
        assert sorted(part.split("}")[0] for part in text.split("{")[1:]) == \
            sorted(part.split("}")[0] for part in PT_BR[key].split("{")[1:]), key


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, "pt-BR,pt;q=0.9,en;q=0.8", "pt-BR"),
    (None, "en-US,en;q=0.9,pt-BR;q=0.8", "en"),
    (None, "fr-FR, pt;q=0.5, en;q=0.4", "pt-BR"),
    (None, "de-DE", "en"),
    (None, None, "en"),
    ("en", "pt-BR", "en"),
    ("klingon", "pt-BR", "pt-BR"),
], ids=["pt-first", "en-first", "by-quality", "unknown", "none", "cookie-wins", "bad-cookie"])
def test_it_picks_the_language(cookie: str | None, header: str | None, expected: str) -> None:
    assert negotiate(cookie, header) == expected


def test_numbers_and_dates_follow_the_locale_and_zone() -> None:
    moment = datetime(2026, 1, 15, 11, 0, tzinfo=UTC)
    portuguese = Speaker("pt-BR", ZoneInfo("America/Sao_Paulo"))
    english = Speaker("en", ZoneInfo("America/Sao_Paulo"))
    assert portuguese.num(12345.5) == "12.345,5"
    assert english.num(12345.5) == "12,345.5"
    written = portuguese.when(moment)
    assert written.startswith("15/01/2026") and "08:00" in written and written.endswith(" -03")
    assert "8:00" in english.when(moment) and english.when(moment).endswith("-03")
    assert portuguese.t("page_of", page=2, pages=3) == "Página 2 de 3"


def test_the_chart_escapes_its_labels_and_scales_its_bars() -> None:
    svg = bar_chart("Runs <by> status", [("success", 10), ("failed", 5), ("missed", 0)], str)
    assert "<title>Runs &lt;by&gt; status</title>" in svg
    assert 'width="270"' in svg and 'width="135"' in svg and 'width="0"' in svg
