"""The schedule of a profile: every phase edge, inject and revert as an offset from the run start.

Edges are computed from the start of the run, never chained from the previous action, so an
inject that takes time does not shift later edges. ``python -m chaosbench.chaos plan`` prints this.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

from chaosbench.chaos.profile.durations import format_duration
from chaosbench.chaos.profile.model import FaultSpec, Profile
from chaosbench.ground.timeline import Phase

StepKind = Literal["phase", "inject", "revert", "end"]
_ORDER: dict[str, int] = {"phase": 0, "revert": 1, "inject": 2, "end": 3}


@dataclass(frozen=True)
class Step:
    at: float  # seconds from the run start
    kind: StepKind
    phase: Phase | None = None
    burst: int | None = None
    fault: FaultSpec | None = None

    @property
    def label(self) -> str:
        if self.kind == "phase" and self.phase is not None:
            return f"{self.phase.value}{self.burst}" if self.burst is not None else self.phase.value
        if self.fault is not None:
            return f"{self.kind} {self.fault.name} ({self.fault.type})"
        return self.kind


def build_plan(profile: Profile) -> list[Step]:
    """All steps of ``profile`` in the order the scheduler performs them."""
    ph = profile.phases
    steps: list[Step] = []
    t = 0.0

    def phase(p: Phase, length: float, burst: int | None = None) -> None:
        nonlocal t
        if length > 0:
            steps.append(Step(t, "phase", p, burst))
            t += length

    phase(Phase.WARMUP, ph.warmup)
    phase(Phase.BASELINE, ph.baseline)
    for burst in range(1, ph.bursts + 1):
        start = t
        phase(Phase.BURST, ph.burst_on, burst)
        phase(Phase.RECOVERY, ph.burst_off, burst)
        for spec in profile.faults:
            if burst in spec.bursts:
                steps.append(Step(start + spec.start, "inject", Phase.BURST, burst, spec))
                end = start + spec.start + spec.duration
                steps.append(Step(end, "revert", Phase.BURST, burst, spec))
    phase(Phase.COOLDOWN, ph.cooldown)
    steps.append(Step(t, "end"))
    steps.sort(key=lambda s: (round(s.at, 9), _ORDER[s.kind]))
    return steps


def describe_plan(profile: Profile) -> list[str]:
    """Human-readable lines of the schedule (``+1m30s  burst2``, ``+1m30s  inject ...``)."""
    lines = [
        f"profile {profile.source}: seed {profile.seed}"
        + (", dry-run" if profile.dry_run else "")
        + ("" if profile.enabled else ", DISABLED (enabled: false)")
        + f", total {format_duration(profile.phases.total)}"
    ]
    for step in build_plan(profile):
        extra = ""
        if step.kind == "inject" and step.fault is not None and step.burst is not None:
            extra = f" intensity {step.fault.intensity_at(step.burst):g}"
        lines.append(f"+{format_duration(step.at):>8}  {step.label}{extra}")
    return lines


def cut_phases(profile: Profile, run_time: float) -> list[str]:
    """Labels of the phases that a run of ``run_time`` seconds cuts short or never reaches."""
    cut: list[str] = []
    phase_steps = [s for s in build_plan(profile) if s.kind in ("phase", "end")]
    for step, nxt in itertools.pairwise(phase_steps):
        if nxt.at > run_time + 1e-9:
            cut.append(step.label + (" (partly)" if step.at < run_time else ""))
    return cut
