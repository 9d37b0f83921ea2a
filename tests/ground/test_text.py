"""one_line, shorten, short_repr, did_you_mean: bounded one-line messages and hints."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from chaosbench.ground.errors import FaultError, ProfileError
from chaosbench.ground.text import MAX_LINE, did_you_mean, one_line, short_repr, shorten


class Boom(Exception):
    pass


def test_one_line_keeps_the_first_line_and_an_informative_class_name() -> None:
    assert one_line(Boom("first\nsecond")) == "Boom: first"
    assert one_line(KeyError("x")) == "KeyError: 'x'"
    assert one_line(Boom()) == "Boom"
    assert one_line(Boom("\n\n  late start  \nmore")) == "Boom: late start"


@pytest.mark.parametrize(
    "exc",
    [FaultError("pg: refused"), ProfileError("pg: refused"), ValueError("pg: refused")],
)
def test_one_line_drops_our_and_generic_class_names(exc: BaseException) -> None:
    assert one_line(exc) == "pg: refused"


def test_one_line_never_repeats_the_class_name() -> None:
    assert one_line(Boom("Boom: already said")) == "Boom: already said"
    assert one_line(Boom("x: Boom: inside")) == "x: Boom: inside"


def test_one_line_is_bounded() -> None:
    line = one_line(Boom("v" * 200_000))
    assert len(line) == MAX_LINE and line.endswith("…") and line.startswith("Boom: vvv")
    assert len(one_line(FaultError("x" * 5000), limit=40)) == 40


def test_one_line_of_a_psycopg_error() -> None:
    with pytest.raises(psycopg.Error) as err:
        psycopg.connect("host=127.0.0.1 port=1 connect_timeout=2")
    line = one_line(err.value)
    assert line.startswith("OperationalError: ") and "\n" not in line


def test_shorten_and_short_repr_are_bounded_on_huge_and_nested_values() -> None:
    assert shorten("  a\nb") == "a" and shorten("") == ""
    assert len(shorten("w" * 10_000, 50)) == 50
    # a billion-laughs structure: 9 levels of 9 references to the level below (9**9 leaves)
    nested: Any = ["lol"]
    for _ in range(9):
        nested = [nested] * 9
    text = short_repr(nested)
    assert len(text) <= 60 and text.startswith("[[")
    assert short_repr("x" * 10_000, 30).endswith("…") and len(short_repr("x" * 10_000, 30)) == 30
    assert short_repr({"a": 1}) == "{'a': 1}"


def test_did_you_mean() -> None:
    assert did_you_mean("latncy", ["latency", "bandwidth"]) == " (did you mean 'latency'?)"
    assert did_you_mean("zzz", ["latency", "bandwidth"]) == ""
    assert did_you_mean("x", []) == ""
