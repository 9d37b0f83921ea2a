"""Parts of the run record: options with secrets removed, versions, git revision."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from chaosbench.ground.redact import is_secret_name, redact


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if not is_secret_name(str(k))}
    return _plain(str(value))


def sanitize_options(options: dict[str, Any]) -> dict[str, Any]:
    """Locust options as plain JSON data: secret-named options dropped, the rest redacted."""
    return {
        name: _plain(value)
        for name, value in sorted(options.items())
        if not is_secret_name(name) and not callable(value)
    }


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("locust", "chaosbench", "gevent", "hdrhistogram", "influxdb-client"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _checkout() -> Path | None:
    """The repository chaosbench is imported from (an editable install), or None."""
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").is_file() and (root / ".git").exists():
        return root
    return None


def git_revision(cwd: Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of chaosbench's own checkout (with ``-dirty``), or None when it runs
    installed from a wheel (then the folder above the package is site-packages, maybe inside a
    project of the user's whose revision is not chaosbench's)."""
    root = cwd or _checkout()
    if root is None:
        return None
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=3
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=3,
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
