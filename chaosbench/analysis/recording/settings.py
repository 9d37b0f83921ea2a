"""The results options as one validated value (built by analysis.plugin from Locust's options)."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaosbench import bundled
from chaosbench.analysis.influx.config import InfluxConfig
from chaosbench.ground import defaults
from chaosbench.ground.errors import OptionError
from chaosbench.ground.redact import redact
from chaosbench.ground.text import short_repr

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

DEFAULT_SUT_PG_DSN = defaults.PG_DSN
DEFAULT_SUT_PG_SCHEMA = "sut"


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass(frozen=True)
class ResultsSettings:
    results_dir: Path
    run_id: str
    sut_pg_dsn: str | None
    sut_pg_schema: str
    influx: InfluxConfig | None
    drain_timeout: float = 5.0
    spool_max_bytes: int = 512 << 20
    grace: float = 2.0
    tick: float = 1.0
    gate_path: str | None = None
    baseline: Path | None = None

    @property
    def run_dir(self) -> Path:
        return self.results_dir / self.run_id

    @classmethod
    def from_options(cls, o: Any) -> ResultsSettings:
        """Validate the parsed options; ``OptionError`` names the option that is wrong."""
        run_id = getattr(o, "run_id", None) or new_run_id()
        if not _RUN_ID.match(run_id):
            raise OptionError(
                f"--run-id {short_repr(run_id)}: use letters, digits, '.', '_' and '-'"
            )
        grace = float(getattr(o, "window_grace", 2.0))
        if not 0 < grace <= 600:  # also refuses nan and inf
            raise OptionError(f"--window-grace {grace}: must be in (0, 600] seconds")
        drain = float(getattr(o, "influx_drain_timeout", 5.0))
        if not 0 <= drain <= 3600:  # also refuses nan and inf
            raise OptionError(f"--influx-drain-timeout {drain}: must be in [0, 3600] seconds")
        spool_mb = int(getattr(o, "influx_spool_max_mb", 512))
        if spool_mb < 1:
            raise OptionError(f"--influx-spool-max-mb {spool_mb}: must be at least 1")
        schema = getattr(o, "sut_pg_schema", DEFAULT_SUT_PG_SCHEMA) or DEFAULT_SUT_PG_SCHEMA
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", schema):
            raise OptionError(
                f"--sut-pg-schema {short_repr(schema)}: not a plain PostgreSQL identifier"
            )
        dsn = getattr(o, "sut_pg_dsn", DEFAULT_SUT_PG_DSN)
        if dsn in ("", "none"):
            dsn = None
        elif not str(dsn).startswith(("postgresql://", "postgres://")) and "=" not in str(dsn):
            shown = short_repr(redact(str(dsn)))
            raise OptionError(f"--sut-pg-dsn: {shown} is not a PostgreSQL DSN")
        baseline = getattr(o, "baseline_run", None)
        influx_timeout = float(getattr(o, "influx_timeout", 5.0))
        if not 0 < influx_timeout <= 3600:  # also refuses nan and inf
            raise OptionError(f"--influx-timeout {influx_timeout}: must be in (0, 3600] seconds")
        gate = getattr(o, "gate", None)  # a path, or a bundled gate's name
        influx = InfluxConfig.build(
            getattr(o, "influx_url", None),
            getattr(o, "influx_org", None),
            getattr(o, "influx_bucket", None),
            getattr(o, "influx_token", None),
            influx_timeout,
        )
        return cls(
            results_dir=Path(getattr(o, "results_dir", None) or "runs"),
            run_id=run_id,
            sut_pg_dsn=dsn,
            sut_pg_schema=schema,
            influx=influx,
            drain_timeout=drain,
            spool_max_bytes=spool_mb << 20,
            grace=grace,
            gate_path=str(bundled.resolve_gate(gate)) if gate else None,
            baseline=Path(baseline) if baseline else None,
        )
