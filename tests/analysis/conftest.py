"""A real VictoriaMetrics (Debian's victoria-metrics) on a free loopback port.

VictoriaMetrics accepts the InfluxDB v2 write API at /api/v2/write and stores field ``f`` of
measurement ``m`` as the metric ``m_f`` with the tags as labels; /api/v1/export reads it back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_until

VM_BIN = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"


class VictoriaMetrics:
    def __init__(self, data_dir: Path, log: Path, dedup: bool = False) -> None:
        """``dedup``: keep one sample per series and millisecond, as InfluxDB does for points
        written twice (VictoriaMetrics keeps both by default)."""
        self.dedup = dedup
        self.data_dir = data_dir
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [
                VM_BIN,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.data_dir}",
                "-retentionPeriod=100y",
                "-search.disableCache",
                "-loggerLevel=ERROR",
                *(["-dedup.minScrapeInterval=1ms"] if self.dedup else []),
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
        fh.close()
        wait_until(self.healthy, timeout=30)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def export(self, match: str) -> list[dict[str, object]]:
        """Every series matching ``match`` (a PromQL series selector) with its raw samples."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=5).read()
        q = urllib.parse.urlencode({"match[]": match, "start": "0"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{q}", timeout=10) as r:
            return [json.loads(ln) for ln in r.read().decode().splitlines() if ln.strip()]

    def total(self, metric: str, **labels: str) -> float:
        sel = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return sum(sum(s["values"]) for s in self.export(f"{metric}{{{sel}}}"))  # type: ignore[arg-type]

    def points(self, metric: str, **labels: str) -> int:
        sel = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return sum(len(s["values"]) for s in self.export(f"{metric}{{{sel}}}"))  # type: ignore[arg-type]


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    if not Path(VM_BIN).exists():
        pytest.skip("victoria-metrics is not installed")
    vm = VictoriaMetrics(tmp_path / "vm-data", tmp_path / "vm.log")
    vm.start()
    yield vm
    vm.stop()
