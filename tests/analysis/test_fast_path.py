"""The analysis's data path (decoding, window table, blocks, bootstrap) gives exactly what the
straightforward path gave before it was made fast, and the reports read only results.

The straightforward path is kept here as the oracle: histograms decoded by ``hdrh`` and merged
with ``HdrHistogram.add``, dense rows x bins blocks, and the bootstrap as one
(resamples x seconds) @ (seconds x bins) product scanned bin by bin. The whole verdict and the
four reports of a small synthetic run directory are compared byte for byte, with the current
statistics on both sides (so the test holds whatever the criteria decide).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chaosbench.analysis import hdr
from chaosbench.analysis.hdr import DenseBlock, Sparse, decode_sparse, from_values_us, to_sparse
from chaosbench.analysis.recording.window import ClosedWindow
from chaosbench.analysis.rundir import loader
from chaosbench.analysis.stats import Scope, SecondBlock, WindowTable, bootstrap
from chaosbench.analysis.synthetic import KeySpec, SyntheticSpec, generate, write_run_dir
from chaosbench.analysis.verdict import conclude

REPORTS = ("findings.json", "junit.xml", "report.md", "report.html")


# -- the straightforward path (what the analysis computed before it was made fast) ----------


def _ref_load_windows(run_dir: Path, *_checks: object) -> list:  # type: ignore[type-arg]
    return loader.merge_windows(loader.read_windows(run_dir))


def _ref_dense(block: DenseBlock) -> tuple[np.ndarray, np.ndarray]:
    return block.counts, block.values


def _ref_merged_percentile(self: DenseBlock, pct: float) -> float:
    counts, values = _ref_dense(self)
    if counts.size == 0:
        return float("nan")
    return float(hdr.percentile_of_cum(np.cumsum(counts.sum(axis=0)), pct, values))


def _ref_row_percentiles(self: DenseBlock, pct: float) -> np.ndarray:
    counts, values = _ref_dense(self)
    if counts.shape[1] == 0:
        return np.full(counts.shape[0], np.nan)
    return hdr.percentile_of_cum(np.cumsum(counts, axis=1), pct, values)


def _ref_max_value(self: DenseBlock) -> float:
    counts, values = _ref_dense(self)
    used = np.flatnonzero(counts.sum(axis=0))
    return float(values[used[-1]]) if used.size else float("nan")


def _ref_percentiles(
    hist: DenseBlock, pct: float, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    counts, values = _ref_dense(hist)
    n = counts.shape[0]
    w = bootstrap._weights(rng, n, resamples)
    if counts.shape[1] == 0:
        return np.full(resamples, np.nan)
    cum = np.cumsum(counts, axis=1)
    totals = cum[:, -1]
    live = totals > 0
    if not live.any():
        return np.full(resamples, np.nan)
    r_lo = np.maximum(np.ceil(pct * totals / 100.0 - 0.5), 1)
    r_hi = np.minimum(np.ceil(pct * totals / 100.0 + 0.5), totals)
    lo = max(int((cum[live] < r_lo[live, None]).sum(axis=1).min()) - 1, 0)
    hi = min(int((cum[live] < r_hi[live, None]).sum(axis=1).max()) + 1, counts.shape[1] - 1)
    below = cum[:, lo - 1] if lo > 0 else np.zeros(n)
    part = np.cumsum(w @ counts[:, lo : hi + 1], axis=1) + (w @ below)[:, None]
    t = np.maximum(np.floor(pct * (w @ totals) / 100.0 + 0.5), 1)
    idx = np.minimum(lo + (part < t[:, None]).sum(axis=1), counts.shape[1] - 1)
    return np.where(w @ totals > 0, values[idx].astype(np.float64), np.nan)


def _ref_select(
    self: WindowTable,
    scope: Scope,
    phases: tuple[str, ...] | None,
    span: tuple[int, int] | None,
) -> SecondBlock:
    """Rows of the scope, phases and span grouped per second in Python, merged by ``dense``."""
    by_sec: dict[int, list] = {}  # type: ignore[type-arg]
    for r in self.rows:
        if phases is not None and r.key.phase not in phases:
            continue
        if span is not None and not (span[0] <= r.second < span[1]):
            continue
        if scope.matches(r.key):
            by_sec.setdefault(r.second, []).append(r)
    secs = sorted(by_sec)
    groups = [by_sec[s] for s in secs]
    return SecondBlock(
        seconds=np.array(secs, dtype=np.int64),
        count=np.array([sum(r.count for r in g) for g in groups], dtype=np.float64),
        failures=np.array([sum(r.failures for r in g) for g in groups], dtype=np.float64),
        misses=np.array([sum(r.misses for r in g) for g in groups], dtype=np.float64),
        hist=hdr.dense([[r.hist for r in g] for g in groups]),
    )


def _use_reference_path(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(loader, "load_windows", _ref_load_windows)
    mp.setattr(WindowTable, "_select", _ref_select)
    mp.setattr(DenseBlock, "merged_percentile", _ref_merged_percentile)
    mp.setattr(DenseBlock, "row_percentiles", _ref_row_percentiles)
    mp.setattr(DenseBlock, "max_value", _ref_max_value)
    mp.setattr(bootstrap, "_resampled_percentiles", _ref_percentiles)


# -- fixtures -----------------------------------------------------------------------------


def _spec() -> SyntheticSpec:
    """Small but with every shape the one-hour run has: several kinds and names, unaffected
    keys, failures, bursts that regress and recover."""
    return SyntheticSpec(
        baseline_s=40,
        burst_on_s=12,
        burst_off_s=25,
        bursts=2,
        keys=[
            KeySpec("HTTP", "POST /orders", 60, 20.0, error_rate=0.01),
            KeySpec("PG", "select order", 40, 4.0),
            KeySpec("REDIS", "GET quote", 40, 1.0, affected=False),
            KeySpec("WS", "quote", 80, 2.0, sigma=0.8),
        ],
        burst_error_rate=0.05,
        seed=11,
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fast") / "run"
    write_run_dir(generate(_spec()), path)
    _add_late_and_failed_lines(path)
    return path


def _add_late_and_failed_lines(path: Path) -> None:
    """Late deltas with success and failure histograms for some windows: lines the loader
    must merge per (second, key)."""
    lines = (path / "windows.jsonl").read_text().splitlines()
    rng = np.random.default_rng(3)
    extra = []
    for line in lines[::7]:
        obj = json.loads(line)
        ok = rng.integers(1_000, 900_000, 5)
        err = rng.integers(1_000, 3_000_000, 2)
        extra.append(
            ClosedWindow(
                second=obj["second"],
                request_type=obj["request_type"],
                name=obj["name"],
                phase=obj["phase"],
                count=7,
                failures=2,
                deadline_misses=1,
                deadline_misses_failed=1,
                sum_us=int(ok.sum()),
                sum_us_failed=int(err.sum()),
                hist_ok=from_values_us(ok),
                hist_err=from_values_us(err),
                errors={"TimeoutError": 2},
                late=1,
            )
        )
    with (path / "windows.jsonl").open("a", encoding="utf-8") as fh:
        for cw in extra:
            fh.write(json.dumps(cw.to_json(), separators=(",", ":")) + "\n")
    meta = json.loads((path / "meta.json").read_text())  # the writer counts every line it writes
    meta["recorded"]["windows"] = len(lines) + len(extra)
    (path / "meta.json").write_text(json.dumps(meta))


# -- tests --------------------------------------------------------------------------------


def test_loaded_windows_equal_hdrh_decoding_and_merging(run_dir: Path) -> None:
    fast = loader.load_windows(run_dir)
    ref = _ref_load_windows(run_dir)
    assert len(fast) == len(ref) > 0
    late = 0
    for a, b in zip(fast, ref, strict=True):
        assert (a.second, a.key, a.count, a.failures, a.deadline_misses, a.errors) == (
            b.second,
            b.key,
            b.count,
            b.failures,
            b.deadline_misses,
            b.errors,
        )
        sa, sb = to_sparse(a.histogram), to_sparse(b.histogram)
        assert sa.index.tolist() == sb.index.tolist() and sa.count.tolist() == sb.count.tolist()
        assert a.histogram.get_value_at_percentile(99) == b.histogram.get_value_at_percentile(99)
        late += a.errors.get("TimeoutError", 0) >= 2
    assert late > 10  # the merged lines were there


def test_verdict_and_reports_are_byte_identical_to_the_straightforward_path(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_out, ref_out = tmp_path / "fast", tmp_path / "ref"
    fast_code = conclude(run_dir, None, None, fast_out)
    with monkeypatch.context() as mp:
        _use_reference_path(mp)
        ref_code = conclude(run_dir, None, None, ref_out)
    assert fast_code == ref_code
    findings = json.loads((fast_out / "findings.json").read_text())
    assert findings  # something was judged
    for name in REPORTS:
        assert (fast_out / name).read_bytes() == (ref_out / name).read_bytes(), name


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_bisection_bootstrap_equals_the_scan(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(int(rng.integers(2, 40))):
        spread = float(rng.choice([0.1, 1.0, 3.0]))
        values = rng.lognormal(np.log(5_000), spread, int(rng.integers(0, 400)))
        rows.append([to_sparse(from_values_us(values.astype(np.int64) + 1))])
    block = hdr.dense(rows)
    for pct in (50.0, 95.0, 99.0, 99.9):
        fast = bootstrap._draw_percentiles(block, pct, np.random.default_rng(seed), 500)
        ref = _ref_percentiles(block, pct, np.random.default_rng(seed), 500)
        assert np.array_equal(fast, ref, equal_nan=True), pct
        assert np.isfinite(fast).any()


def test_bisection_stays_exact_beyond_float32() -> None:
    """Counts whose resampled sums pass 2**24 take the float64 path, still exact."""
    big = [Sparse(np.array([100, 5_000, 9_000]), np.array([4_000_000, 300_000, 9_000]))]
    small = [Sparse(np.array([120, 6_000]), np.array([3_000_000, 200_000]))]
    block = hdr.dense([big, small, big, small, big])
    for pct in (50.0, 95.0, 99.0):
        fast = bootstrap._draw_percentiles(block, pct, np.random.default_rng(9), 300)
        ref = _ref_percentiles(block, pct, np.random.default_rng(9), 300)
        assert np.array_equal(fast, ref), pct


def test_samples_asked_again_are_not_drawn_again_and_move_the_generator_on() -> None:
    rows = [[to_sparse(from_values_us(np.arange(1, 200) * (i + 1)))] for i in range(10)]
    block = hdr.dense(rows)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    first = bootstrap._resampled_percentiles(block, 95.0, a, 400)
    again = bootstrap._resampled_percentiles(block, 95.0, b, 400)
    assert np.array_equal(again, first)
    assert len(block.samples) == 1  # kept once, not drawn again
    assert a.bit_generator.state == b.bit_generator.state  # as if drawn
    fresh = _ref_percentiles(block, 95.0, np.random.default_rng(5), 400)
    assert np.array_equal(first, fresh)


def test_reports_render_from_results_without_calling_the_statistics(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaosbench.analysis import regression
    from chaosbench.analysis.gate import load_gate
    from chaosbench.analysis.report import write_reports
    from chaosbench.analysis.rundir import load
    from chaosbench.analysis.stats import table
    from chaosbench.analysis.verdict import evaluate

    v = evaluate(load(run_dir), load_gate(None), None)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a report went back into the statistics")

    monkeypatch.setattr(regression, "compare", forbidden)
    monkeypatch.setattr(bootstrap, "_resampled_percentiles", forbidden)
    monkeypatch.setattr(table.WindowTable, "select", forbidden)
    monkeypatch.setattr(DenseBlock, "row_percentiles", forbidden)
    paths = write_reports(tmp_path, v)
    assert "Recovery scorecard" in paths.markdown.read_text()
    assert "p95 of WS" in paths.html.read_text()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not base64!", "not base64"),
        ("SElTVEZBQUFBQUE=", "cookie"),
    ],
)
def test_decode_rejects_what_is_not_a_histogram(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        decode_sparse(text)


def test_decode_rejects_a_foreign_layout() -> None:
    from hdrh.histogram import HdrHistogram

    h = HdrHistogram(1, 60_000_000, 2)
    h.record_value(1234)
    with pytest.raises(ValueError, match="HDR layout"):
        decode_sparse(h.encode().decode("ascii"))
