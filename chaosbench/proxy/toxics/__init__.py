"""The toxic catalogue: every module in this package registers one toxic type by name.

Adding a toxic is adding one module here (a ``Toxic`` subclass decorated with ``@register``);
no other file changes. With ``profile_name`` and ``Profile`` it is also a fault type of the
chaos profiles (docs/faults.md).
"""

from __future__ import annotations

from chaosbench.ground.registry import Registry
from chaosbench.proxy.toxics.base import Toxic

TOXICS: Registry[type[Toxic]] = Registry("toxic type", __name__, key=lambda cls: cls.type_name)
register = TOXICS.register


def catalogue() -> dict[str, type[Toxic]]:
    """All toxic types by name (imports every module of this package once)."""
    return TOXICS.all()


def extension_types() -> frozenset[str]:
    """Toxic types only the embedded proxy has (a real Toxiproxy refuses them)."""
    return frozenset(name for name, cls in catalogue().items() if cls.extension)


__all__ = ["TOXICS", "Toxic", "catalogue", "extension_types", "register"]
