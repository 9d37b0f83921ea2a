"""One-line messages: the first line of an error, bounded in length, and a did-you-mean hint.

Every boundary that turns an exception into a line for a person (the scheduler's journal, the
loaders, the options, the command lines) formats it with ``one_line``; every "unknown name"
message takes its hint from ``did_you_mean``.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from typing import Any

from chaosbench.ground.errors import ChaosbenchError

#: Longest one-line message, in characters: a 200 KB value must not make a 200 KB line.
MAX_LINE = 300
ELLIPSIS = "…"

#: Classes whose name adds nothing to their message ("ValueError: bad port" says no more than
#: "bad port"). Any ChaosbenchError is also shown without its class name.
_PLAIN = frozenset(
    {"Exception", "RuntimeError", "ValueError", "OSError", "ConnectionError", "TimeoutError"}
)

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlong = 40
for _attr in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque", "maxarray"):
    setattr(_REPR, _attr, 6)


def shorten(text: str, limit: int = MAX_LINE) -> str:
    """The first non-empty line of ``text``, stripped, at most ``limit`` characters."""
    first = ""
    for line in text[: limit * 4 + 1024].splitlines():  # never split a huge text whole
        if line.strip():
            first = line.strip()
            break
    return first if len(first) <= limit else first[: limit - 1].rstrip() + ELLIPSIS


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` bounded in depth, items and length (safe on huge or self-nested data)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a broken __repr__: say what it is instead
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def one_line(exc: BaseException, limit: int = MAX_LINE) -> str:
    """The first line of ``exc``'s message, at most ``limit`` characters, with the class name
    only where it adds information: never for our own errors or for generic classes
    (ValueError, OSError, ...), never twice, and alone when the message is empty."""
    name = type(exc).__name__
    try:
        msg = shorten(str(exc), limit)
    except Exception:  # a broken __str__
        msg = ""
    if not msg:
        return name
    ours = isinstance(exc, ChaosbenchError)
    if ours or name in _PLAIN or msg.startswith(name) or f"{name}:" in msg:
        return msg
    return shorten(f"{name}: {msg}", limit)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
