"""A scatter plot as a small hand-written SVG (labelled points on two axes from 0), for the results pages:
matplotlib is no dependency, and a page needs only a few points (F1 against cost per sentence)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 60, 190, 40, 50  # margins; the right one holds the points' labels
TICKS = 5


def nice_top(value: float) -> float:
    """The smallest of 1, 2, 5 or 10 times a power of ten that is >= value (1 for nothing positive)."""
    if not value > 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value * (1 - 1e-9))


def _num(v: float) -> str:
    return f"{v:.3g}"


def scatter_svg(points: Sequence[tuple[str, float, float]], *, x_label: str, y_label: str, title: str = "") -> str:
    """An SVG document: one labelled dot per (label, x, y), axes from 0 to a round number above the
    largest value. Points with a value that is not finite are left out (a cost nobody recorded)."""
    shown = [(label, x, y) for label, x, y in points if math.isfinite(x) and math.isfinite(y)]
    x_top = nice_top(max((x for _, x, _ in shown), default=0.0))
    y_top = nice_top(max((y for _, _, y in shown), default=0.0))
    x_lo, y_lo = min([0.0, *(x for _, x, _ in shown)]), min([0.0, *(y for _, _, y in shown)])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return round(LEFT + (x - x_lo) / (x_top - x_lo) * plot_w, 1)

    def py(y: float) -> float:
        return round(TOP + plot_h - (y - y_lo) / (y_top - y_lo) * plot_h, 1)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for i in range(TICKS + 1):  # grid lines and tick labels
        xv, yv = x_lo + (x_top - x_lo) * i / TICKS, y_lo + (y_top - y_lo) * i / TICKS
        out.append(f'<line x1="{px(xv)}" y1="{TOP}" x2="{px(xv)}" y2="{TOP + plot_h}" stroke="#ddd"/>')
        out.append(f'<line x1="{LEFT}" y1="{py(yv)}" x2="{LEFT + plot_w}" y2="{py(yv)}" stroke="#ddd"/>')
        out.append(f'<text x="{px(xv)}" y="{TOP + plot_h + 16}" text-anchor="middle">{_num(xv)}</text>')
        out.append(f'<text x="{LEFT - 6}" y="{py(yv) + 4}" text-anchor="end">{_num(yv)}</text>')
    out += [
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>',
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2})">{escape(y_label)}</text>',
    ]
    if not shown:
        out.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle">no points</text>')
    for label, x, y in shown:
        out.append(f'<circle cx="{px(x)}" cy="{py(y)}" r="4" fill="#1f77b4"><title>{escape(label)}</title></circle>')
        out.append(f'<text x="{px(x) + 7}" y="{py(y) + 4}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
