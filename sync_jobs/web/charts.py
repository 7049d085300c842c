"""Server-rendered SVG charts: no JavaScript, no CDN. Every chart sits beside a table
of the same numbers on the page, so the figures are readable without the picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

_ROW = 26  # px per bar
_LABEL = 150  # px for the label column
_WIDTH = 520
_VALUE = 110  # px for the value text after the bar


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, its size (any unit, >= 0) and the text shown at its end."""

    label: str
    size: float
    text: str


def bar_chart(title: str, bars: Sequence[Bar], *, full: float | None = None) -> Markup:
    """A horizontal bar chart as inline SVG, scaled to `full` (default: the largest bar)."""
    height = max(len(bars), 1) * _ROW + 30
    span = _WIDTH - _LABEL - _VALUE
    largest = full or max((bar.size for bar in bars), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not bars:
        parts.append('<text x="10" y="30" class="empty">nothing recorded yet</text>')
    for index, bar in enumerate(bars):
        y = 20 + index * _ROW
        length = max(bar.size, 0) / largest * span
        parts.append(
            f'<text x="{_LABEL - 6}" y="{y + 15}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{_LABEL}" y="{y + 3}" width="{length:.1f}" height="{_ROW - 8}" '
            f'class="bar bar-{index % 4}"><title>{escape(bar.label)}: {escape(bar.text)}'
            f"</title></rect>"
            f'<text x="{_LABEL + length + 6:.1f}" y="{y + 15}" class="value">'
            f"{escape(bar.text)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
