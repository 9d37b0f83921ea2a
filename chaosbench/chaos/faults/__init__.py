"""The fault catalogue: every module in this package is imported, and each registers its fault.

Adding a fault is adding one module here; no other file changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from chaosbench.chaos.faults.base import Fault, FaultContext, FaultSettings, register, registry

_loaded = False


def catalogue() -> dict[str, type[Fault[Any]]]:
    """All registered fault types by name (imports every module of this package once)."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_") and info.name != "base":
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return dict(registry())


__all__ = ["Fault", "FaultContext", "FaultSettings", "catalogue", "register"]
