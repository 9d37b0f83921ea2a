"""Thresholds in k6's vocabulary: one parser for the gate's section and the command line, judged
from the run's HDR histograms, with chaos off (exit 0 or 1) and beside the chaos criteria."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from chaosbench.analysis.gate import gate_from_dict, load_gate
from chaosbench.analysis.model import RunData, new_histogram
from chaosbench.analysis.outcome import Status
from chaosbench.analysis.report import write_reports
from chaosbench.analysis.synthetic import KeySpec, SyntheticSpec, generate, write_run_dir
from chaosbench.analysis.thresholds import (
    Threshold,
    ThresholdError,
    from_mapping,
    from_options,
    merge,
    parse_option,
)
from chaosbench.analysis.verdict import evaluate, print_verdict
from chaosbench.ground.errors import (
    EXIT_CANNOT_MEASURE,
    EXIT_GATE_FAILED,
    EXIT_PASS,
    GateConfigError,
    OptionError,
)
from tests.analysis.rundirs import SMALL, judge, without_chaos

#: 20 s of chaos-off load: HTTP at ~20 ms, PG at ~4 ms with 10 % failures, REDIS at ~1 ms.
KEYS = [
    KeySpec("HTTP", "GET /api/x", 50, 20.0),
    KeySpec("PG", "select order", 40, 4.0, error_rate=0.10),
    KeySpec("REDIS", "GET", 40, 1.0),
]
SPEC = SyntheticSpec(warmup_s=0, baseline_s=20, bursts=0, cooldown_s=0, keys=KEYS, seed=5)


def smoke() -> RunData:
    return without_chaos(generate(SPEC))


def gate_with(**thresholds: object) -> object:
    return gate_from_dict({"thresholds": thresholds}, "g.yaml")


def merged(run: RunData, kind: str | None = None, phases: set[str] | None = None) -> HdrHistogram:
    h = new_histogram()
    for w in run.windows:
        if (kind is None or w.key.request_type == kind) and (
            phases is None or w.key.phase in phases
        ):
            h.add(w.histogram)
    return h


def results(v: object) -> dict[str, object]:
    return {r.name: r for r in v.results if r.group == "thresholds"}  # type: ignore[attr-defined]


# -- the one model: the gate's form and the command line's -------------------------------------


def test_both_forms_parse_to_the_same_thresholds() -> None:
    cli = from_options(
        [
            "http_req_duration{name:GET /a, b,kind:http}: p(95) < 500, p(99.0)<=900",
            "http_req_failed: rate === 0",
            "http_reqs{phase:burst2}:rate>100",
        ]
    )
    gate = from_mapping(
        {
            "http_req_duration{kind:http, name:GET /a, b}": ["p(95)<500", "p(99)<=900"],
            "http_req_failed": "rate==0",
            "http_reqs{phase:burst2}": ["rate > 100"],
        }
    )
    assert tuple(cli) == gate
    assert [t.text for t in gate] == [
        "http_req_duration{kind:http,name:GET /a, b}: p(95)<500",
        "http_req_duration{kind:http,name:GET /a, b}: p(99)<=900",
        "http_req_failed: rate==0",
        "http_reqs{phase:burst2}: rate>100",
    ]
    assert gate[0].tag("name") == "GET /a, b" and gate[0].percentile == 95.0


def test_a_gate_file_with_unquoted_k6_keys(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        "thresholds:\n"
        "  http_req_duration{kind:REDIS}: [p(95)<5, p(99)<20]\n"
        "  http_req_failed: rate<0.01\n"
    )
    gate = load_gate(str(path))
    assert [t.text for t in gate.thresholds] == [
        "http_req_duration{kind:REDIS}: p(95)<5",
        "http_req_duration{kind:REDIS}: p(99)<20",
        "http_req_failed: rate<0.01",
    ]
    again = gate_from_dict(gate.model_dump(mode="json"), "meta.json")  # meta.json's copy
    assert again.thresholds == gate.thresholds


BAD = [
    ("http_req_duratoin", "p(95)<500", "unknown metric 'http_req_duratoin' (did you mean"),
    ("http_req_duration", "p(95)<<500", "expected AGGREGATION OPERATOR NUMBER"),
    ("http_req_duration", "p95<500", "a percentile is written p(N)"),
    ("http_req_duration", "p(0)<500", "p(N) takes N from 0 (excluded) to 100"),
    ("http_req_duration", "p(95)<abc", "'abc' is not a number"),
    ("http_req_duration", "p(95)<1e999", "the limit must be a finite number"),
    ("http_req_duration", "rate<5", "http_req_duration takes p(N), med, avg, min, max, not 'rate'"),
    ("http_req_failed", "rate<5", "a rate is from 0 to 1"),
    ("http_reqs", "p(95)>5", "http_reqs takes count, rate, not 'p(95)'"),
    ("http_reqs{knd:HTTP}", "rate>5", "unknown tag 'knd' (did you mean 'kind'?)"),
    ("http_reqs{kind:}", "rate>5", "expected TAG:VALUE"),
    ("http_reqs{kind:A,kind:B}", "rate>5", "tag 'kind' given twice"),
    ("http_reqs{phase:brust}", "rate>5", "phase 'brust': expected one of"),
]


@pytest.mark.parametrize(("key", "expr", "problem"), BAD, ids=[b[2][:24] for b in BAD])
def test_a_bad_threshold_is_one_line_in_both_forms(key: str, expr: str, problem: str) -> None:
    with pytest.raises(GateConfigError) as gate_err:
        gate_with(**{key: [expr]})
    line = str(gate_err.value)
    assert line.startswith(f"gate config g.yaml: thresholds.{key}: ") and problem in line, line
    with pytest.raises(OptionError) as cli_err:
        from_options([f"{key}: {expr}"])
    line = str(cli_err.value)
    assert line.startswith("--threshold '") and problem in line and "\n" not in line, line


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (["http_reqs: rate>1"], "thresholds: expected a mapping"),
        ({"http_reqs": []}, "thresholds.http_reqs: expected an expression or a list"),
        ({"http_reqs": [{"threshold": "rate>1", "abortOnFail": True}]}, "abortOnFail is not"),
        ({"http_reqs": [5]}, "5 is not an expression string"),
    ],
)
def test_a_bad_section_names_the_gate_and_the_key(section: object, problem: str) -> None:
    with pytest.raises(GateConfigError, match=problem):
        gate_from_dict({"thresholds": section}, "g.yaml")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http_req_duration p(95)<5", "expected METRIC[{TAG:VALUE}]: EXPRESSION"),
        ("http_req_duration{kind:HTTP}:  ", "no expression after the colon"),
        ("http_req_duration: p(95)<5,", "expected AGGREGATION OPERATOR NUMBER"),
    ],
)
def test_a_bad_option_value_says_what_the_option_takes(value: str, problem: str) -> None:
    with pytest.raises(OptionError, match=problem.replace("[", r"\[").replace("{", r"\{")):
        from_options([value])


def test_the_command_line_replaces_the_same_aggregation_and_adds_the_others() -> None:
    gate = from_mapping(
        {
            "http_req_duration{kind:HTTP}": ["p(95)<500", "p(95)>1", "p(99)<900"],
            "http_req_failed": "rate<0.01",
        }
    )
    cli = [
        *parse_option("http_req_duration{kind:http}: p(95)<800"),
        *parse_option("http_reqs: rate>5"),
    ]
    assert [t.text for t in merge(gate, cli)] == [
        "http_req_duration{kind:HTTP}: p(99)<900",
        "http_req_failed: rate<0.01",
        "http_req_duration{kind:http}: p(95)<800",
        "http_reqs: rate>5",
    ]
    g = gate_from_dict({"thresholds": {"http_req_failed": "rate<0.01"}}, "g.yaml")
    assert g.with_thresholds([]) is g
    assert [t.text for t in g.with_thresholds(cli).thresholds][-1] == "http_reqs: rate>5"


# -- judging: the run's own HDR histograms -----------------------------------------------------


def test_a_chaos_off_run_is_judged_by_its_thresholds_exactly() -> None:
    run = smoke()
    p95 = merged(run, "HTTP").get_value_at_percentile(95) / 1000
    p50_all = merged(run).get_value_at_percentile(50) / 1000
    pg = [w for w in run.windows if w.key.request_type == "PG"]
    pg_rate = sum(w.failures for w in pg) / sum(w.count for w in pg)
    total = sum(w.count for w in run.windows)
    seconds = (run.ended or 0) - run.started
    ok = gate_with(
        **{
            "http_req_duration{kind:HTTP}": [f"p(95)<={p95}", f"p(95)>{p95 - 0.01}"],
            "http_req_duration": [f"med=={p50_all}"],
            "http_req_failed{kind:pg}": [f"rate<{pg_rate + 1e-9}"],
            "http_reqs": [f"count=={total}", f"rate>={total / seconds}"],
        }
    )
    v = evaluate(run, ok, None)  # type: ignore[arg-type]
    got = results(v)
    assert v.exit_code == EXIT_PASS, [(r.name, r.status, r.value, r.detail) for r in got.values()]
    assert got[f"http_req_duration{{kind:HTTP}}: p(95)<={p95:g}"].value == p95
    assert got["http_reqs: count==" + str(total)].detail == f"{total} requests in {seconds:.1f} s"
    # every chaos criterion says n/a; the run is not "no baseline phase" any more
    chaos = [r for r in v.results if r.group == "criteria" and r.name not in ("orders",)]
    assert {r.status for r in chaos} == {Status.SKIPPED}
    assert all("chaos was off" in r.detail for r in chaos if r.name != "stream_data_loss")

    bad = gate_with(
        **{"http_req_duration{kind:HTTP}": [f"p(95)<{p95}"], "http_req_failed": ["rate<0.01"]}
    )
    v = evaluate(run, bad, None)  # type: ignore[arg-type]
    assert v.exit_code == EXIT_GATE_FAILED
    assert {r.status for r in results(v).values()} == {Status.FAIL}


def test_avg_min_max_are_hdrs_own() -> None:
    run = smoke()
    h = merged(run, "REDIS")
    mean, lo, hi = h.get_mean_value() / 1000, h.get_min_value() / 1000, h.get_max_value() / 1000
    gate = gate_with(
        **{"http_req_duration{kind:REDIS}": [f"avg=={mean!r}", f"min=={lo}", f"max=={hi}"]}
    )
    v = evaluate(run, gate, None)  # type: ignore[arg-type]
    assert v.exit_code == EXIT_PASS, [(r.name, r.value) for r in v.results if r.group != "criteria"]


def test_nothing_to_judge_never_passes() -> None:
    run = smoke()
    v = evaluate(run, load_gate(None), None)
    assert v.exit_code == EXIT_CANNOT_MEASURE
    assert v.notes == [n for n in v.notes if "no threshold is configured: nothing to judge" in n]
    assert len(v.notes) == 1
    absent = gate_with(
        **{
            "http_req_duration{kind:htpp}": "p(95)<500",
            "http_reqs{name:GET /api/y}": "count>0",
            "http_req_failed{phase:baseline}": "rate<0.5",
        }
    )
    v = evaluate(run, absent, None)  # type: ignore[arg-type]
    assert v.exit_code == EXIT_CANNOT_MEASURE
    got = {r.name.split(":")[0]: r for r in results(v).values()}
    assert {r.status for r in got.values()} == {Status.ERROR}
    assert (
        "no requests of kind 'htpp' in the run (kinds: HTTP, PG, REDIS)"
        in got["http_req_duration{kind"].detail
    )
    assert (
        "no requests named 'GET /api/y' in the run (did you mean 'GET /api/x'?)"
        == got["http_reqs{name"].detail
    )
    assert got["http_req_failed{phase"].detail == "the run has no baseline phase"
    # one threshold passing does not hide the one that cannot be measured
    mixed = gate_with(**{"http_reqs": "count>0", "http_reqs{kind:WS}": "count>0"})
    assert evaluate(run, mixed, None).exit_code == EXIT_CANNOT_MEASURE  # type: ignore[arg-type]


def test_with_chaos_on_they_are_judged_after_warmup_beside_the_criteria() -> None:
    run = generate(SMALL)
    after = {w.key.phase for w in run.windows} - {"warmup"}
    count = sum(w.count for w in run.windows if w.key.phase != "warmup")
    base = sum(w.count for w in run.windows if w.key.phase == "baseline")
    p99 = merged(run, "PG", after).get_value_at_percentile(99) / 1000
    gate = gate_with(
        **{
            "http_reqs": f"count=={count}",
            "http_reqs{phase:baseline}": f"count=={base}",
            "http_req_duration{kind:PG}": f"p(99)<={p99}",
            "http_reqs{phase:burst2}": "rate>1000",
        }
    )
    v = evaluate(run, gate, None)  # type: ignore[arg-type]
    got = results(v)
    assert [r.status for r in got.values()] == [Status.PASS] * 3 + [Status.FAIL]
    assert got[f"http_reqs: count=={count}"].where == "after warmup"
    burst2 = next(p for p in run.phases if p.label == "burst2")
    burst2_count = sum(w.count for w in run.windows if w.key.phase == "burst2")
    assert got["http_reqs{phase:burst2}: rate>1000"].value == pytest.approx(
        burst2_count / (burst2.end - burst2.start)
    )
    criteria = [r for r in v.results if r.group == "criteria"]
    assert "p95_regression" in {r.name for r in criteria}
    assert any(r.status is not Status.SKIPPED for r in criteria)
    assert v.exit_code == EXIT_GATE_FAILED


# -- shown with absolute values everywhere -----------------------------------------------------


def test_console_and_reports_show_every_threshold(tmp_path: Path) -> None:
    import io

    run = smoke()
    gate = gate_with(
        **{
            "http_req_duration{kind:REDIS}": "p(95)<500",
            "http_reqs": "rate>100000",
            "http_req_failed{kind:WS}": "rate<0.01",
        }
    )
    v = evaluate(run, gate, None)  # type: ignore[arg-type]
    assert v.exit_code == EXIT_GATE_FAILED
    out = io.StringIO()
    paths = write_reports(tmp_path, v)
    print_verdict(v, paths.markdown, out)
    text = out.getvalue()
    assert "  thresholds (chaos was off: they judge the run):" in text
    p95 = results(v)["http_req_duration{kind:REDIS}: p(95)<500"].value
    assert (
        f"pass         http_req_duration{{kind:REDIS}}: p(95)<500  measured {p95:.1f} ms (whole run"
        in text
    )
    assert (
        "fail         http_reqs: rate>100000  measured " in text and " req/s (whole run, " in text
    )
    assert "error        http_req_failed{kind:WS}: rate<0.01  no requests of kind 'WS'" in text

    md = paths.markdown.read_text()
    assert "### Thresholds" in md
    assert f"| http_req_duration{{kind:REDIS}}: p(95)<500 | {p95:.1f} ms | < 500.0 ms |" in md
    assert "| http_reqs: rate>100000 |" in md and "| > 100 000 req/s |" in md
    html = paths.html.read_text()
    assert "<h2>Thresholds</h2>" in html and "http_reqs: rate&gt;100000" in html
    suite = ET.parse(paths.junit).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite if c.get("classname") == "chaosbench.thresholds"}
    assert set(cases) == set(results(v))
    assert cases["http_reqs: rate>100000"].find("failure") is not None
    assert cases["http_req_failed{kind:WS}: rate<0.01"].find("error") is not None
    found = json.loads(paths.findings.read_text())["findings"]
    by = {f["criterion"]: f for f in found}
    assert "throughput objective" in by["http_reqs: rate>100000"]["recommendation"]
    assert "against > 100 000 req/s" in by["http_reqs: rate>100000"]["evidence"]
    assert by["http_reqs: rate>100000"]["severity"] == "high"  # under half the floor


# -- the command line and the gate give the same verdict on one run directory -------------------


def test_analyze_with_the_option_and_with_the_gate_agree(tmp_path: Path) -> None:
    run_dir = write_run_dir(smoke(), tmp_path / "smoke")
    gate = tmp_path / "g.yaml"
    for name, lines in {
        "pass": [
            "http_req_duration{kind:REDIS}: p(95)<500",
            "http_req_failed{kind:HTTP}: rate<0.01",
        ],
        "fail": ["http_req_duration{kind:REDIS}: p(95)<500", "http_req_failed: rate<0.01"],
    }.items():
        by_cli = judge(run_dir, *[x for line in lines for x in ("--threshold", line)])
        junit_cli = (run_dir.parent / "smoke.reports" / "junit.xml").read_text()
        section = "".join(f"  {k}: ['{e.strip()}']\n" for k, e in (x.split(": ") for x in lines))
        gate.write_text("thresholds:\n" + section)
        by_gate = judge(run_dir, "--gate", str(gate))
        junit_gate = (run_dir.parent / "smoke.reports" / "junit.xml").read_text()
        assert by_cli.code == by_gate.code == (EXIT_PASS if name == "pass" else EXIT_GATE_FAILED)
        assert by_cli.out.replace("defaults", "X") == by_gate.out.replace(str(gate), "X")
        assert junit_cli == junit_gate
    # the option over the gate: the same aggregation replaced, so the failing rate passes
    over = judge(run_dir, "--gate", str(gate), "--threshold", "http_req_failed: rate<0.5")
    assert over.code == EXIT_PASS, over.out


def test_a_bad_option_is_refused_before_the_run_directory_is_read(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    got = judge(missing, "--threshold", "http_req_duration{kind:HTTP}: p(95)<<500")
    assert got.code == EXIT_CANNOT_MEASURE and got.out == ""
    assert got.error_lines == [
        "chaosbench: --threshold 'http_req_duration{kind:HTTP}: p(95)<<500': 'p(95)<<500': "
        "expected AGGREGATION OPERATOR NUMBER, e.g. p(95)<500 or rate<0.01 (operators: < <= > "
        ">= == !=)"
    ]


def test_threshold_values_compare_as_k6_says() -> None:
    t = parse_option("http_reqs: rate>=10, rate!=3, count<5")
    assert [x.passes(10) for x in t] == [True, True, False]
    assert isinstance(t[0], Threshold) and t[0].unit == "req/s" and t[2].unit == "count"
    with pytest.raises(ThresholdError):
        parse_option("http_reqs: rate>-1")
    assert math.isclose(parse_option("http_req_duration: p(99.9)<1")[0].percentile or 0, 99.9)
    # a name may hold braces and colons
    odd = parse_option("http_reqs{name:GET /a/{id}: x}: count>1")[0]
    assert odd.tag("name") == "GET /a/{id}: x" and odd.expression == "count>1"
    # a locust.conf list item keeps its quotes: they are taken off
    assert from_options(['"http_reqs: rate>1"']) == from_options(["http_reqs: rate>1"])


@pytest.mark.parametrize(
    "value",
    [
        "http_req_duration: p(" + " " * 50_000 + "x",
        "http_req_duration: p " + " " * 50_000 + "<",
        "http_req_duration{" + "kind:a," * 20_000 + "}: p(95)<5",
        "http_req_duration: p(" + "9" * 50_000 + ")<5",
        "(" * 50_000,
    ],
    ids=["open-paren", "spaces", "many-tags", "long-number", "parens"],
)
def test_huge_values_are_one_short_line(value: str) -> None:
    """Parsed in linear time (no backtracking pattern), said in one bounded line."""
    with pytest.raises(OptionError) as err:
        from_options([value])
    assert len(str(err.value)) < 400 and "\n" not in str(err.value)
