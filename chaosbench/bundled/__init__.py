"""The profiles, gates and locustfiles that come with chaosbench, found with importlib.resources.

In a checkout they are the repository's ``profiles/``, ``gates/`` and ``locustfiles/`` (the source
of truth); setup.py maps them to the packages ``chaosbench.bundled.profiles``, ``.gates`` and
``.locustfiles``, so that the wheel carries them and an editable install finds them in place.

    resolve_profile("market-maker")  # a path when it exists, else the bundled profile NAME
    default_profile(), default_gate(), locustfiles_dir()
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from chaosbench.ground.errors import ChaosbenchError

_PACKAGE = __name__
DEFAULT_PROFILE = "default"
DEFAULT_GATE = "default"


def _folder(part: str) -> Path:
    root = files(f"{_PACKAGE}.{part}")
    if not isinstance(root, Path):  # a zip import: locust and the proxy need real files
        raise ChaosbenchError(f"the bundled {part} are not plain files ({root}): install unzipped")
    return root


def profiles_dir() -> Path:
    return _folder("profiles")


def gates_dir() -> Path:
    return _folder("gates")


def locustfiles_dir() -> Path:
    """The folder of the bundled locustfiles (``locust -f`` it: every user against the SUT)."""
    return _folder("locustfiles")


def _names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


def profile_names() -> list[str]:
    return _names(profiles_dir())


def gate_names() -> list[str]:
    return _names(gates_dir())


def _find(folder: Path, value: str) -> Path | None:
    """``NAME``, ``NAME.yaml`` or ``<folder name>/NAME.yaml`` of a YAML file in ``folder``."""
    name = value.removeprefix(f"{folder.name}/").removesuffix(".yaml")
    if not name or "/" in name or name.startswith("."):
        return None
    path = folder / f"{name}.yaml"
    return path if path.is_file() else None


def profile_path(value: str) -> Path | None:
    """The bundled profile ``value`` names (``default``, ``default.yaml``,
    ``profiles/default.yaml``), or None."""
    return _find(profiles_dir(), value)


def gate_path(value: str) -> Path | None:
    """The bundled gate ``value`` names (``loose``, ``gates/loose.yaml``), or None."""
    return _find(gates_dir(), value)


def default_profile() -> Path:
    path = profile_path(DEFAULT_PROFILE)
    if path is None:
        raise ChaosbenchError(
            f"the bundled profile {DEFAULT_PROFILE!r} is missing in {profiles_dir()}"
        )
    return path


def default_gate() -> Path:
    path = gate_path(DEFAULT_GATE)
    if path is None:
        raise ChaosbenchError(f"the bundled gate {DEFAULT_GATE!r} is missing in {gates_dir()}")
    return path


def _resolve(value: str, folder: Path) -> Path:
    path = Path(value)
    if path.exists():
        return path
    return _find(folder, value) or path


def resolve_profile(value: str) -> Path:
    """``value`` as a path when it exists, else the bundled profile it names, else the path as
    given (so that reading it fails naming the user's own spelling)."""
    return _resolve(value, profiles_dir())


def resolve_gate(value: str) -> Path:
    """Like resolve_profile, for a gate."""
    return _resolve(value, gates_dir())
