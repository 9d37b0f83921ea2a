"""The provisioned Grafana dashboards agree with the InfluxDB schema
(chaosbench.analysis.influx.schema).

No Grafana server runs here, so the dashboards are checked statically: the JSON model (unique uid
and title, every panel, variable and annotation on the provisioned datasource), and every Flux
query (each measurement, field and tag it names exists in the schema module, each column it
groups, pivots, keeps or sorts by is a tag, a selected field, a Flux column or one the query
itself makes; the bucket is the dashboard variable; the range is the dashboard's time range).
Then the schema's own line output is checked to carry every field and tag the dashboards read,
and, when VictoriaMetrics is installed, that the lines land where the dashboards expect.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import typing
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chaosbench.analysis.influx import schema
from chaosbench.analysis.recording import ClosedWindow, Recorder
from chaosbench.ground.journal import JournalRecord, RecordKind, RecordStatus
from chaosbench.ground.timeline import Phase, PhaseMark, PhaseTimeline
from tests.analysis.conftest import VM_BIN, VictoriaMetrics
from tests.conftest import ROOT

DASHBOARDS = ROOT / "grafana" / "dashboards"
DATASOURCES = ROOT / "grafana" / "provisioning" / "datasources" / "influxdb.yaml"
DS_UID = "chaosbench-influxdb"
FLUX_COLUMNS = {"_time", "_start", "_stop", "_value", "_field", "_measurement"}
GRAFANA_BUILTIN_VARS = {"__interval", "__interval_ms", "__range", "__from", "__to", "__all"}

Schema = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]


# -- reading dashboards ----------------------------------------------------------------------


@dataclass
class Query:
    where: str  # "chaosbench-run.json: panel 'Throughput' A"
    flux: str
    kind: str  # panel | variable | annotation


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, typing.Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict), f"{path.name}: not a JSON object"
    return data


def all_panels(dash: dict[str, typing.Any]) -> Iterator[dict[str, typing.Any]]:
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])  # collapsed rows hold their panels


def queries(path: Path, dash: dict[str, typing.Any]) -> list[Query]:
    out: list[Query] = []
    for p in all_panels(dash):
        for t in p.get("targets", []):
            out.append(
                Query(f"{path.name}: panel {p['title']!r} {t['refId']}", t["query"], "panel")
            )
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            out.append(Query(f"{path.name}: variable {v['name']}", v["query"]["query"], "variable"))
    for a in dash["annotations"]["list"]:
        if not a.get("builtIn"):
            out.append(
                Query(f"{path.name}: annotation {a['name']!r}", a["target"]["query"], "annotation")
            )
    return out


# -- reading Flux ----------------------------------------------------------------------------


def _call_args(flux: str, func: str) -> list[str]:
    """The argument text of every call of ``func(`` (balanced parentheses)."""
    out: list[str] = []
    for m in re.finditer(rf"(?<![\w.]){re.escape(func)}\(", flux):
        depth, i = 1, m.end()
        while depth and i < len(flux):
            depth += {"(": 1, ")": -1}.get(flux[i], 0)
            i += 1
        out.append(flux[m.end() : i - 1])
    return out


def _record_keys(flux: str) -> set[str]:
    """Keys of the record literals the query builds (``{a: 1, b: 2}``, ``{r with a: 1}``)."""
    keys: set[str] = set()
    stack: list[str] = []
    prev = ""  # last significant token
    for m in re.finditer(r'"(?:\\.|[^"\\])*"|\w+|\S', flux):
        tok = m.group()
        if tok in "({[":
            stack.append(tok)
        elif tok in ")}]":
            if stack:
                stack.pop()
        elif (
            re.fullmatch(r"[A-Za-z_]\w*", tok)
            and stack
            and stack[-1] == "{"
            and prev in ("{", ",", "with")
            and flux[m.end() :].lstrip().startswith(":")
        ):
            keys.add(tok)
        prev = tok
    return keys


def _string_list(args: str, param: str) -> list[str]:
    m = re.search(rf"\b{param}:\s*\[([^\]]*)\]", args)
    return re.findall(r'"([^"]*)"', m.group(1)) if m else []


@dataclass
class FluxRefs:
    measurements: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)  # r._field == "..."
    tag_filters: set[str] = field(default_factory=set)  # r.X == / != / contains(value: r.X
    values: dict[str, set[str]] = field(default_factory=dict)  # tag -> literals compared with
    row_refs: set[str] = field(default_factory=set)  # every r.X
    columns: set[str] = field(default_factory=set)  # group/pivot/keep/drop/sort columns
    tag_values: set[str] = field(default_factory=set)  # schema.tagValues(tag: "X")
    made: set[str] = field(default_factory=set)  # columns the query itself creates
    buckets: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)


def parse_flux(flux: str) -> FluxRefs:
    refs = FluxRefs()
    refs.measurements = set(re.findall(r'\br\._measurement\s*==\s*"([^"]*)"', flux))
    refs.fields = set(re.findall(r'\br\._field\s*==\s*"([^"]*)"', flux))
    for tag, lit in re.findall(r'\br\.(\w+)\s*(?:==|!=)\s*("[^"]*"|\w+)', flux):
        if tag not in ("_measurement", "_field"):
            refs.tag_filters.add(tag)
            if lit.startswith('"') and "$" not in lit:
                refs.values.setdefault(tag, set()).add(lit.strip('"'))
    refs.tag_filters |= set(re.findall(r"contains\(value:\s*r\.(\w+)", flux))
    refs.row_refs = set(re.findall(r"\br\.(\w+)", flux))
    for func, params in (
        ("group", ("columns",)),
        ("pivot", ("rowKey", "columnKey")),
        ("keep", ("columns",)),
        ("drop", ("columns",)),
        ("sort", ("columns",)),
    ):
        for args in _call_args(flux, func):
            for p in params:
                refs.columns.update(_string_list(args, p))
        for args in _call_args(flux, "pivot"):
            m = re.search(r'valueColumn:\s*"([^"]*)"', args)
            if m:
                refs.columns.add(m.group(1))
    for args in _call_args(flux, "schema.tagValues"):
        refs.tag_values.update(re.findall(r'\btag:\s*"([^"]*)"', args))
    refs.made = _record_keys(flux)
    refs.made |= set(re.findall(r'\b(?:columnName|as):\s*"([^"]*)"', flux))
    refs.made |= set(re.findall(r'set\(key:\s*"([^"]*)"', flux))
    refs.buckets = [a.strip() for a in _call_args(flux, "from")]
    refs.buckets += [
        m.strip()
        for a in _call_args(flux, "schema.tagValues")
        for m in re.findall(r"bucket:[^,]*", a)
    ]
    refs.ranges = [a.strip() for a in _call_args(flux, "range")]
    return refs


def check_query(q: Query, measurements: Schema) -> list[str]:
    """Every way ``q`` disagrees with the schema, one line each (empty: it agrees)."""
    refs = parse_flux(q.flux)
    problems: list[str] = []

    def bad(what: str) -> None:
        problems.append(f"{q.where}: {what}")

    if not refs.measurements:
        bad("names no measurement (r._measurement == ...)")
    unknown = refs.measurements - set(measurements)
    for m in sorted(unknown):
        bad(f"measurement {m!r} is not in the schema")
    known = refs.measurements & set(measurements)
    tags = {t for m in known for t in measurements[m][0]}
    flds = {f for m in known for f in measurements[m][1]}
    for f in sorted(refs.fields - flds):
        bad(f"field {f!r} is not a field of {sorted(known)}")
    for t in sorted(refs.tag_filters - tags):
        bad(f"filters on {t!r}, which is not a tag of {sorted(known)}")
    for t in sorted(refs.tag_values - tags):
        bad(f"lists values of {t!r}, which is not a tag of {sorted(known)}")
    allowed = tags | (refs.fields & flds) | FLUX_COLUMNS | refs.made
    for r in sorted(refs.row_refs - allowed):
        bad(f"reads r.{r}: not a tag, a selected field or a column the query makes")
    for c in sorted(refs.columns - allowed):
        bad(f"uses column {c!r}: not a tag, a selected field or a column the query makes")
    if schema.EVENT in known:
        kinds = set(typing.get_args(RecordKind))
        for v in sorted(refs.values.get("kind", set()) - kinds):
            bad(f"kind {v!r} is not a journal record kind {sorted(kinds)}")
        if "phase" in refs.values.get("kind", set()):
            for v in sorted(refs.values.get("type", set()) - {p.value for p in Phase}):
                bad(f"phase type {v!r} is not a Phase")
    statuses = {schema.STATUS_OK, schema.STATUS_ERROR} | set(typing.get_args(RecordStatus))
    for v in sorted(refs.values.get("status", set()) - statuses):
        bad(f"status {v!r} is never written")
    for b in refs.buckets:
        if b != 'bucket: "${bucket}"':
            bad(f"bucket is {b!r}, not the dashboard variable ${{bucket}}")
    if not refs.buckets:
        bad("reads no bucket")
    for r in refs.ranges:
        run_start_lookup = r == "start: 0" and 'r._field == "started"' in q.flux
        if not run_start_lookup and not ("v.timeRangeStart" in r and "v.timeRangeStop" in r):
            bad(f"range({r}) is not the dashboard time range")
    if q.kind != "variable" and not refs.ranges:
        bad("has no range()")
    return problems


def referenced(qs: list[Query]) -> dict[str, tuple[set[str], set[str]]]:
    """measurement -> (tags, fields) the dashboards read (single-measurement queries)."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    for q in qs:
        refs = parse_flux(q.flux)
        for m in refs.measurements:
            tags, flds = out.setdefault(m, (set(), set()))
            used = refs.tag_filters | refs.tag_values | refs.row_refs | refs.columns
            tags |= used & set(schema.MEASUREMENTS[m][0])
            flds |= refs.fields & set(schema.MEASUREMENTS[m][1])
    return out


def every_query() -> list[Query]:
    return [q for p in dashboard_files() for q in queries(p, load(p))]


# -- the dashboards --------------------------------------------------------------------------


def test_dashboards_exist_parse_and_have_unique_uid_and_title() -> None:
    files = dashboard_files()
    assert {p.name for p in files} >= {"chaosbench-run.json", "chaosbench-compare.json"}
    uids, titles = [], []
    for p in files:
        d = load(p)
        assert d.get("uid") and d.get("title"), p.name
        assert "id" not in d or d["id"] is None, f"{p.name}: provisioned dashboards carry no id"
        assert 36 <= d["schemaVersion"] <= 41, p.name
        uids.append(d["uid"])
        titles.append(d["title"])
        assert len(d["uid"]) <= 40, p.name
    assert len(set(uids)) == len(uids), uids
    assert len(set(titles)) == len(titles), titles
    assert "chaosbench — run" in titles


def test_provisioned_datasource_uid_is_the_one_dashboards_use() -> None:
    text = DATASOURCES.read_text()
    assert re.search(rf"^\s*uid:\s*{DS_UID}\s*$", text, re.M), "datasource uid changed"
    assert re.search(r"^\s*version:\s*Flux\s*$", text, re.M)


def test_every_panel_variable_and_annotation_uses_the_provisioned_datasource() -> None:
    ds = {"type": "influxdb", "uid": DS_UID}
    for p in dashboard_files():
        d = load(p)
        ids = []
        for panel in all_panels(d):
            ids.append(panel["id"])
            if panel["type"] == "row":
                continue
            assert panel.get("datasource") == ds, f"{p.name}: panel {panel['title']!r}"
            assert panel.get("targets"), f"{p.name}: panel {panel['title']!r} has no query"
            for t in panel["targets"]:
                assert t.get("datasource", ds) == ds, f"{p.name}: {panel['title']!r} {t['refId']}"
                assert t["query"].strip()
            refids = [t["refId"] for t in panel["targets"]]
            assert len(set(refids)) == len(refids), f"{p.name}: {panel['title']!r} refIds"
        assert len(set(ids)) == len(ids), f"{p.name}: duplicate panel ids"
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                assert v["datasource"] == ds, f"{p.name}: variable {v['name']}"
        for a in d["annotations"]["list"]:
            if not a.get("builtIn"):
                assert a["datasource"] == ds, f"{p.name}: annotation {a['name']}"


def test_every_flux_query_agrees_with_the_schema() -> None:
    qs = every_query()
    assert len(qs) > 20
    problems = [line for q in qs for line in check_query(q, schema.MEASUREMENTS)]
    assert not problems, "\n".join(problems)


def test_the_check_fails_when_the_schema_changes() -> None:
    """Renaming a field, a tag or a measurement in the schema breaks the dashboards' check."""
    qs = every_query()
    w_tags, w_fields = schema.MEASUREMENTS[schema.WINDOW]
    e_tags, e_fields = schema.MEASUREMENTS[schema.EVENT]
    changed: list[Schema] = [
        {**schema.MEASUREMENTS, schema.WINDOW: (w_tags, tuple(f for f in w_fields if f != "p99"))},
        {
            **schema.MEASUREMENTS,
            schema.WINDOW: (tuple(t for t in w_tags if t != "phase"), w_fields),
        },
        {**schema.MEASUREMENTS, schema.EVENT: (e_tags, tuple(f for f in e_fields if f != "text"))},
        {m: v for m, v in schema.MEASUREMENTS.items() if m != schema.RUN},
    ]
    for s in changed:
        problems = [line for q in qs for line in check_query(q, s)]
        assert problems, f"no query noticed the change {s}"


def test_the_flux_reader_sees_what_a_query_references() -> None:
    flux = (
        'from(bucket: "${bucket}")\n'
        "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n"
        '  |> filter(fn: (r) => r._measurement == "chaosbench_window" and r.run_id == "x")\n'
        '  |> filter(fn: (r) => r._field == "count" or r._field == "p42")\n'
        '  |> group(columns: ["request_type", "host"])\n'
        "  |> map(fn: (r) => ({r with made: r.count, other: r.nope}))\n"
    )
    problems = check_query(Query("q", flux, "panel"), schema.MEASUREMENTS)
    text = "\n".join(problems)
    assert "field 'p42'" in text
    assert "column 'host'" in text
    assert "r.nope" in text
    assert len(problems) == 3, text
    bad_src = flux.replace('"${bucket}"', '"chaosbench"').replace("v.timeRangeStop", "now()")
    text = "\n".join(check_query(Query("q", bad_src, "panel"), schema.MEASUREMENTS))
    assert "not the dashboard variable" in text and "not the dashboard time range" in text


def test_variables_the_queries_use_are_defined() -> None:
    for p in dashboard_files():
        d = load(p)
        names = {v["name"] for v in d["templating"]["list"]}
        assert {"bucket"} <= names, p.name
        bucket = next(v for v in d["templating"]["list"] if v["name"] == "bucket")
        assert bucket["query"] == "chaosbench", "default bucket"
        texts = [q.flux for q in queries(p, d)] + [x.get("title", "") for x in all_panels(d)]
        used = {m for t in texts for m in re.findall(r"\$\{?(\w+)", t)}
        assert used - names - GRAFANA_BUILTIN_VARS == set(), f"{p.name}: undefined variables"
        for panel in all_panels(d):
            if panel.get("repeat"):
                assert panel["repeat"] in names


def test_run_dashboard_has_the_promised_variables_panels_and_annotations() -> None:
    d = load(DASHBOARDS / "chaosbench-run.json")
    var = {v["name"]: v for v in d["templating"]["list"]}
    assert set(var) >= {"bucket", "run_id", "request_type", "name", "phase"}
    assert var["name"]["multi"] and var["request_type"]["multi"] and var["phase"]["multi"]
    run_refs = parse_flux(var["run_id"]["query"]["query"])
    assert run_refs.tag_values == {"run_id"} and schema.RUN in run_refs.measurements
    by_type: dict[str, list[dict[str, typing.Any]]] = {}
    for panel in all_panels(d):
        by_type.setdefault(panel["type"], []).append(panel)
    ts_fields = set()
    for panel in by_type["timeseries"]:
        for t in panel["targets"]:
            ts_fields |= parse_flux(t["query"]).fields
    assert {"p50", "p95", "p99", "count", "failures", "deadline_misses"} <= ts_fields
    stats = [parse_flux(t["query"]) for p in by_type["stat"] for t in p["targets"]]
    assert any(schema.RUN in r.measurements and "verdict" in r.fields for r in stats)
    tables = [parse_flux(t["query"]) for p in by_type["table"] for t in p["targets"]]
    assert any("phase" in r.columns and {"p95", "p99", "failures"} <= r.fields for r in tables), (
        "no per-phase table"
    )
    annos = [a for a in d["annotations"]["list"] if not a.get("builtIn")]
    assert len(annos) >= 2
    seen_kinds: set[str] = set()
    for a in annos:
        refs = parse_flux(a["target"]["query"])
        assert refs.measurements == {schema.EVENT}, a["name"]
        assert a["enable"] and not a.get("filter"), f"{a['name']}: shown on every panel"
        assert "text" in refs.fields, a["name"]
        for key, m in a["mappings"].items():
            if m["source"] == "field":
                assert m["value"] in refs.made | FLUX_COLUMNS, f"{a['name']}: {key} -> {m}"
        seen_kinds |= refs.values.get("kind", set())
    assert seen_kinds == set(typing.get_args(RecordKind))


# -- the schema's own output carries what the dashboards read --------------------------------

T0 = 1_790_000_000.0


def _sample_lines(run_id: str) -> list[str]:
    tl = PhaseTimeline()
    tl.append(PhaseMark(T0, Phase.BASELINE))
    tl.append(PhaseMark(T0 + 2, Phase.BURST, 1, ("lat",)))
    rec = Recorder(tl)
    rec.active = True
    for s in range(4):
        for i in range(10):
            exc = TimeoutError() if i == 0 else None
            rec.on_request("HTTP", "/orders", 1.0 + i, exception=exc, start_time=T0 + s + i / 10)
    windows: list[ClosedWindow] = rec.close_all()
    lines = [ln for w in windows for ln in schema.window_lines(w, run_id)]
    lines.append(schema.event_line(JournalRecord("phase", "burst1", "burst", start=T0 + 2), run_id))
    lines.append(
        schema.event_line(
            JournalRecord("inject", "lat", "latency", "pg", 1, None, T0 + 2, T0 + 2.1), run_id
        )
    )
    lines.append(
        schema.event_line(
            JournalRecord(
                "revert", "lat", "latency", "pg", 1, None, T0 + 3, T0 + 3.1, "error", "x"
            ),
            run_id,
        )
    )
    lines.append(
        schema.run_line(run_id, T0, {"started": T0, "profile_sha256": "ab", "git_revision": "c"})
    )
    lines.append(
        schema.run_line(run_id, T0 + 5, {"ended": T0 + 5, "exit_code": 1, "verdict": "fail"})
    )
    return lines


def _split(s: str, sep: str) -> list[str]:
    """Split line protocol on ``sep`` outside quotes and escapes."""
    parts, cur, quoted, esc = [], "", False, False
    for ch in s:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            cur += ch
            esc = True
        elif ch == '"':
            cur += ch
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, str]]:
    head, fields_text, _ts = _split(line, " ")
    measurement, *tag_parts = _split(head, ",")
    tags = dict(p.split("=", 1) for p in tag_parts)
    flds = dict(p.split("=", 1) for p in _split(fields_text, ","))
    return measurement, tags, flds


# The types the queries' arithmetic assumes (integer sums of counts, float percentiles, float
# unix seconds multiplied by 1000.0, ...); InfluxDB columns are typed and Flux does not convert.
FIELD_TYPES = {
    schema.WINDOW: {
        **dict.fromkeys(("count", "failures", "deadline_misses"), "int"),
        **dict.fromkeys(("mean", "p50", "p90", "p95", "p99", "max"), "float"),
    },
    schema.EVENT: {"burst": "int", "duration_ms": "float", "text": "str", "error": "str"},
    schema.RUN: {"started": "float", "ended": "float", "exit_code": "int", "verdict": "str"},
}


def test_schema_lines_carry_every_tag_and_field_the_dashboards_read() -> None:
    written: dict[str, tuple[set[str], set[str]]] = {}
    for ln in _sample_lines("run-g"):
        meas, line_tags, line_fields = parse_line(ln)
        for name, value in line_fields.items():
            kind = "str" if value.startswith('"') else "int" if value.endswith("i") else "float"
            expected = FIELD_TYPES.get(meas, {}).get(name)
            assert expected in (None, kind), (
                f"{meas}.{name} is {kind}; the queries assume {expected}"
            )
        t, f = written.setdefault(meas, (set(), set()))
        t |= set(line_tags)
        f |= set(line_fields)
    reads = referenced(every_query())
    assert set(reads) == set(schema.MEASUREMENTS)
    for m, (tags, flds) in reads.items():
        assert tags <= written[m][0], (
            f"{m}: dashboards read tags {tags - written[m][0]} never written"
        )
        assert flds <= written[m][1], (
            f"{m}: dashboards read fields {flds - written[m][1]} never written"
        )


@pytest.mark.skipif(not Path(VM_BIN).exists(), reason="victoria-metrics is not installed")
def test_lines_land_where_the_dashboards_expect(tmp_path: Path) -> None:
    """Through a real InfluxDB v2 write API (VictoriaMetrics): every numeric field the dashboards
    read arrives as ``<measurement>_<field>`` labelled with every tag they filter or group on."""
    vm = VictoriaMetrics(tmp_path / "vm-data", tmp_path / "vm.log")
    vm.start()
    try:
        body = "\n".join(_sample_lines("run-g")).encode()
        req = urllib.request.Request(
            f"{vm.url}/api/v2/write?org=o&bucket=chaosbench&precision=ms", data=body, method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 204
        numeric = 0
        for m, (tags, flds) in referenced(every_query()).items():
            for f in sorted(flds):
                if f in ("text", "error", "verdict", "git_revision", "profile_sha256"):
                    continue  # strings: VictoriaMetrics keeps numbers only (checked above)
                series = vm.export(f'{m}_{f}{{run_id="run-g"}}')
                assert series, f"{m}_{f} did not arrive"
                metric = series[0]["metric"]
                assert isinstance(metric, dict)
                labels = set(metric) - {"__name__"}
                assert tags <= labels, f"{m}_{f}: missing labels {tags - labels}"
                numeric += 1
        assert numeric >= 10
        assert vm.total("chaosbench_window_count", run_id="run-g", status="error") == 4
    finally:
        vm.stop()


# -- Flux type check (optional: Flux's own parser and type checker, compiled to WebAssembly) ---

FLUX_LSP_VERSION = "0.8.40"
FLUX_LSP_DIR = Path(
    os.environ.get("FLUX_LSP_DIR", ROOT / "node_modules" / "@influxdata" / "flux-lsp-browser")
)

# The package is built for bundlers (it imports its .wasm as an ES module, which Node cannot
# do cleanly): load its JS glue with the wasm instance handed in instead.
_FLUX_CHECK_JS = """
import * as flux from "./glue.mjs";
import fs from "fs";
const [wasmPath, queriesPath] = process.argv.slice(2);
const mod = await WebAssembly.compile(fs.readFileSync(wasmPath));
const imports = {};
for (const imp of WebAssembly.Module.imports(mod)) imports[imp.module] = flux;
flux.__setWasm((await WebAssembly.instantiate(mod, imports)).exports);
const out = JSON.parse(fs.readFileSync(queriesPath, "utf8")).map((src) => {
  try { return new flux.Flux(src).is_valid(); } catch (e) { return false; }
});
console.log(JSON.stringify(out));
"""

# What Grafana puts in place of ``v`` and the dashboard variables before InfluxDB sees a query.
_V = (
    "v = {timeRangeStart: 2026-01-01T00:00:00Z, timeRangeStop: 2026-01-01T01:00:00Z, "
    'windowPeriod: 1s, defaultBucket: "chaosbench"}\n'
)


def as_sent(flux: str) -> str:
    """The query as Grafana sends it: variables interpolated, ``v`` defined after the imports."""
    flux = re.sub(r"\$\{(\w+):json\}", r'["\1-value"]', flux)
    flux = re.sub(r"\$\{(\w+)\}", r"\1-value", flux)
    lines = flux.split("\n")
    i = 0
    while i < len(lines) and (lines[i].startswith("import ") or not lines[i].strip()):
        i += 1
    return "\n".join(lines[:i]) + "\n" + _V + "\n".join(lines[i:])


def flux_valid(sources: list[str], tmp: Path) -> list[bool]:
    glue = (FLUX_LSP_DIR / "flux-lsp-browser_bg.js").read_text()
    glue = glue.replace(
        "import * as wasm from './flux-lsp-browser_bg.wasm';",
        "let wasm;\nexport function __setWasm(w) { wasm = w; "
        "cachedInt32Memory0 = new Int32Array(wasm.memory.buffer); "
        "cachedUint8Memory0 = new Uint8Array(wasm.memory.buffer); }",
    )
    glue = glue[: glue.rindex("cachedInt32Memory0 = new Int32Array(wasm.memory.buffer);")]
    (tmp / "glue.mjs").write_text(glue)
    (tmp / "check.mjs").write_text(_FLUX_CHECK_JS)
    (tmp / "queries.json").write_text(json.dumps(sources))
    wasm = FLUX_LSP_DIR / "flux-lsp-browser_bg.wasm"
    proc = subprocess.run(
        ["node", "check.mjs", str(wasm), "queries.json"],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert isinstance(result, list)
    return [bool(x) for x in result]


@pytest.mark.skipif(
    shutil.which("node") is None or not (FLUX_LSP_DIR / "flux-lsp-browser_bg.wasm").exists(),
    reason=f"needs node and @influxdata/flux-lsp-browser@{FLUX_LSP_VERSION} (FLUX_LSP_DIR)",
)
def test_every_flux_query_parses_and_type_checks(tmp_path: Path) -> None:
    """Flux's semantic check (syntax, imports, builtin signatures, types) on every query as
    Grafana sends it; a broken query must fail it, so the check is seen to work."""
    qs = every_query()
    broken = [
        'from(bucket: "b") |> range(start: v.timeRangeStart) |> window(evry: 1s)',
        'from(bucket: "b") |> range(start: v.timeRangeStart)'
        " |> map(fn: (r) => ({r with t: int(v: r._time) + 1.0}))",
        'import "contrib/tomhollingworth/events"\n'
        'from(bucket: "b") |> range(start: -1h) |> events.duration(unit: 1ns, column: "x")',
    ]
    valid = flux_valid([as_sent(q.flux) for q in qs] + [as_sent(b) for b in broken], tmp_path)
    assert valid[len(qs) :] == [False] * len(broken), "the Flux check accepts broken queries"
    invalid = [q.where for q, ok in zip(qs, valid, strict=False) if not ok]
    assert not invalid, "Flux rejects:\n" + "\n".join(invalid)
