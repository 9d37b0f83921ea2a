"""junit.xml: one test case per criterion, for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from chaosbench.analysis.outcome import Status, Verdict
from chaosbench.analysis.report import fmt


def render(v: Verdict) -> str:
    a = v.analysis
    run_id = a.run.run_id if a else "run"
    suite = ET.Element("testsuite", name=f"chaosbench gate ({run_id})")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for r in v.results:
        counts["tests"] += 1
        cls = "chaosbench.thresholds" if r.group == "thresholds" else "chaosbench.gate"
        case = ET.SubElement(suite, "testcase", classname=cls, name=r.name, time="0")
        msg = f"{r.title}: {fmt.value(r)} against {fmt.limit(r)}"
        if r.where:
            msg += f" at {r.where}"
        text = "; ".join(x for x in (fmt.interval(r), r.detail) if x and x != "—")
        if r.status == Status.FAIL or (r.status == Status.INCONCLUSIVE and v.inconclusive_fails):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=f"{r.status.value}: {msg}").text = text
        elif r.status == Status.ERROR:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=f"cannot measure: {r.detail}").text = text
        elif r.status == Status.SKIPPED:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=r.detail or "not applicable")
        else:
            ET.SubElement(case, "system-out").text = f"{r.status.value}: {msg}. {text}".strip()
    for k, n in counts.items():
        suite.set(k, str(n))
    root = ET.Element("testsuites", name="chaosbench")
    for k, n in counts.items():
        if k != "skipped":
            root.set(k, str(n))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
