"""A fuzz of the run-directory loader, through the analysis command.

Start from a real small run directory (the synthetic generator written by the recorder's own
writer), damage it (hypothesis, derandomized with a fixed number of examples, and a hand-written
corpus), and run ``python -m chaosbench.analysis`` on it (in this process). Every input gives
either a verdict (only inputs equivalent to the undamaged directory: the same verdict) or exit 2
with ONE bounded line naming the damaged file; never a traceback, a hang, or a verdict on a
damaged directory (a silent acceptance). The counts are printed at the end of the module
(``pytest -s``) and written to ``fuzz_rundir_counts.json`` in pytest's base temp directory.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaosbench.ground.text import MAX_LINE
from tests.analysis.rundirs import Outcome, copy_of, judge, set_field, write_small

PREFIX = "chaosbench: "
HANG_S = 60.0  # an input that takes longer is a hang (a small directory judges in ~2 s)
MAX_RSS_MB = 2048  # the whole test process, peak
EXAMPLES = 150

WINDOWS, JOURNAL, MARKS = "windows.jsonl", "journal.jsonl", "marks.jsonl"
META, INTEGRITY, INJECTIONS = "meta.json", "integrity.json", "injections.json"
JSONL = (WINDOWS, JOURNAL, MARKS)
JSON_FILES = (META, INTEGRITY, INJECTIONS)

#: Fields whose type the analysis relies on, per file, and a predicate "this value is wrong".
_INT = ("second", "count", "failures", "deadline_misses", "sum_us")
_STR = ("request_type", "phase")


def _not_int(v: Any) -> bool:
    return not isinstance(v, int) or isinstance(v, bool) or v < 0


def _not_number(v: Any) -> bool:
    return not isinstance(v, int | float) or isinstance(v, bool)


TYPED: dict[str, dict[str, Callable[[Any], bool]]] = {
    WINDOWS: {
        **dict.fromkeys(_INT, _not_int),
        **dict.fromkeys(_STR, lambda v: not isinstance(v, str)),
    },
    JOURNAL: {
        "start": _not_number,
        "kind": lambda v: v not in ("phase", "inject", "revert"),
        "burst": lambda v: v is not None and _not_int(v),
    },
    MARKS: {"wall": _not_number, "phase": lambda v: not isinstance(v, str)},
    META: {"start": _not_number, "format_version": lambda v: v != 1 or isinstance(v, bool)},
    INTEGRITY: {
        "orders_acknowledged": _not_int,
        "orders_lost": _not_int,
        "checked": lambda v: not isinstance(v, bool),
    },
}


@dataclass(slots=True)
class Tally:
    inputs: int = 0
    one_line_errors: int = 0
    verdicts: int = 0
    tracebacks: int = 0
    hangs: int = 0
    silent_acceptances: int = 0
    bad_messages: int = 0  # several lines, unbounded, or not naming the file


@dataclass(frozen=True, slots=True)
class Expect:
    """``refuse``: exit 2, one line naming ``names`` (any of them); else the intact verdict."""

    refuse: bool
    names: tuple[str, ...] = ()


REFUSE = {name: Expect(True, (name,)) for name in (*JSONL, *JSON_FILES)}
SAME = Expect(False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small(tmp_path_factory.mktemp("fuzz-template") / "run")


@pytest.fixture(scope="module")
def intact(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    o = judge(copy_of(template, tmp_path_factory.mktemp("intact") / "run"))
    assert o.code == 1 and o.out.startswith("chaosbench verdict: FAIL"), o.out + o.err
    return o


@pytest.fixture(scope="module")
def tally(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tally]:
    t = Tally()
    yield t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    counts = {**asdict(t), "peak_rss_mb": rss}
    path = tmp_path_factory.getbasetemp() / "fuzz_rundir_counts.json"
    path.write_text(json.dumps(counts, indent=2) + "\n")
    print(f"\nrun-directory fuzz: {json.dumps(counts)}", file=sys.__stderr__)


def check(run: Path, expect: Expect, intact: Outcome, tally: Tally, what: str) -> None:
    """Judge ``run``, count the outcome, and fail on anything but the expected one."""
    t0 = time.monotonic()
    o = judge(run)
    elapsed = time.monotonic() - t0
    tally.inputs += 1
    if elapsed > HANG_S:
        tally.hangs += 1
        pytest.fail(f"{what}: took {elapsed:.0f} s")
    if o.code is None or "Traceback" in o.err or "analysis failed" in o.err:
        tally.tracebacks += 1
        pytest.fail(f"{what}: traceback\n{o.err[-3000:]}")
    if o.code == 2 and not o.out:
        tally.one_line_errors += 1
        lines = o.error_lines
        ok = (
            len(lines) == 1
            and lines[0].startswith(PREFIX)
            and len(lines[0]) <= len(PREFIX) + MAX_LINE
            and (not expect.names or any(n in lines[0] for n in expect.names))
        )
        if not ok:
            tally.bad_messages += 1
            pytest.fail(f"{what}: not one bounded line naming {expect.names}: {o.err[:600]!r}")
        if not expect.refuse:
            pytest.fail(f"{what}: an undamaged-equivalent directory was refused: {lines[0]}")
        return
    tally.verdicts += 1
    if expect.refuse:
        tally.silent_acceptances += 1
        pytest.fail(f"{what}: damaged, yet judged: {o.out[:300]!r} {o.err[:300]!r}")
    head = o.out.splitlines()[0] if o.out else ""
    assert (o.code, head) == (intact.code, intact.out.splitlines()[0]), f"{what}: {o.out[:300]}"


# ---- mutations -------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def _write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(x + b"\n" for x in lines))


def _nest(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["9" * 200_000, "x" * 200_000, "1", "", "NaN"]),
    _nest,
    max_leaves=6,
)
BAD_UTF8 = st.sampled_from(
    [b"\xff", b"\xfe\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82", b"\x80"]
)


def _truncate(run: Path, data: st.DataObject) -> tuple[Expect, str]:
    name = data.draw(st.sampled_from([*JSONL, *JSON_FILES]), "file")
    path = run / name
    raw = path.read_bytes()
    if name in JSONL:
        offset = data.draw(st.integers(0, len(raw) - 1), "offset")
    else:
        offset = data.draw(st.integers(0, len(raw) - 2), "offset")
    path.write_bytes(raw[:offset])
    return REFUSE[name], f"truncate {name} at {offset}"


def _delete(run: Path, data: st.DataObject) -> tuple[Expect, str]:
    name = data.draw(st.sampled_from([*JSONL, *JSON_FILES]), "file")
    (run / name).unlink()
    return (SAME if name == INJECTIONS else REFUSE[name]), f"delete {name}"


def _duplicate(run: Path, data: st.DataObject) -> tuple[Expect, str]:
    path = run / WINDOWS
    lines = _read_lines(path)
    i = data.draw(st.integers(0, len(lines) - 1), "line")
    k = data.draw(st.sampled_from([1, 2, 7, 4000]), "times")
    _write_lines(path, lines[: i + 1] + [lines[i]] * k + lines[i + 1 :])
    return REFUSE[WINDOWS], f"duplicate {WINDOWS}:{i + 1} x{k}"


def _swap_type(run: Path, data: st.DataObject) -> tuple[Expect, str]:
    name = data.draw(st.sampled_from(sorted(TYPED)), "file")
    field = data.draw(st.sampled_from(sorted(TYPED[name])), "field")
    value = data.draw(JSON_VALUES.filter(TYPED[name][field]), "value")
    index = data.draw(st.integers(0, 200), "line") if name in JSONL else None
    set_field(run / name, index, field, value)
    return REFUSE[name], f"{name} line {index} {field} = {str(value)[:60]!r}"


def _bad_utf8(run: Path, data: st.DataObject) -> tuple[Expect, str]:
    name = data.draw(st.sampled_from([*JSONL, *JSON_FILES]), "file")
    path = run / name
    raw = path.read_bytes()
    offset = data.draw(st.integers(0, len(raw) - 1), "offset")
    path.write_bytes(raw[:offset] + data.draw(BAD_UTF8, "bytes") + raw[offset:])
    return REFUSE[name], f"bad UTF-8 in {name} at {offset}"


def _foreign(run: Path, data: st.DataObject) -> tuple[Expect, str]:
    name = data.draw(st.sampled_from([*JSONL, META, INTEGRITY]), "file")
    doc = data.draw(JSON_VALUES, "document")
    (run / name).write_text(json.dumps(doc) + "\n")
    return REFUSE[name], f"{name} replaced by {json.dumps(doc)[:60]}"


def _shuffle(run: Path, data: st.DataObject) -> tuple[Expect, str]:
    """Harmless: line order, JSON layout and key order do not change a run directory."""
    name = data.draw(st.sampled_from([*JSONL, META]), "file")
    path = run / name
    if name == META:
        obj = json.loads(path.read_text())
        path.write_text(json.dumps(dict(reversed(list(obj.items())))) + "\n")
        return SAME, "meta.json rewritten, keys reversed"
    lines = _read_lines(path)
    order = data.draw(st.permutations(range(len(lines))), "order")
    _write_lines(path, [lines[i] for i in order])
    return SAME, f"{name} lines shuffled"


MUTATIONS = [_truncate, _delete, _duplicate, _swap_type, _bad_utf8, _foreign, _shuffle]


@settings(
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=None,  # the hang bound is HANG_S, counted by ``check``
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzz(data: st.DataObject, template: Path, intact: Outcome, tally: Tally) -> None:
    mutate = data.draw(st.sampled_from(MUTATIONS), "mutation")
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        run = copy_of(template, Path(tmp) / "run")
        expect, what = mutate(run, data)
        check(run, expect, intact, tally, what)


# ---- the hand-written corpus -----------------------------------------------------------------


def _edit_line(name: str, index: int, fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def go(run: Path) -> None:
        lines = _read_lines(run / name)
        lines[index] = fn(lines[index])
        _write_lines(run / name, lines)

    return go


def _whole(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda run: (run / name).write_bytes(data)


def _times(name: str, k: int) -> Callable[[Path], None]:
    return lambda run: _write_lines(run / name, _read_lines(run / name) * k)


CORPUS: list[tuple[str, Callable[[Path], None], Expect]] = [
    ("windows truncated mid-line", _edit_line(WINDOWS, -1, lambda b: b[:-7]), REFUSE[WINDOWS]),
    (
        "no newline at the end",
        lambda r: (r / MARKS).write_bytes((r / MARKS).read_bytes()[:-1]),
        REFUSE[MARKS],
    ),
    ("journal deleted", lambda r: (r / JOURNAL).unlink(), REFUSE[JOURNAL]),
    ("marks deleted", lambda r: (r / MARKS).unlink(), REFUSE[MARKS]),
    ("windows deleted", lambda r: (r / WINDOWS).unlink(), REFUSE[WINDOWS]),
    ("meta deleted", lambda r: (r / META).unlink(), REFUSE[META]),
    ("integrity deleted", lambda r: (r / INTEGRITY).unlink(), REFUSE[INTEGRITY]),
    ("every window x4000", _times(WINDOWS, 4000), REFUSE[WINDOWS]),
    ("count as a string", lambda r: set_field(r / WINDOWS, 2, "count", "40"), REFUSE[WINDOWS]),
    ("second as a float", lambda r: set_field(r / WINDOWS, 2, "second", 1.8e9), REFUSE[WINDOWS]),
    ("errors as a list", lambda r: set_field(r / WINDOWS, 2, "errors", [1]), REFUSE[WINDOWS]),
    ("late as a list", lambda r: set_field(r / WINDOWS, 2, "late", [1]), REFUSE[WINDOWS]),
    ("late negative", lambda r: set_field(r / WINDOWS, 2, "late", -1), REFUSE[WINDOWS]),
    ("hdr_ok as a number", lambda r: set_field(r / WINDOWS, 2, "hdr_ok", 5), REFUSE[WINDOWS]),
    (
        "hdr_ok damaged",
        lambda r: set_field(r / WINDOWS, 2, "hdr_ok", "HISTFAAAAx"),
        REFUSE[WINDOWS],
    ),
    ("200 KB name", lambda r: set_field(r / WINDOWS, 0, "name", "n" * 200_000), REFUSE[WINDOWS]),
    (
        "5 MB line",
        lambda r: set_field(r / WINDOWS, 0, "faults", ["f" * 5_000_000]),
        REFUSE[WINDOWS],
    ),
    (
        "5000-digit count",
        _edit_line(
            WINDOWS, 0, lambda b: b.replace(b'"count":', b'"count":' + b"9" * 5000 + b',"x":', 1)
        ),
        REFUSE[WINDOWS],
    ),
    (
        "NaN failures",
        _edit_line(WINDOWS, 1, lambda b: b.replace(b'"failures":0', b'"failures":NaN', 1)),
        REFUSE[WINDOWS],
    ),
    (
        "Infinity start",
        lambda r: (r / META).write_text(
            (r / META).read_text().replace('"start": ', '"start": Infinity, "x": ', 1)
        ),
        REFUSE[META],
    ),
    (
        "1e999 in a mark",
        _edit_line(MARKS, 0, lambda b: b.replace(b'"wall":', b'"wall":1e999,"x":', 1)),
        REFUSE[MARKS],
    ),
    ("deep nesting", _whole(JOURNAL, b"[" * 200_000 + b"\n"), REFUSE[JOURNAL]),
    (
        "bad UTF-8 in meta",
        lambda r: (r / META).write_bytes(b"\xff" + (r / META).read_bytes()),
        REFUSE[META],
    ),
    (
        "UTF-16 journal",
        lambda r: (r / JOURNAL).write_bytes((r / JOURNAL).read_text().encode("utf-16")),
        REFUSE[JOURNAL],
    ),
    ("format version 2", lambda r: set_field(r / META, None, "format_version", 2), REFUSE[META]),
    (
        "format version 200 KB",
        lambda r: set_field(r / META, None, "format_version", "9" * 200_000),
        REFUSE[META],
    ),
    ("foreign format", lambda r: set_field(r / META, None, "format", "k6-summary"), REFUSE[META]),
    ("end before start", lambda r: set_field(r / META, None, "end", 1.0), REFUSE[META]),
    ("end as a string", lambda r: set_field(r / META, None, "end", "later"), REFUSE[META]),
    (
        "recorded windows off by one",
        lambda r: set_field(
            r / META, None, "recorded", {"samples": 1, "late_samples": 0, "windows": 1}
        ),
        REFUSE[WINDOWS],
    ),
    ("meta is a list", _whole(META, b"[1, 2, 3]\n"), REFUSE[META]),
    ("meta is a Locust stats file", _whole(META, b'{"stats": [], "errors": {}}\n'), REFUSE[META]),
    (
        "journal of another tool",
        _whole(JOURNAL, b'{"chaoslib-version": "1.4", "steps": []}\n'),
        REFUSE[JOURNAL],
    ),
    (
        "a window from another run",
        _edit_line(WINDOWS, 0, lambda b: b.replace(b'"phase":"', b'"phase":"x', 1)),
        REFUSE[WINDOWS],
    ),
    ("journal emptied", _whole(JOURNAL, b""), Expect(True, (JOURNAL, MARKS))),
    ("marks emptied", _whole(MARKS, b""), REFUSE[MARKS]),
    (
        "a mark removed",
        lambda r: _write_lines(r / MARKS, _read_lines(r / MARKS)[1:]),
        REFUSE[MARKS],
    ),
    (
        "unknown phase in a mark",
        _edit_line(MARKS, 1, lambda b: b.replace(b'"phase":"', b'"phase":"q', 1)),
        REFUSE[MARKS],
    ),
    (
        "journal kind unknown",
        _edit_line(JOURNAL, 0, lambda b: b.replace(b'"kind":"phase"', b'"kind":"stage"', 1)),
        REFUSE[JOURNAL],
    ),
    (
        "journal unknown field",
        _edit_line(JOURNAL, 0, lambda b: b.replace(b"{", b'{"zz":1,', 1)),
        REFUSE[JOURNAL],
    ),
    (
        "integrity counter a string",
        lambda r: set_field(r / INTEGRITY, None, "orders_lost", "2"),
        REFUSE[INTEGRITY],
    ),
    (
        "injections not counts",
        _whole(INJECTIONS, b'{"injections": {"a": "x"}}\n'),
        REFUSE[INJECTIONS],
    ),
    (
        "blank line",
        lambda r: (r / WINDOWS).write_bytes(b"\n" + (r / WINDOWS).read_bytes()),
        REFUSE[WINDOWS],
    ),
    ("windows reversed", lambda r: _write_lines(r / WINDOWS, _read_lines(r / WINDOWS)[::-1]), SAME),
    ("injections deleted", lambda r: (r / INJECTIONS).unlink(), SAME),
]


@pytest.mark.parametrize(("what", "mutate", "expect"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(
    what: str,
    mutate: Callable[[Path], None],
    expect: Expect,
    template: Path,
    intact: Outcome,
    tally: Tally,
    tmp_path: Path,
) -> None:
    run = copy_of(template, tmp_path / "run")
    mutate(run)
    check(run, expect, intact, tally, what)


def test_memory_stayed_bounded(tally: Tally) -> None:
    """Runs last in this module: the whole process stayed under its memory bound."""
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    assert rss_mb < MAX_RSS_MB, f"peak RSS {rss_mb} MB after {tally.inputs} inputs"
    assert tally.tracebacks == tally.hangs == tally.silent_acceptances == tally.bad_messages == 0
