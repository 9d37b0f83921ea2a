"""The gate config: which criteria judge a run, with which limits (YAML, validated up front).

``load_gate(None)`` gives the defaults, taken from the seed reports; ``load_gate(path)`` reads a
YAML file whose keys override them. Unknown keys are refused with a did-you-mean, every error is
one line naming the field (``GateConfigError``).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from chaosbench.ground.errors import GateConfigError
from chaosbench.ground.yamlload import (
    decode_utf8,
    excerpt,
    load_yaml_text,
    one_line_error,
    read_config_bytes,
)

ScopeName = Literal["overall", "kind", "name"]
PhaseKind = Literal["baseline", "burst", "recovery", "cooldown"]


#: Bounds of the gate's counts (a bigger value is a typo, e.g. ``min_samples: 1e30``).
MAX_SAMPLES = 10_000_000
MAX_HOLD_S = 3600


def _sample_count(value: Any) -> Any:
    """A number of samples out of 1..MAX_SAMPLES says its bound (pydantic would say "exceeded
    maximum size" for 1e30)."""
    number: Any = value
    if isinstance(value, str):  # YAML reads 1e30 as a string
        try:
            number = float(value)
        except ValueError:
            return value
    if isinstance(number, int | float) and not isinstance(number, bool):
        if not 1 <= number <= MAX_SAMPLES:  # also nan
            raise ValueError(f"must be from 1 to {MAX_SAMPLES} samples, got {number:.10g}")
    return value


class _Strict(BaseModel):
    # inf and nan are refused wherever the gate wants a number
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Criterion(_Strict):
    enabled: bool = True
    required: bool = False  # "not applicable" (e.g. no orders at all) counts as cannot measure
    limit: float


class LatencyRegression(Criterion):
    """p95 of the burst phases over the run's own baseline phase: at most ``1 + limit`` times."""

    limit: float = Field(default=0.15, ge=0)  # allowed relative increase (0.15 = +15 %)
    percentile: float = Field(default=95.0, gt=0, le=100)
    scope: ScopeName = "kind"
    phases: list[PhaseKind] = Field(default=["burst"], min_length=1)


class LatencyCeiling(Criterion):
    """A percentile ceiling in milliseconds during the given phases."""

    limit: float = Field(default=250.0, gt=0)  # ms
    percentile: float = Field(default=99.0, gt=0, le=100)
    scope: ScopeName = "kind"
    phases: list[PhaseKind] = Field(default=["burst"], min_length=1)


class RateCeiling(Criterion):
    """A ratio (deadline misses or failures per request) ceiling during the given phases."""

    limit: float = Field(default=0.02, ge=0, le=1)
    phases: list[PhaseKind] = Field(default=["burst"], min_length=1)


class ErrorRate(RateCeiling):
    limit: float = Field(default=0.20, ge=0, le=1)


class BaselineErrorRate(RateCeiling):
    limit: float = Field(default=0.05, ge=0, le=1)
    phases: list[PhaseKind] = Field(default=["baseline"], min_length=1)


class RecoveryTime(Criterion):
    """Seconds from a burst's end until p95 and error rate are back in the baseline's band."""

    limit: float = Field(default=30.0, gt=0)  # s
    hold_s: int = Field(default=5, ge=1, le=MAX_HOLD_S)  # how long they must stay in band
    p95_tolerance: float = Field(default=0.25, ge=0)  # band: slowest baseline p95 x (1 + this)
    error_tolerance: float = Field(default=0.05, ge=0)  # band: baseline error rate + this
    min_second_samples: int = Field(default=5, ge=1, le=MAX_SAMPLES)  # fewer: the second is unknown


class Rto(Criterion):
    """Restart time of kill-and-restart faults (journal ``details.rto_s``)."""

    limit: float = Field(default=30.0, gt=0)  # s


class Count(Criterion):
    limit: float = Field(default=0, ge=0)


class Ratio(Criterion):
    limit: float = Field(default=0.05, ge=0, le=1)


class BaselineRun(Criterion):
    """Each phase's p95 against the same phase of a stored baseline run (``--baseline``)."""

    limit: float = Field(default=0.15, ge=0)
    percentile: float = Field(default=95.0, gt=0, le=100)
    scope: ScopeName = "kind"
    phases: list[PhaseKind] = Field(default=["baseline", "burst"], min_length=1)


class Criteria(_Strict):
    p95_regression: LatencyRegression = LatencyRegression()
    p99_ceiling: LatencyCeiling = LatencyCeiling()
    deadline_misses: RateCeiling = RateCeiling()
    error_rate: ErrorRate = ErrorRate()
    baseline_error_rate: BaselineErrorRate = BaselineErrorRate()
    recovery_time: RecoveryTime = RecoveryTime()
    rto: Rto = Rto()
    orders: Count = Count()  # lost + duplicated acknowledged orders + discrepancies found
    stream_data_loss: Ratio = Ratio()
    ws_duplicates: Count = Count(enabled=False)
    baseline_run: BaselineRun = BaselineRun()


class Bootstrap(_Strict):
    resamples: int = Field(default=2000, ge=100, le=100_000)
    seed: int = 0


class GateConfig(_Strict):
    version: Literal[1] = 1
    inconclusive_fails: bool = False
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    # fewer samples in a phase cell: not judged
    min_samples: Annotated[int, BeforeValidator(_sample_count)] = Field(
        default=50, ge=1, le=MAX_SAMPLES
    )
    bootstrap: Bootstrap = Bootstrap()
    criteria: Criteria = Criteria()
    source: str = "defaults"

    def enabled(self) -> list[tuple[str, Criterion]]:
        return [(n, c) for n, c in self.criteria if isinstance(c, Criterion) and c.enabled]


def _model_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names valid at ``loc`` (for the did-you-mean)."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields)


def _one_line(err: ValidationError, where: str) -> str:
    e = err.errors()[0]
    loc = tuple(e["loc"])
    path = ".".join(str(p) for p in loc) or "(top level)"
    if e["type"] == "extra_forbidden":
        names = _model_fields(GateConfig, loc)
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(names)})"
        return f"gate config {where}: unknown key {path!r}{hint}"
    return f"gate config {where}: {path}: {e['msg']} (got {_shown(e.get('input'))})"


def _shown(value: Any) -> str:
    """A bounded excerpt of a refused value (never the whole input)."""
    if isinstance(value, str):
        return excerpt(value, 57)
    text = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def gate_from_dict(data: Any, where: str = "(dict)") -> GateConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise GateConfigError(f"gate config {where}: expected a mapping, got {type(data).__name__}")
    data = {**data, "source": where}
    try:
        return GateConfig.model_validate(data)
    except ValidationError as err:
        raise one_line_error(GateConfigError(_one_line(err, where))) from None


def load_gate(path: str | None) -> GateConfig:
    """The gate config in ``path`` (YAML) over the defaults; the defaults when ``path`` is None."""
    if path is None:
        return GateConfig()
    source = f"gate config {path}"
    text = decode_utf8(
        read_config_bytes(Path(path), source, GateConfigError), source, GateConfigError
    )
    return gate_from_dict(load_yaml_text(text, source, GateConfigError), str(path))
