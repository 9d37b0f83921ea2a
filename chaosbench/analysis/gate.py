"""The gate config: which criteria judge a run, with which limits (YAML, validated up front).

``load_gate(None)`` gives the defaults, taken from the seed reports; ``load_gate(path)`` reads a
YAML file whose keys override them. The ``criteria:`` keys and their models come from the
criterion registry (``chaosbench.analysis.criteria``). Unknown keys are refused with a
did-you-mean, every error is one line naming the field (``GateConfigError``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    InstanceOf,
    PlainSerializer,
    ValidationError,
    create_model,
)
from pydantic_core import PydanticCustomError

from chaosbench import bundled
from chaosbench.analysis import thresholds as th
from chaosbench.analysis.criteria import CRITERIA
from chaosbench.analysis.limits import (
    MAX_SAMPLES,
    Bootstrap,
    Criterion,
    DriftControl,
    RecoveryTime,
    Strict,
)
from chaosbench.ground.errors import GateConfigError
from chaosbench.ground.redact import redact
from chaosbench.ground.text import did_you_mean, short_repr, shorten
from chaosbench.ground.yamlload import (
    decode_utf8,
    load_yaml_text,
    one_line_error,
    read_config_bytes,
)


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


def _thresholds(value: Any) -> Any:
    """The ``thresholds:`` section (k6's form: key -> expressions), parsed; one line per error."""
    if isinstance(value, tuple) and all(isinstance(t, th.Threshold) for t in value):
        return value
    try:
        return th.from_mapping(value)
    except th.ThresholdError as exc:
        line = exc.located("thresholds")
        raise PydanticCustomError("threshold", "{line}", {"line": line}) from None


Thresholds = Annotated[
    tuple[InstanceOf[th.Threshold], ...],
    BeforeValidator(_thresholds),
    PlainSerializer(th.to_mapping, return_type=dict[str, list[str]]),
]


class CriteriaBase(Strict):
    """The gate's ``criteria:`` section: one field per registered criterion (its config model)."""


def _criteria_model() -> type[CriteriaBase]:
    fields: dict[str, Any] = {n: (spec.config, spec.default) for n, spec in CRITERIA.items()}
    return create_model("Criteria", __base__=CriteriaBase, **fields)


if TYPE_CHECKING:  # the fields exist only at run time; the type checker sees the base
    Criteria = CriteriaBase
else:
    Criteria = _criteria_model()


class GateConfig(Strict):
    version: Literal[1] = 1
    inconclusive_fails: bool = False
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    # fewer samples in a phase cell: not judged
    min_samples: Annotated[int, BeforeValidator(_sample_count)] = Field(
        default=50, ge=1, le=MAX_SAMPLES
    )
    bootstrap: Bootstrap = Bootstrap()
    drift: DriftControl = DriftControl()
    criteria: Criteria = Criteria()
    thresholds: Thresholds = ()
    source: str = "defaults"

    def criterion(self, name: str) -> Criterion:
        """The config of the registered criterion ``name``."""
        cfg = getattr(self.criteria, name)
        if not isinstance(cfg, CRITERIA[name].config):
            raise TypeError(f"gate criteria.{name}: {type(cfg).__name__}")
        return cfg

    def enabled(self) -> list[tuple[str, Criterion]]:
        """(name, config) of every enabled criterion, in the registry's order."""
        return [(n, c) for n in CRITERIA if (c := self.criterion(n)).enabled]

    def with_thresholds(self, extra: Sequence[th.Threshold]) -> GateConfig:
        """This gate with the command line's thresholds over its own (``thresholds.merge``)."""
        if not extra:
            return self
        return self.model_copy(update={"thresholds": th.merge(self.thresholds, extra)})

    @property
    def recovery_time(self) -> RecoveryTime:
        """The recovery criterion's settings (the analysis computes recovery bands with them)."""
        cfg = self.criterion("recovery_time")
        assert isinstance(cfg, RecoveryTime)
        return cfg


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
    if e["type"] == "threshold":
        line = f"gate config {where}: {e['msg']}"
    elif e["type"] == "extra_forbidden":
        names = _model_fields(GateConfig, loc)
        hint = did_you_mean(str(loc[-1]), names) or f" (known: {', '.join(names)})"
        line = f"gate config {where}: unknown key {path!r}{hint}"
    else:
        line = f"gate config {where}: {path}: {e['msg']} (got {short_repr(e.get('input'))})"
    return redact(shorten(line))


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
    p = bundled.resolve_gate(path)  # a path, else a bundled gate's name ("loose")
    source = f"gate config {path}"
    text = decode_utf8(read_config_bytes(p, source, GateConfigError), source, GateConfigError)
    return gate_from_dict(load_yaml_text(text, source, GateConfigError), str(path))
