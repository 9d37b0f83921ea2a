"""A fuzz of the profile and gate loaders: every input either loads a VALID config or raises the
project's error, whose message is one bounded line naming the file; within a time and a memory
bound; never anything else (no traceback, no hang, no silent acceptance).

Inputs: the corpus of nasty files in tests/chaos/fuzz_corpus.py, and three hypothesis strategies
(derandomized, a fixed number of examples): token soup of YAML syntax, a valid config with one
value replaced or one key added, and a valid config cut short and followed by random bytes.
The counts are printed at the end of the module (``-rA`` or the terminal summary).
"""

from __future__ import annotations

import math
import resource
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaosbench.analysis.gate import MAX_SAMPLES, GateConfig, load_gate
from chaosbench.chaos.faults import catalogue
from chaosbench.chaos.profile import Profile, load_profile
from chaosbench.chaos.profile.durations import MAX_DURATION_S
from chaosbench.chaos.profile.model import MAX_BURSTS, MAX_TOTAL_S
from chaosbench.ground.errors import ChaosbenchError
from tests.chaos.fuzz_corpus import GATES, GOOD_GATE, GOOD_PROFILE, PROFILES

TIME_BOUND_S = 2.0  # a bound against hangs (a load takes milliseconds), not a speed test
MEMORY_BOUND = 200 << 20
MESSAGE_BOUND = 500
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Tally:
    inputs: int = 0
    errors: int = 0
    valid: int = 0
    tracebacks: int = 0
    hangs: int = 0
    memory: int = 0
    silent: int = 0
    by_loader: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        per = ", ".join(f"{k} {v}" for k, v in sorted(self.by_loader.items()))
        return (
            f"loader fuzz: {self.inputs} inputs ({per}): {self.errors} one-line errors, "
            f"{self.valid} valid loads, {self.tracebacks} tracebacks, {self.hangs} hangs, "
            f"{self.memory} over the memory bound, {self.silent} silent acceptances"
        )


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    t = Tally()
    yield t
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(t.line())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    catalogue()  # imports every fault module (psycopg, redis, ...): not the loader's time
    return tmp_path_factory.mktemp("fuzz")


# -- what a valid config is ---------------------------------------------------------------------
def profile_problems(p: Profile) -> list[str]:
    ph = p.phases
    out = []
    for name in ("warmup", "baseline", "burst_on", "burst_off", "cooldown"):
        v = getattr(ph, name)
        if not (math.isfinite(v) and 0 <= v <= MAX_DURATION_S):
            out.append(f"phases.{name} = {v!r}")
    if not 0 <= ph.bursts <= MAX_BURSTS:
        out.append(f"phases.bursts = {ph.bursts}")
    if not ph.total <= MAX_TOTAL_S:
        out.append(f"total {ph.total}")
    for f in p.faults:
        if not (math.isfinite(f.start) and math.isfinite(f.duration) and f.duration >= 0):
            out.append(f"{f.where}: start {f.start} duration {f.duration}")
        if not all(math.isfinite(x) and 0 <= x <= 1 for x in f.intensities):
            out.append(f"{f.where}: intensities {f.intensities}")
        if not set(f.bursts) <= set(range(1, ph.bursts + 1)):
            out.append(f"{f.where}: bursts {f.bursts}")
    return out


def _floats(value: Any) -> Iterator[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _floats(v)
    elif isinstance(value, list):
        for v in value:
            yield from _floats(v)


def gate_problems(g: GateConfig) -> list[str]:
    dumped = g.model_dump()
    out = [f"non-finite {x}" for x in _floats(dumped) if not math.isfinite(x)]
    if not 1 <= g.min_samples <= MAX_SAMPLES:
        out.append(f"min_samples {g.min_samples}")
    for name, crit in dumped["criteria"].items():
        if "phases" in crit and not crit["phases"]:
            out.append(f"criteria.{name}.phases is empty")
    return out


def _load_profile(path: Path) -> list[str]:
    return profile_problems(load_profile(path, seed=1))


def _load_gate(path: Path) -> list[str]:
    return gate_problems(load_gate(str(path)))


LOADERS: dict[str, Callable[[Path], list[str]]] = {"profile": _load_profile, "gate": _load_gate}


def attempt(tally: Tally, loader: str, path: Path, expected: str | None = "") -> str:
    """Load ``path``; count and check the outcome. ``expected``: None, the file is valid; a
    string, it must be refused with that in the message ("" for a fuzz input: either way)."""
    tally.inputs += 1
    tally.by_loader[loader] = tally.by_loader.get(loader, 0) + 1
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, the peak so far
    t0 = time.perf_counter()
    problems: list[str] | None = None
    error: str | None = None
    try:
        problems = LOADERS[loader](path)
    except ChaosbenchError as exc:
        error = str(exc)
    except BaseException as exc:  # the fuzz's very point: anything else is a defect
        tally.tracebacks += 1
        raise AssertionError(f"{loader} {path.name}: {type(exc).__name__}: {exc!s:.300}") from exc
    finally:
        elapsed = time.perf_counter() - t0
        # how far this input raised the process's peak (tracemalloc would slow pydantic 100x)
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) << 10
    if elapsed > TIME_BOUND_S:
        tally.hangs += 1
        raise AssertionError(f"{loader} {path.name}: took {elapsed:.1f}s")
    if peak > MEMORY_BOUND:
        tally.memory += 1
        raise AssertionError(f"{loader} {path.name}: raised the peak memory by {peak >> 20} MB")
    if error is None:
        assert problems is not None
        if problems or expected:
            tally.silent += 1
            raise AssertionError(f"{loader} {path.name}: accepted: {problems or expected!r}")
        tally.valid += 1
        return "valid"
    tally.errors += 1
    assert "\n" not in error and "\r" not in error, error
    assert len(error) <= MESSAGE_BOUND, (len(error), error[:200])
    assert str(path) in error, error
    if expected is None:
        raise AssertionError(f"{loader} {path.name}: a valid file was refused: {error}")
    assert expected in error, (expected, error)
    return error


# -- the corpus ---------------------------------------------------------------------------------
CASES = [("profile", n, *v) for n, v in PROFILES.items()] + [
    ("gate", n, *v) for n, v in GATES.items()
]


@pytest.mark.parametrize(
    ("loader", "name", "data", "expected"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_corpus(
    tally: Tally, workdir: Path, loader: str, name: str, data: bytes, expected: str | None
) -> None:
    path = workdir / f"{loader}-{name}.yaml"
    path.write_bytes(data)
    attempt(tally, loader, path, expected)


def test_a_missing_file_and_a_directory_are_one_line_errors(tally: Tally, workdir: Path) -> None:
    for loader in LOADERS:
        assert "cannot read" in attempt(tally, loader, workdir / "missing.yaml", "cannot read")
        assert "cannot read" in attempt(tally, loader, workdir, "cannot read")


# -- hypothesis ---------------------------------------------------------------------------------
TOKENS = [
    *" \n\n  :-[]{},&*!|>'\"#?%@`.",
    *"0123456789abcxyz_",
    "- ", ": ", "\n  ", "\n    ", "phases", "faults", "warmup", "bursts", "type", "latency",
    "route", "r1", "criteria", "min_samples", "limit", "phases: ", "faults:\n  - ", ".inf",
    "-.inf", ".nan", "1e400", "1.0e+400", "&a ", "*a", "<<: ", "!!int ", "!!float ", "!!str ",
    "!!binary ", "!!python/object ", "---\n", "...\n", "~", "null", "true", "999.1.1.1",
    "10s", "25h", "-1", "\t", "\\", "\x00", "\ufeff", "é",
]  # fmt: skip
NASTY_VALUES = [
    ".inf", "-1", "1e400", "25h", "-1s", "", "999.1.1.1", "http://127.0.0.1:6379", "garbage",
    "x" * 1000, "1" * 400, [], {}, None, True, [None], {"a": None},
]  # fmt: skip
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(NASTY_VALUES),
    st.lists(st.integers(min_value=-5, max_value=20), max_size=4),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _replaced(data: Any, path: tuple[Any, ...], value: Any, add: str | None) -> Any:
    if not path:
        if add is not None and isinstance(data, dict):
            return {**data, add: value}
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {**data, head: _replaced(data[head], rest, value, add)}
    copy = list(data)
    copy[head] = _replaced(copy[head], rest, value, add)
    return copy


GOOD = {"profile": GOOD_PROFILE, "gate": GOOD_GATE}


def _write(workdir: Path, loader: str, data: bytes) -> Path:
    path = workdir / f"hyp-{loader}.yaml"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("loader", list(LOADERS))
@FUZZ
@given(soup=st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
def test_fuzz_token_soup(tally: Tally, workdir: Path, loader: str, soup: str) -> None:
    attempt(tally, loader, _write(workdir, loader, soup.encode("utf-8", "surrogatepass")))


@pytest.mark.parametrize("loader", list(LOADERS))
@FUZZ
@given(data=st.data(), value=values, add=st.one_of(st.none(), st.text(max_size=8)))
def test_fuzz_one_value_replaced(
    tally: Tally, workdir: Path, loader: str, data: st.DataObject, value: Any, add: str | None
) -> None:
    doc = yaml.safe_load(GOOD[loader])
    path = data.draw(st.sampled_from([(), *_paths(doc)]))
    text = yaml.safe_dump(_replaced(doc, path, value, add), allow_unicode=True)
    attempt(tally, loader, _write(workdir, loader, text.encode("utf-8", "surrogatepass")))


@pytest.mark.parametrize("loader", list(LOADERS))
@FUZZ
@given(cut=st.integers(min_value=0, max_value=400), junk=st.binary(max_size=200))
def test_fuzz_cut_and_random_bytes(
    tally: Tally, workdir: Path, loader: str, cut: int, junk: bytes
) -> None:
    attempt(tally, loader, _write(workdir, loader, GOOD[loader].encode()[:cut] + junk))


# -- the command line ---------------------------------------------------------------------------
def test_validate_command_on_every_nasty_profile(tmp_path: Path) -> None:
    from tests.conftest import PYTHON, ROOT

    items = list(PROFILES.items())
    for start in range(0, len(items), 6):  # a few processes at a time (2 shared cores)
        procs = []
        for name, (data, expected) in items[start : start + 6]:
            path = tmp_path / f"{name}.yaml"
            path.write_bytes(data)
            cmd = [PYTHON, "-m", "chaosbench.chaos", "validate", str(path)]
            proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            procs.append((name, path, expected, proc))
        for name, path, expected, proc in procs:
            out, err = proc.communicate(timeout=120)
            assert "Traceback" not in out + err, (name, err[-2000:])
            if expected is None:
                assert proc.returncode == 0, (name, err)
                assert out.startswith(f"{path}: ok"), (name, out)
                continue
            assert proc.returncode == 2, (name, proc.returncode, out, err)
            lines = err.splitlines()
            assert len(lines) == 1, (name, err[:1000])
            assert lines[0].startswith(f"chaosbench: {path}: "), (name, lines[0][:300])
            assert expected in lines[0] and len(lines[0]) <= MESSAGE_BOUND + 20, (name, lines[0])
