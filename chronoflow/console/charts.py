"""Charts drawn on the server as inline SVG: no chart library, no script, readable without one.

The SVG carries ``role="img"`` and a ``<title>`` so screen readers announce it, and each bar
has its own ``<title>`` with the figure it stands for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

STATUS_COLOURS = {
    "success": "#2e7d32", "failed": "#c62828", "timeout": "#ef6c00", "running": "#1565c0",
    "skipped": "#757575", "missed": "#6a1b9a",
}
"""Fill of each run status's bar; an unknown status is grey."""

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 90
WIDTH = 420


def bar_chart(title: str, bars: Sequence[tuple[str, int]], number: Callable[[float], str]) -> str:
    """A horizontal bar chart of ``(label, value)`` pairs, values written with ``number``."""
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    largest = max((value for _, value in bars), default=0) or 1
    span = WIDTH - LABEL_WIDTH - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
             f'width="{WIDTH}" height="{height}"><title>{escape(title)}</title>']
    for index, (label, value) in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        length = round(span * value / largest) if value else 0
        colour = STATUS_COLOURS.get(label, "#9e9e9e")
        shown = escape(number(value))
        parts.append(
            f'<text x="0" y="{y + 16}" class="chart-label">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" fill="{colour}">'
            f'<title>{escape(label)}: {shown}</title></rect>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 16}" class="chart-value">{shown}</text>')
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["STATUS_COLOURS", "bar_chart"]
