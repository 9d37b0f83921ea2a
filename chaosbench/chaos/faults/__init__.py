"""The fault catalogue: every module in this package is imported, and each registers its fault;
``proxied.py`` registers one fault per toxic of the fault proxy that declares a profile name.

Adding a fault is adding one module (here, or a toxic in ``chaosbench/proxy/toxics/``); no other
file changes. See docs/faults.md.
"""

from __future__ import annotations

from typing import Any

from chaosbench.chaos.faults.base import FAULTS, Fault, FaultContext, FaultSettings, register


def catalogue() -> dict[str, type[Fault[Any]]]:
    """All registered fault types by name (imports every module of this package once)."""
    return FAULTS.all()


__all__ = ["FAULTS", "Fault", "FaultContext", "FaultSettings", "catalogue", "register"]
