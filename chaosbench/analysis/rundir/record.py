"""The run record: what ``meta.json`` holds, as one typed value written by the writer and read by
the loader (documented in docs/run-directory.md).

``build_run_record`` is the one place a run's record is put together (the Locust wiring calls it
at init); the recording session sets ``start`` at test start, and ``end``, the Locust totals and
the recorded counts at the end.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from chaosbench.analysis.rundir import format as fmt
from chaosbench.analysis.rundir.meta import git_revision, sanitize_options, versions
from chaosbench.ground.errors import RunDirError
from chaosbench.ground.redact import redact

Mode = Literal["local", "master"]
#: Plain JSON data (options, a gate config): free-form by nature, written as given.
JsonObject = dict[str, Any]


@dataclass(slots=True)
class FileDigest:
    """A config file the run used: path, sha256 and text (secrets masked); None when unreadable."""

    path: str
    sha256: str | None
    text: str | None
    config: JsonObject | None = None  # the gate's validated config (gates only)


@dataclass(slots=True)
class RecordingInfo:
    grace_s: float
    tick_s: float


@dataclass(slots=True)
class LocustTotals:
    num_requests: int
    num_failures: int


@dataclass(slots=True)
class RecordedCounts:
    samples: int
    late_samples: int
    windows: int


@dataclass(slots=True)
class RunRecord:
    run_id: str
    #: Wall clock of test start; set by the recording session when the test starts.
    start: float = 0.0
    end: float | None = None  # None: the run did not finish (crashed or killed)
    #: The seed the chaos scheduler used (``--chaos-seed``, the profile's, or the random one it
    #: drew); None when chaos was off. ``--chaos-seed <seed>`` repeats the run's plan.
    seed: int | None = None
    profile: FileDigest | None = None
    gate: FileDigest | None = None
    baseline_run: str | None = None
    options: JsonObject = field(default_factory=dict)  # Locust options, secrets removed
    versions: dict[str, str] = field(default_factory=dict)
    git_revision: str | None = None
    mode: Mode = "local"
    host: str | None = None
    influx: dict[str, str] | None = None  # url, org, bucket (never the token)
    recording: RecordingInfo | None = None
    locust: LocustTotals | None = None
    recorded: RecordedCounts | None = None
    chaos_stopped: str | None = None  # why the kill switch stopped the chaos, if it did
    #: Keys this version does not know (a newer writer, a synthetic run): kept as read.
    extra: JsonObject = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        data = asdict(self)
        extra = data.pop("extra")
        return {"format": fmt.FORMAT, "format_version": fmt.FORMAT_VERSION, **extra, **data}

    @classmethod
    def from_json(cls, data: Any, where: Path | str) -> RunRecord:
        """The record in ``data`` (parsed meta.json); RunDirError names the key that is wrong."""
        if not isinstance(data, dict) or data.get("format") != fmt.FORMAT:
            raise RunDirError(f"{where}: not chaosbench run metadata (no 'format: {fmt.FORMAT}')")
        version = data.get("format_version")
        if version != fmt.FORMAT_VERSION:
            raise RunDirError(
                f"{where}: run directory format version {version!r} is not supported "
                f"(this chaosbench reads version {fmt.FORMAT_VERSION})"
            )
        if not isinstance(data.get("run_id"), str) or not _is_number(data.get("start")):
            raise RunDirError(f"{where}: 'run_id' and 'start' are required")
        r = _Reader(data, str(where))
        known = {f.name for f in fields(cls)} | {"format", "format_version"}
        return cls(
            run_id=data["run_id"],
            start=float(data["start"]),
            end=r.number("end"),
            seed=r.integer("seed"),
            profile=r.digest("profile"),
            gate=r.digest("gate"),
            baseline_run=r.string("baseline_run"),
            options=r.mapping("options") or {},
            versions={str(k): str(v) for k, v in (r.mapping("versions") or {}).items()},
            git_revision=r.string("git_revision"),
            mode="master" if data.get("mode") == "master" else "local",
            host=r.string("host"),
            influx={str(k): str(v) for k, v in m.items()} if (m := r.mapping("influx")) else None,
            recording=r.parts("recording", RecordingInfo, float),
            locust=r.parts("locust", LocustTotals, int),
            recorded=r.parts("recorded", RecordedCounts, int),
            chaos_stopped=r.string("chaos_stopped"),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class _Reader:
    """Typed access to the optional keys of meta.json, one clear error per wrong key."""

    def __init__(self, data: JsonObject, where: str) -> None:
        self.data, self.where = data, where

    def _bad(self, key: str, expected: str) -> RunDirError:
        return RunDirError(f"{self.where}: {key!r} must be {expected}, got {self.data[key]!r:.60}")

    def _get(self, key: str, kinds: type | tuple[type, ...], expected: str) -> Any:
        v = self.data.get(key)
        if v is not None and (not isinstance(v, kinds) or isinstance(v, bool)):
            raise self._bad(key, f"{expected} or null")
        return v

    def number(self, key: str) -> float | None:
        v = self._get(key, (int, float), "a number")
        return None if v is None else float(v)

    def integer(self, key: str) -> int | None:
        return self._get(key, int, "an integer")

    def string(self, key: str) -> str | None:
        return self._get(key, str, "a string")

    def mapping(self, key: str) -> JsonObject | None:
        return self._get(key, dict, "an object")

    def digest(self, key: str) -> FileDigest | None:
        v = self.mapping(key)
        if v is None:
            return None
        sha, text, config = v.get("sha256"), v.get("text"), v.get("config")
        if (
            not isinstance(v.get("path"), str)
            or not isinstance(sha, str | None)
            or not isinstance(text, str | None)
            or not isinstance(config, dict | None)
        ):
            raise self._bad(key, "an object with path, sha256, text (and config)")
        return FileDigest(v["path"], sha, text, config)

    def parts(self, key: str, cls: type[Any], kind: type[int] | type[float]) -> Any:
        """A small record of numbers (all ``kind``), e.g. ``locust: {num_requests: 3, ...}``."""
        v = self.mapping(key)
        if v is None:
            return None
        names = [f.name for f in fields(cls)]
        if not all(_is_number(v.get(n)) for n in names):
            raise self._bad(key, f"an object with numbers {', '.join(names)}")
        return cls(**{n: kind(v[n]) for n in names})


def build_run_record(
    *,
    run_id: str,
    seed: int | None,
    profile_path: str | None,
    gate_path: str | None,
    gate_config: JsonObject | None,
    baseline: Path | None,
    options: dict[str, Any],
    mode: Mode,
    host: str | None,
    influx: dict[str, str] | None,
    recording: RecordingInfo,
) -> RunRecord:
    """The record of a run about to start: what it runs with, nothing measured yet.

    ``options`` are Locust's parsed options (secrets are removed here); ``seed`` is the seed the
    chaos scheduler uses (None when chaos is off).
    """
    profile = file_digest(profile_path)
    gate = file_digest(gate_path)
    if gate is not None:
        gate.config = gate_config
    return RunRecord(
        run_id=run_id,
        seed=seed,
        profile=profile,
        gate=gate,
        baseline_run=str(baseline) if baseline is not None else None,
        options=sanitize_options(options),
        versions=versions(),
        git_revision=git_revision(),
        mode=mode,
        host=host,
        influx=influx,
        recording=recording,
    )


def file_digest(path: str | None) -> FileDigest | None:
    """Path, sha256 and text of a config file (profile, gate), or None when not given."""
    if not path or path == "none":
        return None
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError:
        return FileDigest(str(p), None, None)
    text = redact(data.decode("utf-8", errors="replace"))
    return FileDigest(str(p), hashlib.sha256(data).hexdigest(), text)
