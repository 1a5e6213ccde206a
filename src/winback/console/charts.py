"""Charts as inline SVG, drawn on the server: no script, no library, readable without colour.

Each chart is an ``<figure>`` with a text alternative (``aria-label`` and ``<title>``) and its
numbers in a ``<details>`` table one click away. Colours are SVG presentation attributes (not
``style``), so a strict Content-Security-Policy allows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 560, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 12, 36
PALETTE = ("#0b5cad", "#b42318", "#1a7f37", "#8a5a00", "#6639ba", "#57606a")


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[str, float | None]]  # (label on the x axis, value or no value)


def _nice_top(value: float) -> float:
    """A round number at or above ``value`` for the top of the y axis."""
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= step * factor:
            return float(step * factor)
    return float(step * 10)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"
    return f"{text}{unit}"


def _axes(top: float, unit: str, labels: Sequence[str]) -> list[str]:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = []
    for i in range(5):
        value = top * i / 4
        y = PAD_TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d0d7de" stroke-width="1"/>'
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#57606a">{escape(_fmt(value, unit))}</text>'
        )
    if labels:
        plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
        every = max(1, len(labels) // 8)
        for i, label in enumerate(labels):
            if i % every:
                continue
            x = PAD_LEFT + plot_w * (i + 0.5) / len(labels)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11" fill="#57606a">{escape(label)}</text>'
            )
    return parts


def _table(series: Sequence[Series], unit: str) -> str:
    labels = [label for label, _ in series[0].points] if series else []
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f"<td>{escape(_fmt(s.points[i][1], unit))}</td>" for s in series)
        + "</tr>"
        for i, label in enumerate(labels)
    )
    return (
        "<details><summary>The numbers</summary><table><thead><tr><th></th>"
        f"{head}</tr></thead><tbody>{body}</tbody></table></details>"
    )


def _figure(
    title: str, summary: str, svg: list[str], series: Sequence[Series], unit: str
) -> Markup:
    legend = ""
    if len(series) > 1:
        legend = (
            '<p class="legend">'
            + " ".join(
                f'<span><svg width="12" height="12" aria-hidden="true">'
                f'<rect width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/></svg> '
                f"{escape(s.name)}</span>"
                for i, s in enumerate(series)
            )
            + "</p>"
        )
    return Markup(
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(summary)}">'
        f"<title>{escape(summary)}</title>{''.join(svg)}</svg>{legend}"
        f"{_table(series, unit)}</figure>"
    )


def bars(title: str, series: Series, unit: str = "") -> Markup:
    """One bar per label."""
    values = [v for _, v in series.points if v is not None]
    top = _nice_top(max(values, default=0.0))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    labels = [label for label, _ in series.points]
    parts = _axes(top, unit, labels)
    n = max(1, len(series.points))
    width = plot_w / n * 0.7
    for i, (label, value) in enumerate(series.points):
        if value is None:
            continue
        h = plot_h * max(0.0, value) / top
        x = PAD_LEFT + plot_w * (i + 0.15) / n
        parts.append(
            f'<rect x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{width:.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{escape(label)}: '
            f"{escape(_fmt(value, unit))}</title></rect>"
        )
    summary = f"{title}: " + (
        f"from {_fmt(series.points[0][1], unit)} to {_fmt(series.points[-1][1], unit)}, "
        f"highest {_fmt(max(values), unit)}"
        if values
        else "no data yet"
    )
    return _figure(title, summary, parts, [series], unit)


def lines(title: str, series: Sequence[Series], unit: str = "", top: float | None = None) -> Markup:
    """One line per series over the same labels (a gap where a value is missing)."""
    values = [v for s in series for _, v in s.points if v is not None]
    top = top or _nice_top(max(values, default=0.0))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    labels = [label for label, _ in series[0].points] if series else []
    parts = _axes(top, unit, labels)
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        n = max(1, len(s.points))
        run: list[str] = []
        for i, (label, value) in enumerate(s.points):
            if value is None:
                if len(run) > 1:
                    parts.append(_polyline(run, colour))
                run = []
                continue
            x = PAD_LEFT + plot_w * (i + 0.5) / n
            y = PAD_TOP + plot_h - plot_h * min(max(value, 0.0), top) / top
            run.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>'
                f"{escape(s.name)} {escape(label)}: {escape(_fmt(value, unit))}</title></circle>"
            )
        if len(run) > 1:
            parts.append(_polyline(run, colour))
    last = [
        f"{s.name} {_fmt(next((v for _, v in reversed(s.points) if v is not None), None), unit)}"
        for s in series
    ]
    summary = f"{title}: latest " + ", ".join(last) if values else f"{title}: no data yet"
    return _figure(title, summary, parts, series, unit)


def _polyline(points: list[str], colour: str) -> str:
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>'
