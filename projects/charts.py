"""Small server-side SVG charts. Numbers are formatted by us and every text label is escaped."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 16, 28


def _n(value: float) -> str:
    return f"{value:.1f}"


def _compact(value: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def line_chart(*, labels: list[str], series: list[tuple[str, list[float], str]], title: str,
               guide: tuple[str, float] | None = None, format_value=_compact) -> SafeString:
    """Lines over shared x labels; ``guide`` draws a dashed horizontal line (e.g. a budget)."""
    peak = max([max(values, default=0) for _, values, _ in series] + [guide[1] if guide else 0, 1])
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    count = max(len(labels), 2)

    def x(i):
        return PAD_LEFT + inner_w * i / (count - 1)

    def y(v):
        return PAD_TOP + inner_h * (1 - v / peak)

    parts = [format_html('<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">', WIDTH, HEIGHT, title),
             format_html("<title>{}</title>", title)]
    for step in range(5):
        value = peak * step / 4
        parts.append(format_html('<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', PAD_LEFT, WIDTH - PAD_RIGHT, _n(y(value)), _n(y(value))))
        parts.append(format_html('<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>', PAD_LEFT - 6, _n(y(value) + 4), format_value(value)))
    for i, label in enumerate(labels):
        if i % max(1, len(labels) // 6) == 0 or i == len(labels) - 1:
            parts.append(format_html('<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>', _n(x(i)), HEIGHT - 8, label))
    if guide:
        parts.append(format_html('<line class="guide" x1="{}" x2="{}" y1="{}" y2="{}"/>', PAD_LEFT, WIDTH - PAD_RIGHT, _n(y(guide[1])), _n(y(guide[1]))))
        parts.append(format_html('<text class="axis guide-label" x="{}" y="{}" text-anchor="end">{}</text>', WIDTH - PAD_RIGHT, _n(y(guide[1]) - 4), guide[0]))
    for name, values, color in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(format_html('<polyline class="series" points="{}" style="stroke:{}"><title>{}</title></polyline>', points, color, name))
    parts.append(mark_safe("</svg>"))
    legend = "".join(
        format_html('<span class="legend-item"><i style="background:{}"></i>{}</span>', color, name) for name, _, color in series
    )
    return mark_safe("".join(parts) + f'<div class="legend">{legend}</div>')


def bar_rows(*, rows: list[tuple[str, float, str]], title: str) -> SafeString:
    """Horizontal bars for ratios in [0, 1], one per (label, ratio, caption)."""
    if not rows:
        return format_html('<p class="muted">{}</p>', "No finished runs in the last 30 days.")
    html = [format_html('<div class="bars" role="img" aria-label="{}">', title)]
    for label, ratio, caption in rows:
        html.append(
            format_html(
                '<div class="bar-row"><span class="bar-label">{}</span><span class="bar-track">'
                '<span class="bar-fill" style="width:{}%"></span></span><span class="bar-caption">{}</span></div>',
                label, _n(max(0.0, min(1.0, ratio)) * 100), caption,
            )
        )
    html.append(mark_safe("</div>"))
    return mark_safe("".join(html))

