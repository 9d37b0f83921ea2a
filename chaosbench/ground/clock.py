"""The harness's own clocks. Client-side wall timestamps go through ``wall()`` so that the
clock-skew fault can shift them (the clients' view of time, not the machine's)."""

from __future__ import annotations

import time

_skew = 0.0


def wall() -> float:
    """time.time() as the harness's clients see it (shifted by the active clock skew)."""
    return time.time() + _skew


def set_skew(seconds: float) -> None:
    global _skew
    _skew = float(seconds)


def skew() -> float:
    return _skew
