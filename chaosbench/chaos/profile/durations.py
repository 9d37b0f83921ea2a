"""Durations in profiles: ``10s``, ``2m``, ``500ms``, ``1h``, ``1m30s`` or a number of seconds."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator

from chaosbench.ground.yamlload import excerpt

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


#: The longest single duration of a profile (a phase, a fault's start or duration): 24 h.
MAX_DURATION_S = 24 * 3600.0


def _shown(value: object) -> str:
    return excerpt(value) if isinstance(value, str) else repr(value)[:40]


def parse_duration(value: object) -> float:
    """Seconds from ``value``; ValueError with a short reason when it is not a duration, is
    not finite, is negative or is longer than ``MAX_DURATION_S`` (24h)."""
    wanted = f"expected a duration like 10s, 2m or 500ms, got {_shown(value)}"
    if isinstance(value, bool):
        raise ValueError(wanted)
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for m in _PART.finditer(text):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise ValueError(wanted)
    else:
        raise ValueError(wanted)
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be a finite number of seconds, got {_shown(value)}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {_shown(value)}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"a duration is at most 24h ({MAX_DURATION_S:g}s), got {_shown(value)}")
    return seconds


def format_duration(seconds: float) -> str:
    """``90`` -> ``1m30s``; ``0.5`` -> ``500ms``; used by ``python -m chaosbench.chaos plan``."""
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    frac = seconds - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "")
    if s or frac or not out:
        out += f"{s + frac:g}s"
    return out


#: A pydantic field type: seconds as float, accepting the forms above.
Duration = Annotated[float, BeforeValidator(parse_duration)]
