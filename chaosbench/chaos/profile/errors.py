"""Turning validation problems into one-line ProfileError messages that name the field.

The message is bounded (``ground.text``: a huge or self-nested value is shown in a few dozen
characters) and its secrets are masked (``ground.redact``: a DSN's password never shows).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from chaosbench.ground.errors import ProfileError
from chaosbench.ground.redact import redact
from chaosbench.ground.text import did_you_mean, short_repr, shorten


def field_path(loc: Sequence[str | int]) -> str:
    """``("faults", 2, "latency_ms")`` -> ``faults[2].latency_ms``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


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
        hint = did_you_mean(key, choices)
        return ProfileError(redact(shorten(f"{source}: {field_path(loc)}: unknown key{hint}")))
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if first["type"] not in ("value_error", "missing") and "input" in first:
        msg = f"{msg} (got {short_repr(first['input'])})"
    return ProfileError(redact(shorten(f"{source}: {field_path(loc)}: {msg}")))


__all__ = ["did_you_mean", "field_path", "from_validation"]
