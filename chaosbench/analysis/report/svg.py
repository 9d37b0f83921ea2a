"""Inline SVG line charts (no scripts, no CDN): time on x, one or more series on y."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

import numpy as np

W, H = 1100, 260
ML, MR, MT, MB = 64, 16, 28, 34  # margins


@dataclass(slots=True)
class Line:
    label: str
    color: str
    ys: np.ndarray  # NaN breaks the line


@dataclass(slots=True)
class Shade:
    x0: float
    x1: float
    label: str
    color: str = "#f4a261"


@dataclass(slots=True)
class Mark:
    x: float
    label: str
    color: str = "#2a9d8f"


@dataclass(slots=True)
class Chart:
    title: str
    unit: str
    xs: np.ndarray  # seconds since the run's start
    lines: list[Line]
    shades: list[Shade] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    band: tuple[float, float] | None = None  # baseline band (y range)
    #: Logarithmic y axis: ``None`` chooses one when the band would be thinner than
    #: ``MIN_BAND_PX`` on a linear axis (a 1.3 ms band under a 302 ms burst).
    log: bool | None = None


#: The thinnest band a chart draws on a linear axis before it switches to a log axis.
MIN_BAND_PX = 8.0


def _nice(v: float) -> float:
    if v <= 0 or not math.isfinite(v):
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    return next(m * e for m in (1, 2, 2.5, 5, 10) if m * e >= v)


def _thin(band: tuple[float, float], y_max: float, ph: float) -> bool:
    """The band would be drawn thinner than ``MIN_BAND_PX`` on a linear axis to ``y_max``."""
    lo, hi = band
    return (min(hi, y_max) - lo) / y_max * ph < MIN_BAND_PX


def _fmt(v: float) -> str:
    return f"{v:.0f}" if v >= 10 or v == 0 else f"{v:.3g}"


def render(c: Chart) -> str:
    xs = c.xs.astype(float)
    x_max = float(xs.max()) if xs.size else 1.0
    x_max = max(x_max, max((s.x1 for s in c.shades), default=0.0), 1.0)
    finite = [y[np.isfinite(y)] for y in (ln.ys for ln in c.lines)]
    y_top = max((float(f.max()) for f in finite if f.size), default=1.0)
    if c.band:
        y_top = max(y_top, c.band[1])
    y_max = _nice(y_top * 1.05)
    pw, ph = W - ML - MR, H - MT - MB
    log = c.log
    if log is None:
        log = bool(c.band) and c.band is not None and _thin(c.band, y_max, ph)
    # The axis starts a decade at most below the band (seconds faster than the baseline's
    # fastest sit on the bottom edge), else below the fastest second.
    lows = [float(f[f > 0].min()) for f in finite if (f > 0).any()]
    if c.band and c.band[0] > 0:
        lows = [c.band[0]]
    y_min = 10 ** math.floor(math.log10(min(lows))) if log and lows else 0.0
    log = log and y_min > 0
    y_max = 10 ** math.ceil(math.log10(y_top * 1.05)) if log else y_max

    def px(x: float) -> float:
        return ML + pw * x / x_max

    def py(y: float) -> float:
        if log:
            f = (math.log10(min(max(y, y_min), y_max)) - math.log10(y_min)) / (
                math.log10(y_max) - math.log10(y_min)
            )
            return MT + ph * (1 - f)
        return MT + ph * (1 - min(y, y_max) / y_max)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
        f'height="{H}" role="img" aria-label="{escape(c.title)}">',
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>',
        f'<text x="{ML}" y="18" font-size="14" font-weight="bold">{escape(c.title)}</text>',
    ]
    for s in c.shades:
        out.append(
            f'<rect x="{px(s.x0):.1f}" y="{MT}" width="{max(px(s.x1) - px(s.x0), 1):.1f}" '
            f'height="{ph}" fill="{s.color}" fill-opacity="0.25"><title>{escape(s.label)}'
            f"</title></rect>"
        )
        out.append(
            f'<text x="{px(s.x0) + 3:.1f}" y="{MT + 12}" font-size="10" fill="#9c4a0c">'
            f"{escape(s.label)}</text>"
        )
    if c.band:
        lo, hi = c.band
        out.append(
            f'<rect x="{ML}" y="{py(hi):.1f}" width="{pw}" height="{max(py(lo) - py(hi), 1):.1f}" '
            'fill="#2a9d8f" fill-opacity="0.15" stroke="#2a9d8f" stroke-dasharray="4 3">'
            "<title>baseline band</title></rect>"
        )
    decades = round(math.log10(y_max / y_min)) if log else 0
    ticks = (
        [y_min * 10**i for i in range(decades + 1)] if log else [y_max * i / 4 for i in range(5)]
    )
    for y in ticks:
        out.append(
            f'<line x1="{ML}" x2="{W - MR}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#ddd"/>'
            f'<text x="{ML - 6}" y="{py(y) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{_fmt(y)}</text>"
        )
    step = _nice(x_max / 10)
    t = 0.0
    while t <= x_max:
        out.append(
            f'<text x="{px(t):.1f}" y="{H - MB + 14}" font-size="10" text-anchor="middle">'
            f"{t:.0f}s</text>"
        )
        t += step
    unit = f"{c.unit} (log)" if log else c.unit
    out.append(f'<text x="10" y="{MT + ph / 2:.0f}" font-size="10">{escape(unit)}</text>')
    for ln in c.lines:
        out.append(_path(xs, ln, px, py))
    for m in c.marks:
        out.append(
            f'<line x1="{px(m.x):.1f}" x2="{px(m.x):.1f}" y1="{MT}" y2="{MT + ph}" '
            f'stroke="{m.color}" stroke-width="2" stroke-dasharray="6 3"/>'
            f'<text x="{px(m.x) + 3:.1f}" y="{MT + ph - 4}" font-size="10" fill="{m.color}">'
            f"{escape(m.label)}</text>"
        )
    lx = ML + 8
    for ln in c.lines:
        out.append(
            f'<rect x="{lx}" y="{H - 14}" width="12" height="4" fill="{ln.color}"/>'
            f'<text x="{lx + 16}" y="{H - 9}" font-size="10">{escape(ln.label)}</text>'
        )
        lx += 24 + 7 * len(ln.label)
    out.append(
        f'<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="none" stroke="#999"/></svg>'
    )
    return "\n".join(out)


def _path(xs: np.ndarray, ln: Line, px: object, py: object) -> str:
    assert callable(px) and callable(py)
    d: list[str] = []
    pen_up = True
    prev = None
    for x, y in zip(xs, ln.ys, strict=True):
        # A missing second, or a gap in time, lifts the pen.
        if not math.isfinite(y) or (prev is not None and x - prev > 1.5):
            pen_up = True
        if math.isfinite(y):
            d.append(f"{'M' if pen_up else 'L'}{px(x):.1f},{py(y):.1f}")
            pen_up = False
        prev = x
    return (
        f'<path d="{" ".join(d)}" fill="none" stroke="{ln.color}" stroke-width="1.5">'
        f"<title>{escape(ln.label)}</title></path>"
    )
