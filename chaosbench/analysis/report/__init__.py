"""The reports written into the run directory: report.md, report.html, junit.xml, findings.json."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from chaosbench.analysis.outcome import Verdict
from chaosbench.analysis.report import findings, html, junit, markdown
from chaosbench.ground.errors import RunDirError


@dataclass(frozen=True, slots=True)
class ReportPaths:
    markdown: Path
    html: Path
    junit: Path
    findings: Path


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_reports(out_dir: Path, verdict: Verdict) -> ReportPaths:
    """Write the four reports of ``verdict`` into ``out_dir``."""
    paths = ReportPaths(
        out_dir / "report.md",
        out_dir / "report.html",
        out_dir / "junit.xml",
        out_dir / "findings.json",
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write(paths.markdown, markdown.render(verdict))
        _write(paths.html, html.render_html(verdict))
        _write(paths.junit, junit.render(verdict))
        _write(paths.findings, json.dumps(findings.render(verdict), indent=2) + "\n")
    except OSError as exc:
        raise RunDirError(f"cannot write the reports to {out_dir}: {exc.strerror}") from None
    return paths
