"""The toxic catalogue: every module in this package registers one toxic type by name.

Adding a toxic is adding one module here (a ``Toxic`` subclass decorated with ``@register``);
no other file changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TypeVar

from chaosbench.proxy.toxics.base import Toxic

_REGISTRY: dict[str, type[Toxic]] = {}
_loaded = False

T = TypeVar("T", bound=type[Toxic])


def register(cls: T) -> T:
    name = cls.type_name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise RuntimeError(f"toxic type {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def catalogue() -> dict[str, type[Toxic]]:
    """All toxic types by name (imports every module of this package once)."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_") and info.name != "base":
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return dict(_REGISTRY)


__all__ = ["Toxic", "catalogue", "register"]
