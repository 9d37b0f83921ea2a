"""HDR statistics: exact agreement with hdrh, summaries and bootstrap intervals on known data."""

from __future__ import annotations

import numpy as np
import pytest

from chaosbench.analysis.hdr import dense, from_values_us, percentiles, to_sparse
from chaosbench.analysis.model import new_histogram
from chaosbench.analysis.stats import (
    Scope,
    WindowTable,
    percentile,
    percentile_ratio,
    rate,
    rng_for,
)
from chaosbench.analysis.synthetic import KeySpec, SyntheticSpec, generate


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_match_hdrh_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(np.log(15_000), 1.0, 5_000).astype(np.int64) + 1
    ref = new_histogram()
    for v in values.tolist():
        ref.record_value(v)
    fast = from_values_us(values)
    assert fast.get_total_count() == ref.get_total_count() == values.size
    assert fast.get_max_value() == ref.get_max_value()
    block = dense([[to_sparse(fast)]])
    ps = (0.1, 1, 50, 90, 95, 99, 99.9, 99.99, 100, 150)
    expected = [ref.get_value_at_percentile(p) for p in ps]
    # the one HDR module, both ways: the statistics' merged blocks and the recorder's percentiles
    assert [block.merged_percentile(p) for p in ps] == expected
    assert percentiles(ref, ps) == expected
    assert percentiles(fast, ps) == expected


def test_percentiles_of_small_and_empty_histograms_match_hdrh() -> None:
    for values in ([1], [5, 5, 5], [1, 3_599_999_999], list(range(1, 2000, 7))):
        h = new_histogram()
        for v in values:
            h.record_value(v)
        ps = (1, 25, 50, 75, 99, 100)
        assert percentiles(h, ps) == [h.get_value_at_percentile(p) for p in ps], values
    assert percentiles(new_histogram(), (50, 99)) == [0, 0]


def test_merging_windows_equals_one_histogram() -> None:
    rng = np.random.default_rng(7)
    parts = [rng.integers(1, 500_000, 300) for _ in range(6)]
    whole = from_values_us(np.concatenate(parts))
    block = dense([[to_sparse(from_values_us(p)) for p in parts]])
    for p in (50, 95, 99):
        assert block.merged_percentile(p) == whole.get_value_at_percentile(p)
    rows = dense([[to_sparse(from_values_us(p))] for p in parts])
    per_row = rows.row_percentiles(95)
    assert per_row.tolist() == [from_values_us(p).get_value_at_percentile(95) for p in parts]


def test_summary_reflects_the_known_truth() -> None:
    spec = SyntheticSpec(keys=[KeySpec("PG", "q", 50, 10.0, sigma=0.05)], added_ms=80.0, seed=4)
    run = generate(spec)
    table = WindowTable(run)
    from chaosbench.analysis.stats import summarize

    stats = {(s.phase, s.scope): s for s in summarize(run, table)}
    base, burst = stats["baseline", "PG"], stats["burst1", "PG"]
    assert base.p50_ms == pytest.approx(10.0, rel=0.05)
    assert burst.p50_ms == pytest.approx(90.0, rel=0.03)
    assert burst.p50_ms - base.p50_ms == pytest.approx(80.0, rel=0.03)
    assert base.throughput == pytest.approx(50, rel=0.1)
    assert base.error_rate == 0.0
    assert stats["baseline", "overall"].count == base.count


def test_bootstrap_interval_covers_the_truth_and_is_seeded() -> None:
    run = generate(SyntheticSpec(seed=5))
    table = WindowTable(run)
    cur = table.select(Scope("PG"), ["burst1"])
    ref = table.select(Scope("PG"), ["baseline"])
    kw = {"resamples": 500, "confidence": 0.95}
    iv = percentile_ratio(cur, ref, 95, rng=rng_for(0, "a"), **kw)
    assert iv.low <= iv.value <= iv.high
    assert iv.low > 5  # 4 ms median + 80 ms: far above 1
    again = percentile_ratio(cur, ref, 95, rng=rng_for(0, "a"), **kw)
    assert again == iv
    aa = percentile_ratio(ref, ref, 95, rng=rng_for(0, "b"), **kw)
    assert aa.low <= 1.0 <= aa.high
    p = percentile(ref, 95, rng=rng_for(0, "c"), **kw)
    assert p.low <= p.value <= p.high


def test_rate_interval() -> None:
    rng = rng_for(1, "rate")
    count = np.full(40, 100.0)
    fails = np.full(40, 3.0)
    iv = rate(fails, count, rng=rng, resamples=300, confidence=0.95)
    assert iv.value == pytest.approx(0.03)
    assert iv.low == pytest.approx(0.03) and iv.high == pytest.approx(0.03)


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_bootstrap_equals_merging_every_bin(seed: int) -> None:
    """The bootstrap restricts itself to the bins that can hold the percentile: same answer."""
    from chaosbench.analysis.hdr import percentile_of_cum
    from chaosbench.analysis.stats.bootstrap import _resampled_percentiles, _weights

    keys = [KeySpec("PG", "q", 7, 4.0, sigma=1.0), KeySpec("HTTP", "x", 80, 20.0)]
    run = generate(SyntheticSpec(seed=seed, burst_error_rate=0.1, keys=keys))
    table = WindowTable(run)
    for scope in (Scope("PG"), Scope()):
        for phase in ("baseline", "burst1", "recovery2"):
            hist = table.select(scope, [phase]).hist
            for p in (50, 95, 99, 99.9, 100):
                fast = _resampled_percentiles(hist, p, np.random.default_rng(5), 200)
                w = _weights(np.random.default_rng(5), hist.counts.shape[0], 200)
                full = percentile_of_cum(np.cumsum(w @ hist.counts, axis=1), p, hist.values)
                assert np.array_equal(fast, full), (scope, phase, p)


@pytest.mark.parametrize("n", [2, 3, 8, 9, 61])
def test_resampled_medians_have_the_bootstrap_distribution(n: int) -> None:
    """The order-statistic draw of a resample's median has the distribution np.median over
    resampled rows has: odd and even n, and ties (values on a 0.5 grid)."""
    from chaosbench.analysis.stats.bootstrap import resampled_medians

    x = np.round(np.random.default_rng(n).lognormal(0.0, 1.0, n) * 2) / 2
    draws = 100_000
    exact = resampled_medians(x, np.random.default_rng(1), draws)
    plain = np.median(x[np.random.default_rng(2).integers(0, n, size=(draws, n))], axis=1)
    assert exact.shape == (draws,) and np.isfinite(exact).all()
    assert set(np.unique(exact)) <= set(np.unique(plain)) | {float(np.median(x))}
    # every value's frequency within 5 binomial standard errors (of the pair's difference)
    values = np.union1d(exact, plain)
    a = (exact[:, None] == values).mean(axis=0)
    b = (plain[:, None] == values).mean(axis=0)
    se = np.sqrt((a * (1 - a) + b * (1 - b)) / draws) + 1e-9
    assert (np.abs(a - b) <= 5 * se).all(), (values, a, b)
    q = [2.5, 50, 97.5]
    assert np.percentile(exact, q) == pytest.approx(np.percentile(plain, q), abs=0.51)


def test_t_quantile_is_scipys() -> None:
    from scipy.special import ndtr, stdtrit

    from chaosbench.analysis.stats.tdist import normal_sf, t_quantile

    for nu in [*range(1, 40), 59, 60, 299, 599, 3599]:
        for conf in (0.5, 0.9, 0.95, 0.99, 0.998, 0.9999):
            q = 1 - (1 - conf) / 2
            assert t_quantile(q, nu) == pytest.approx(float(stdtrit(nu, q)), rel=1e-10)
    for z in (0.0, 0.5, 1.96, 3.0, 6.0):
        assert normal_sf(z) == pytest.approx(float(ndtr(-z)), rel=1e-13)
    with pytest.raises(ValueError):
        t_quantile(0.3, 5)


@pytest.mark.parametrize("n", [1, 2, 7, 600])
def test_medians_of_draws_are_np_medians_bit_for_bit(n: int) -> None:
    from chaosbench.analysis.stats.bootstrap import medians_of_draws

    rng = np.random.default_rng(n)
    x = np.round(rng.normal(3.0, 2.0, n), 1)  # ties
    draws = rng.integers(0, n, size=(300, n))
    assert np.array_equal(medians_of_draws(x, draws), np.median(x[draws], axis=1))
    x[0] = np.nan  # not ranked: the plain median
    assert np.array_equal(medians_of_draws(x, draws), np.median(x[draws], axis=1), equal_nan=True)
