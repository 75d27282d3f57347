"""The usage overview's pictures, drawn on the server: no script, no CDN.

:func:`daily_chart` is an SVG bar chart of tokens per day (input and output stacked,
a value on every bar's ``<title>``); :func:`top_users_bars` a list of horizontal bars,
in HTML. Both are pure functions of their data, built with ``format_html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 900, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 16, 40


@dataclass(frozen=True)
class DayTotal:
    day: date
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


def compact(value: float) -> str:
    """``1234567`` as ``1.2M``, ``12300`` as ``12.3k``."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1
    scale = 1
    while scale * 10 <= value:
        scale *= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * scale >= value:
            return int(step * scale)
    return 10 * scale  # pragma: no cover  (the loop always returns)


def daily_chart(days: Sequence[DayTotal], title: str = "Tokens per day") -> SafeString:
    """An SVG bar chart of ``days`` (oldest first), input below output."""
    top = nice_ceiling(max((day.total for day in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar = round(max(2.0, slot * 0.7), 1)

    def y(value: int) -> float:
        return round(TOP + plot_h - plot_h * value / top, 1)

    grid = format_html_join(
        "",
        '<line class="ck-grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="ck-axis" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (LEFT, WIDTH - RIGHT, y(tick), y(tick), LEFT - 6, round(y(tick) + 4, 1), compact(tick))
            for tick in (top * step // 4 for step in range(5))
        ),
    )
    bars = []
    labels = []
    for index, day in enumerate(days):
        x = round(LEFT + index * slot + (slot - bar) / 2, 1)
        tip = f"{day.day.isoformat()}: {day.total:,} tokens ({day.input_tokens:,} in, "
        tip += f"{day.output_tokens:,} out)"
        bars.append(
            format_html(
                '<g class="ck-day" data-day="{}" data-total="{}"><title>{}</title>'
                '<rect class="ck-in" x="{}" y="{}" width="{}" height="{}"/>'
                '<rect class="ck-out" x="{}" y="{}" width="{}" height="{}"/></g>',
                day.day.isoformat(),
                day.total,
                tip,
                x,
                y(day.input_tokens),
                bar,
                round(y(0) - y(day.input_tokens), 1),
                x,
                y(day.total),
                bar,
                round(y(day.input_tokens) - y(day.total), 1),
            )
        )
        if index % 5 == 0 or index == len(days) - 1:
            labels.append(
                format_html(
                    '<text class="ck-axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                    round(x + bar / 2, 1),
                    HEIGHT - BOTTOM + 16,
                    day.day.strftime("%b %d"),
                )
            )
    legend_y = HEIGHT - 8
    return format_html(
        '<svg class="ck-usage-chart" role="img" viewBox="0 0 {} {}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}{}{}'
        '<rect class="ck-in" x="{}" y="{}" width="10" height="10"/>'
        '<text class="ck-axis" x="{}" y="{}">input</text>'
        '<rect class="ck-out" x="{}" y="{}" width="10" height="10"/>'
        '<text class="ck-axis" x="{}" y="{}">output</text></svg>',
        WIDTH,
        HEIGHT,
        title,
        grid,
        SafeString("".join(bars)),
        SafeString("".join(labels)),
        LEFT,
        legend_y - 9,
        LEFT + 14,
        legend_y,
        LEFT + 70,
        legend_y - 9,
        LEFT + 84,
        legend_y,
    )


def top_users_bars(rows: Sequence[tuple[str, int]]) -> SafeString:
    """Horizontal bars of ``(name, tokens)`` rows, longest first as given."""
    if not rows:
        return SafeString("")
    top = max(tokens for _name, tokens in rows) or 1
    return format_html(
        '<ol class="ck-top-users">{}</ol>',
        format_html_join(
            "",
            '<li><span class="ck-top-name">{}</span><span class="ck-top-bar">'
            '<span style="width: {}%"></span></span><span class="ck-top-value">{}</span></li>',
            ((name, round(100 * tokens / top, 1), compact(tokens)) for name, tokens in rows),
        ),
    )
