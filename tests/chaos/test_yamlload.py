"""The bounded YAML loader (chaosbench.ground.yamlload): its bounds are exact and what is inside
them loads as PyYAML's safe_load would."""

from __future__ import annotations

import pytest
import yaml

from chaosbench.ground import yamlload
from chaosbench.ground.errors import ConfigError
from chaosbench.ground.yamlload import MAX_DEPTH, MAX_NODES, load_yaml_text, one_line_error


def load(text: str) -> object:
    return load_yaml_text(text, "f.yaml", ConfigError)


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        load(text)
    msg = str(err.value)
    assert msg.startswith("f.yaml: ") and "\n" not in msg and len(msg) <= 500
    return msg


def test_uses_libyaml_events() -> None:
    assert yamlload._CParser is not None  # the scanner in C: time bounded by the node limit


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [1, 2.5, x, null, true]\nc: {d: e}\n",
        "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n",
        "t: 2001-12-14\ns: !!str 12\nf: !!float 1\n",
        "",
        "- 1\n- two\n",
    ],
)
def test_inside_the_bounds_it_is_safe_load(text: str) -> None:
    assert load(text) == yaml.safe_load(text)


def test_depth_bound_is_exact() -> None:
    assert load("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    msg = refused("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert f"line 1: nested deeper than {MAX_DEPTH} levels" in msg


def test_node_bound_counts_aliases_as_what_they_stand_for() -> None:
    ten = "a: &a [" + ",".join(["0"] * 9) + "]\n"  # 10 nodes
    uses = (MAX_NODES - 200) // 10
    ok = ten + "b: [" + ",".join(["*a"] * min(uses, 90)) + "]\n"
    assert len(load(ok)["b"]) == min(uses, 90)  # type: ignore[index]
    pairs = zip("abcde", "bcdef", strict=True)
    laughs = ten + "".join(f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in pairs)
    assert f"more than {MAX_NODES} nodes" in refused(laughs)


def test_duplicate_keys_name_both_lines_and_merge_keys_are_not_duplicates() -> None:
    assert "line 4: duplicate key 'x' (first at line 2)" in refused("a:\n  x: 1\n  y: 2\n  x: 3\n")
    assert "duplicate key '1'" in refused("{1: a, 0x1: b}")
    assert load("b: &b {x: 1}\nc: {<<: *b, x: 2}")["c"] == {"x": 2}  # type: ignore[index]


@pytest.mark.parametrize("value", [".inf", "-.Inf", ".NaN", "1.0e+400", "-1.0e+400"])
def test_non_finite_floats_are_refused(value: str) -> None:
    assert "is not a finite number" in refused(f"a: {value}")


def test_errors_never_echo_much_of_the_input() -> None:
    long_key = "k" * 10_000
    msg = refused(f"? {long_key}\n: 1\n? {long_key}\n: 2\n")
    assert "duplicate key 'kkkk" in msg and len(msg) < 120
    assert len(refused("a: !" + "t" * 5000 + " x")) <= 320


def test_one_line_error_escapes_and_bounds() -> None:
    err = one_line_error(ConfigError("f.yaml: key 'a\nb': " + "x" * 1000))
    assert isinstance(err, ConfigError)
    assert "\n" not in str(err) and "a\\nb" in str(err) and len(str(err)) == 500
