"""Inline SVG plots for the HTML report: no plotting library, nothing fetched at view time.

Example:
    >>> svg = strip_plot([("conv2d_same float32", [1e-7, 3e-7]), ("conv2d_same float64", [])],
    ...                  "max_abs_diff")
    >>> svg.startswith("<svg") and "conv2d_same float32" in svg
    True
"""
from __future__ import annotations

import math
from html import escape

DTYPE_COLORS = {"float32": "#1f77b4", "float64": "#2ca02c", "float16": "#ff7f0e",
                "bfloat16": "#d62728"}
_W, _LEFT, _ROW = 900, 260, 16


def _log10(v) -> float | None:
    return math.log10(v) if isinstance(v, (int, float)) and v > 0 and math.isfinite(v) else None


def _stacked(marks) -> list[tuple[str, int]]:
    """Each distinct mark (its drawn position, to the tenth of a pixel) once, with how many
    values fell on it, first-seen order: 200,000 cases draw at most a few thousand marks."""
    counts: dict[str, int] = {}
    for m in marks:
        counts[m] = counts.get(m, 0) + 1
    return list(counts.items())


def _opacity(alpha: float, n: int) -> str:
    """The opacity of ``n`` marks of opacity ``alpha`` drawn on one spot: 1 - (1 - alpha)**n.

    >>> _opacity(0.5, 1), _opacity(0.5, 2)
    ('0.5', '0.75')
    """
    return f"{1 - (1 - alpha) ** n:.3g}"


def strip_plot(rows: list[tuple[str, list[float]]], what: str, lo: int = -20, hi: int = 2) -> str:
    """One row per label, one tick per value on a log10 axis from 10**lo to 10**hi."""
    height = _ROW * len(rows) + 40
    scale = (_W - _LEFT - 20) / (hi - lo)
    x = lambda e: _LEFT + (min(max(e, lo), hi) - lo) * scale  # noqa: E731
    out = [f'<svg class="plot" role="img" aria-label="{escape(what)}" width="{_W}" '
           f'height="{height}" viewBox="0 0 {_W} {height}" xmlns="http://www.w3.org/2000/svg">']
    for e in range(lo, hi + 1, 2):
        out.append(f'<line x1="{x(e):.1f}" y1="10" x2="{x(e):.1f}" y2="{height - 25}" '
                   f'stroke="#ddd"/><text x="{x(e):.1f}" y="{height - 10}" font-size="10" '
                   f'text-anchor="middle">1e{e}</text>')
    for i, (label, values) in enumerate(rows):
        y = 10 + i * _ROW + _ROW / 2
        color = next((c for d, c in DTYPE_COLORS.items() if label.endswith(" " + d)), "#555")
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                   f'{escape(label)} ({len(values)})</text>')
        for pos, n in _stacked(f"{x(e):.1f}" for v in values if (e := _log10(v)) is not None):
            out.append(f'<line x1="{pos}" y1="{y - 6:.1f}" x2="{pos}" y2="{y + 6:.1f}" '
                       f'stroke="{color}" stroke-opacity="{_opacity(0.35, n)}"/>')
    out.append("</svg>")
    return "".join(out)


def legend(dtypes: list[str], x: float, y: float) -> str:
    """A row of coloured dots naming each dtype plotted (``class="legend"``)."""
    items = []
    for k, dtype in enumerate(dtypes):
        cx = x + 78 * k
        items.append(f'<circle cx="{cx:.1f}" cy="{y - 3}" r="3.5" '
                     f'fill="{DTYPE_COLORS.get(dtype, "#555")}"/><text x="{cx + 6:.1f}" '
                     f'y="{y}" font-size="10">{escape(dtype)}</text>')
    return f'<g class="legend">{"".join(items)}</g>'


def scatter(points: list[tuple[float, float, str]], xlabel: str, ylabel: str) -> str:
    """Points (x, y > 0, dtype) with y on a log10 axis; a dashed line at y = 1."""
    w, h, left, bottom, top = 420, 234, 50, 30, 24  # the legend above the points
    xs = [p[0] for p in points] or [0.0, 1.0]
    ys = [e for p in points if (e := _log10(p[1])) is not None] or [0.0]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(min(ys), -1.0), max(max(ys), 1.0)
    px = lambda v: left + (v - x0) / (x1 - x0) * (w - left - 10)  # noqa: E731
    py = lambda e: h - bottom - (e - y0) / (y1 - y0) * (h - bottom - top)  # noqa: E731
    out = [f'<svg class="plot" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           f'xmlns="http://www.w3.org/2000/svg"><line x1="{left}" y1="{py(0):.1f}" x2="{w - 10}" '
           f'y2="{py(0):.1f}" stroke="#c00" stroke-dasharray="4 3"/>'
           f'<text x="{w - 12}" y="{py(0) - 3:.1f}" font-size="10" text-anchor="end" '
           f'fill="#c00">bound</text>']
    for e in range(math.ceil(y0), math.floor(y1) + 1, max(1, round((y1 - y0) / 6))):
        out.append(f'<text x="{left - 4}" y="{py(e) + 3:.1f}" font-size="10" '
                   f'text-anchor="end">1e{e}</text>')
    for v in sorted(set(xs))[:12]:
        out.append(f'<text x="{px(v):.1f}" y="{h - bottom + 14}" font-size="10" '
                   f'text-anchor="middle">{v:g}</text>')
    drawn = (f'cx="{px(xv):.1f}" cy="{py(e):.1f}" r="2.5" fill="{DTYPE_COLORS.get(dtype, "#555")}"'
             for xv, yv, dtype in points if (e := _log10(yv)) is not None)
    for mark, n in _stacked(drawn):
        out.append(f'<circle {mark} fill-opacity="{_opacity(0.5, n)}"/>')
    out.append(legend(sorted({p[2] for p in points}), left + 6, 14))
    out.append(f'<text x="{(left + w) / 2}" y="{h - 2}" font-size="11" text-anchor="middle">'
               f'{escape(xlabel)}</text><text x="12" y="{h / 2}" font-size="11" '
               f'transform="rotate(-90 12 {h / 2})" text-anchor="middle">{escape(ylabel)}</text>')
    out.append("</svg>")
    return "".join(out)


def depth_plot(series: list[tuple[str, str, list[float | None]]], names: list[str],
               highlight: int | None = None, axis: str | None = None) -> str:
    """Bound ratio per layer (log10, 1e-6 .. 1e6) along the model's depth, one line per series
    (label, colour, values); the ratio-1 line dashed; ``highlight``: a layer index marked;
    ``axis``: the x axis's label (default: the layers)."""
    n = max(1, len(names))
    w, h, left, top, bottom = _W, 260, 60, 10, 30
    lo, hi = -6, 6
    x = lambda i: left + (w - left - 20) * (i / max(1, n - 1))  # noqa: E731
    y = lambda e: top + (h - top - bottom) * (hi - min(max(e, lo), hi)) / (hi - lo)  # noqa: E731
    out = [f'<svg class="plot" role="img" aria-label="bound ratio by depth" width="{w}" '
           f'height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">']
    for e in range(lo, hi + 1, 2):
        style = 'stroke="#c00" stroke-dasharray="4 3"' if e == 0 else 'stroke="#ddd"'
        out.append(f'<line x1="{left}" y1="{y(e):.1f}" x2="{w - 20}" y2="{y(e):.1f}" {style}/>'
                   f'<text x="{left - 6}" y="{y(e) + 4:.1f}" font-size="10" '
                   f'text-anchor="end">1e{e}</text>')
    if highlight is not None:
        out.append(f'<line x1="{x(highlight):.1f}" y1="{top}" x2="{x(highlight):.1f}" '
                   f'y2="{h - bottom}" stroke="#d62728" stroke-width="2"/>'
                   f'<text x="{x(highlight) + 4:.1f}" y="{top + 12}" font-size="11" '
                   f'fill="#d62728">{escape(names[highlight])}</text>')
    for k, (label, color, values) in enumerate(series):
        pts = [(x(i), y(_log10(v) if v else lo)) for i, v in enumerate(values) if v is not None]
        if pts:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        out.append(f'<text x="{left + 10 + 220 * k}" y="{h - 8}" font-size="11" '
                   f'fill="{color}">{escape(label)}</text>')
    axis = axis or f"layer (model order, {n})"
    out.append(f'<text x="{w - 20}" y="{h - 8}" font-size="10" text-anchor="end">'
               f'{escape(axis)}</text></svg>')
    return "".join(out)
