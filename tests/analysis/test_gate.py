"""The gate config: defaults, the shipped YAML files, and one-line errors for bad configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosbench.analysis.gate import GateConfig, gate_from_dict, load_gate
from chaosbench.ground.errors import GateConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_come_from_the_seeds() -> None:
    g = load_gate(None)
    c = g.criteria
    assert c.p95_regression.limit == 0.15
    assert c.p99_ceiling.limit == 250
    assert c.deadline_misses.limit == 0.02
    assert c.recovery_time.limit == 30
    assert c.orders.limit == 0
    assert c.stream_data_loss.limit == 0.05
    assert 0 < c.error_rate.limit < 1
    assert g.inconclusive_fails is False  # noise must not fail a CI job by default
    names = [n for n, _ in g.enabled()]
    assert "ws_duplicates" not in names and "p95_regression" in names


def test_default_yaml_spells_out_the_defaults() -> None:
    g = load_gate(str(ROOT / "gates/default.yaml"))
    assert g.model_dump(exclude={"source"}) == GateConfig().model_dump(exclude={"source"})


@pytest.mark.parametrize("name", ["tight", "loose"])
def test_example_gates_load(name: str) -> None:
    g = load_gate(str(ROOT / f"gates/{name}.yaml"))
    assert g.source.endswith(f"{name}.yaml")


def test_tight_is_tighter_than_loose() -> None:
    t, lo = load_gate(str(ROOT / "gates/tight.yaml")), load_gate(str(ROOT / "gates/loose.yaml"))
    assert t.criteria.p95_regression.limit < lo.criteria.p95_regression.limit
    assert t.criteria.recovery_time.limit < lo.criteria.recovery_time.limit


def test_override_merges_with_defaults(tmp_path: Path) -> None:
    p = tmp_path / "g.yaml"
    p.write_text("criteria:\n  p99_ceiling: {limit: 100}\ninconclusive_fails: false\n")
    g = load_gate(str(p))
    assert g.criteria.p99_ceiling.limit == 100 and g.criteria.p99_ceiling.percentile == 99
    assert g.criteria.p95_regression.limit == 0.15 and g.inconclusive_fails is False


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("criteria:\n  p95_regresion: {limit: 1}\n", "did you mean 'p95_regression'"),
        ("criteria:\n  p95_regression: {limt: 1}\n", "did you mean 'limit'"),
        ("inconclusive_fail: true\n", "did you mean 'inconclusive_fails'"),
        ("criteria:\n  p95_regression: {limit: -1}\n", "criteria.p95_regression.limit"),
        ("criteria:\n  p99_ceiling: {scope: pods}\n", "criteria.p99_ceiling.scope"),
        ("confidence: lots\n", "confidence"),
        ("confidence: 1.5\n", "confidence"),
        ("bootstrap: {resamples: 3}\n", "bootstrap.resamples"),
        ("version: 2\n", "version"),
        ("- a\n- b\n", "expected a mapping"),
        ("criteria: [1, 2]\n", "criteria"),
        ("criteria:\n  orders: {limit: 0\n", "line"),
        # bounds, finite numbers and strict YAML (issue 12)
        ("min_samples: 1.0e+30", "min_samples: Value error, must be from 1 to 10000000 samples"),
        ("min_samples: 0", "min_samples: Value error, must be from 1 to 10000000 samples"),
        ("min_samples: 1e30", "min_samples: Value error, must be from 1 to 10000000 samples"),
        ("criteria: {p99_ceiling: {phases: []}}", "criteria.p99_ceiling.phases: List should"),
        ("criteria: {baseline_run: {phases: []}}", "criteria.baseline_run.phases"),
        ("confidence: .nan", "line 1: '.nan' is not a finite number"),
        ("criteria: {p99_ceiling: {limit: '1e400'}}", "limit: Input should be a finite"),
        ("min_samples: 5\nmin_samples: 6\n", "line 2: duplicate key 'min_samples' (first at"),
        ("criteria: {recovery_time: {hold_s: 100000}}", "recovery_time.hold_s: Input should be"),
        ("a: &a [*a]", "line 1: recursive alias *a"),
    ],
)
def test_bad_configs_give_one_line_naming_the_field(tmp_path: Path, text: str, expect: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(GateConfigError) as err:
        load_gate(str(p))
    msg = str(err.value)
    assert "\n" not in msg and expect in msg and str(p) in msg


def test_gate_errors_are_bounded_and_show_no_secret(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("confidence: 'postgresql://u:s3cr3t@127.0.0.1/x" + "y" * 100_000 + "'\n")
    with pytest.raises(GateConfigError) as err:
        load_gate(str(p))
    msg = str(err.value)
    assert "s3cr3t" not in msg and "u:***@" in msg and len(msg) <= 300 and "confidence" in msg
    # a self-referencing YAML alias tree (billion laughs) is shown in a few characters
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    p.write_text(laughs + "confidence: *h\n")
    with pytest.raises(GateConfigError) as err:
        load_gate(str(p))
    assert len(str(err.value)) <= 300


def test_missing_file() -> None:
    with pytest.raises(GateConfigError, match="cannot read"):
        load_gate("/nonexistent/gate.yaml")


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    p = tmp_path / "empty.yaml"
    p.write_text("")
    assert load_gate(str(p)).criteria == GateConfig().criteria


def test_every_configured_criterion_is_registered() -> None:
    from chaosbench.analysis.criteria import CRITERIA
    from chaosbench.analysis.gate import Criteria

    assert set(CRITERIA) == set(Criteria.model_fields)


def test_the_gate_model_is_built_from_the_registry() -> None:
    """One registration per criterion: its gate key validates with its own config model."""
    from chaosbench.analysis.criteria import CRITERIA

    gate = GateConfig()
    assert list(CRITERIA) == [name for name, _ in gate.criteria]
    for name, spec in CRITERIA.items():
        assert type(gate.criterion(name)) is spec.config, name
        assert gate.criterion(name) == spec.default
    assert gate.criterion("ws_duplicates").enabled is False
    with pytest.raises(GateConfigError, match=r"criteria\.rto\.limit"):
        gate_from_dict({"criteria": {"rto": {"limit": -1}}})


def test_a_binary_gate_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "g.yaml"
    p.write_bytes(bytes(range(256)))
    with pytest.raises(GateConfigError, match=r"g.yaml: line 2 \(byte 128\): not UTF-8"):
        load_gate(str(p))
