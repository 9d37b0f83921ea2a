"""--pacing-rate and the results options' floats: any value is a finite, bounded number or one
line naming the option (nan, inf and 1e400 included: a nan rate lost every sample)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaosbench.analysis.recording.settings import ResultsSettings
from chaosbench.ground.errors import OptionError
from chaosbench.users.options import options_from_parsed

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-1", "0", "2.5", "", " ", "x", "1e-400"]),
    st.text(max_size=12),
)


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "1e400", "-1", float("nan"), -0.5])
def test_pacing_rate_refuses_non_finite_and_negative(raw: object) -> None:
    with pytest.raises(OptionError) as err:
        options_from_parsed(SimpleNamespace(pacing_rate=raw))
    msg = str(err.value)
    assert msg.startswith("--pacing-rate: ") and "\n" not in msg
    assert "must be 0 (closed model) or more, and finite" in msg or "is not a number" in msg


@FUZZ
@given(raw=NUMBERS)
def test_pacing_rate_fuzz(raw: object) -> None:
    try:
        rate = options_from_parsed(SimpleNamespace(pacing_rate=raw)).pacing_rate
    except OptionError as exc:
        assert str(exc).startswith("--pacing-rate: ") and "\n" not in str(exc)
        assert len(str(exc)) <= 200
        return
    assert math.isfinite(rate) and rate >= 0


def results(**values: object) -> ResultsSettings:
    return ResultsSettings.from_options(SimpleNamespace(sut_pg_dsn="none", **values))


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("window_grace", float("nan"), "--window-grace nan: must be in (0, 600] seconds"),
        ("window_grace", float("inf"), "--window-grace inf"),
        ("influx_drain_timeout", float("nan"), "--influx-drain-timeout nan"),
        ("influx_drain_timeout", float("inf"), "--influx-drain-timeout inf"),
        ("influx_timeout", float("nan"), "--influx-timeout nan: must be in (0, 3600] seconds"),
        ("influx_timeout", float("inf"), "--influx-timeout inf"),
        ("influx_timeout", 0.0, "--influx-timeout 0.0"),
    ],
)
def test_results_floats_are_finite(option: str, value: float, expected: str) -> None:
    with pytest.raises(OptionError) as err:
        results(**{option: value})
    assert expected in str(err.value) and "\n" not in str(err.value)


@FUZZ
@given(
    grace=st.floats(allow_nan=True, allow_infinity=True),
    drain=st.floats(allow_nan=True, allow_infinity=True),
    timeout=st.floats(allow_nan=True, allow_infinity=True),
)
def test_results_floats_fuzz(grace: float, drain: float, timeout: float) -> None:
    try:
        s = results(window_grace=grace, influx_drain_timeout=drain, influx_timeout=timeout)
    except OptionError as exc:
        assert str(exc).startswith("--") and "\n" not in str(exc)
        return
    assert 0 < s.grace <= 600 and 0 <= s.drain_timeout <= 3600
    assert math.isfinite(timeout) and 0 < timeout <= 3600
