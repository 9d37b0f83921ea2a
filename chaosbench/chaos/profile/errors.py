"""Turning validation problems into one-line ProfileError messages that name the field."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from chaosbench.ground.errors import ProfileError


def field_path(loc: Sequence[str | int]) -> str:
    """``("faults", 2, "latency_ms")`` -> ``faults[2].latency_ms``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names of the model found by walking ``loc`` from ``model`` (for did-you-mean)."""
    current: type[BaseModel] | None = model
    annotation: Any = None
    for part in loc:
        if isinstance(part, int):
            continue
        if current is not None and part in current.model_fields:
            annotation = current.model_fields[part].annotation
            current = _model_in(annotation)
            if current is None and get_origin(annotation) is dict:
                current = _model_in(get_args(annotation)[-1])
                annotation = None
        elif current is not None and annotation is None:
            continue  # a dict key (route name)
        else:
            return []
    return list(current.model_fields) if current is not None else []


def from_validation(
    source: str,
    err: ValidationError,
    model: type[BaseModel],
    prefix: Sequence[str | int] = (),
    extra_keys: Iterable[str] = (),
) -> ProfileError:
    """The first problem of ``err`` as ``<source>: <field>: <problem>``."""
    errors = err.errors()
    # An unknown key is usually a misspelt known one: say that rather than "field required".
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [*prefix, *first["loc"]]
    if first["type"] == "extra_forbidden":
        key = str(first["loc"][-1])
        choices = [*_fields_at(model, first["loc"][:-1]), *extra_keys]
        return ProfileError(f"{source}: {field_path(loc)}: unknown key{did_you_mean(key, choices)}")
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if first["type"] not in ("value_error", "missing") and "input" in first:
        shown = repr(first["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg = f"{msg} (got {shown})"
    return ProfileError(f"{source}: {field_path(loc)}: {msg}")
