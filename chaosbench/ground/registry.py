"""One registry class for the catalogues (fault types, toxic types): register by name, and a
package scan that imports every module of the package whose name does not start with ``_``,
once, so that adding an entry is adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind by name (``what`` names the kind in errors: "fault type").

    ``package``: the package whose modules register entries when imported (scanned on the first
    ``all()`` / ``get()``). ``key``: an entry's name.
    """

    def __init__(self, what: str, package: str, key: Callable[[T], str]) -> None:
        self.what = what
        self.package = package
        self.key = key
        self._entries: dict[str, T] = {}
        self._scanned = False

    def register(self, entry: T) -> T:
        """Add ``entry`` under its name (usable as a class decorator). The same entry twice is
        fine (a module imported again); another entry under a taken name is an error."""
        name = self.key(entry)
        old = self._entries.get(name)
        if old is not None and old is not entry:
            raise RuntimeError(
                f"{self.what} {name!r} registered twice: {_where(old)} and {_where(entry)}"
            )
        self._entries[name] = entry
        return entry

    def scan(self) -> None:
        """Import every non-underscore module of ``package`` (once)."""
        if self._scanned:
            return
        pkg = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")
        self._scanned = True

    def all(self) -> dict[str, T]:
        """Every entry by name (a copy), after the package scan."""
        self.scan()
        return dict(self._entries)

    def get(self, name: str) -> T | None:
        self.scan()
        return self._entries.get(name)


def _where(entry: object) -> str:
    module = getattr(entry, "__module__", None)
    qualname = getattr(entry, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(entry)
