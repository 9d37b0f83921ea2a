"""A columnar view of a run's windows, and selections of it grouped per second."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from chaosbench.analysis.hdr import DenseBlock, Sparse, dense, to_sparse
from chaosbench.analysis.model import RunData, WindowKey

OVERALL = "overall"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a statistic is about: all requests, one kind (request_type), or one name."""

    kind: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        if self.kind is None:
            return OVERALL
        return self.kind if self.name is None else f"{self.kind} {self.name}"

    def matches(self, key: WindowKey) -> bool:
        if self.kind is not None and key.request_type != self.kind:
            return False
        return self.name is None or key.name == self.name


@dataclass(frozen=True, slots=True)
class Cohort:
    """Several kinds together (a control cohort): every request of any of ``kinds``."""

    kinds: tuple[str, ...]

    @property
    def label(self) -> str:
        return "+".join(self.kinds)

    def matches(self, key: WindowKey) -> bool:
        return key.request_type in self.kinds


@dataclass(slots=True)
class Row:
    second: int
    key: WindowKey
    count: int
    failures: int
    misses: int
    hist: Sparse


@dataclass(slots=True)
class SecondBlock:
    """The selected windows merged per second: one row per second, ascending."""

    seconds: np.ndarray  # int64
    count: np.ndarray  # float64 per second
    failures: np.ndarray
    misses: np.ndarray
    hist: DenseBlock

    @property
    def n(self) -> int:
        return int(self.seconds.size)

    @property
    def total(self) -> int:
        return int(self.count.sum())


class WindowTable:
    """All windows of a run, converted once to sparse histograms."""

    def __init__(self, run: RunData) -> None:
        self.rows: list[Row] = []
        for w in run.windows:
            where = f"window {w.second} {w.key.request_type} {w.key.name} {w.key.phase}"
            self.rows.append(
                Row(
                    w.second,
                    w.key,
                    w.count,
                    w.failures,
                    w.deadline_misses,
                    to_sparse(w.histogram, where),
                )
            )
        self.rows.sort(key=lambda r: r.second)
        self._blocks: dict[tuple[object, ...], SecondBlock] = {}
        #: bootstrap samples of reference blocks, shared by every comparison against them
        self.resamples: dict[tuple[object, ...], np.ndarray] = {}
        self.by_phase: dict[str, list[Row]] = defaultdict(list)
        for r in self.rows:
            self.by_phase[r.key.phase].append(r)
        self._phases = sorted(self.by_phase)
        self._kinds = sorted({r.key.request_type for r in self.rows})
        self._names = sorted({(r.key.request_type, r.key.name) for r in self.rows})

    def phases(self) -> list[str]:
        return list(self._phases)

    def kinds(self) -> list[str]:
        return list(self._kinds)

    def names(self) -> list[tuple[str, str]]:
        return list(self._names)

    def select(
        self,
        scope: Scope | Cohort,
        phases: Iterable[str] | None = None,
        span: tuple[int, int] | None = None,
    ) -> SecondBlock:
        """Windows of ``scope`` in ``phases`` (labels) and/or seconds ``span`` [a, b)."""
        key = (scope, None if phases is None else tuple(phases), span)
        block = self._blocks.get(key)
        if block is None:
            block = self._blocks[key] = self._select(scope, key[1], span)
        return block

    def _select(
        self, scope: Scope | Cohort, phases: tuple[str, ...] | None, span: tuple[int, int] | None
    ) -> SecondBlock:
        rows = self.rows if phases is None else [r for p in phases for r in self.by_phase[p]]
        by_sec: dict[int, list[Row]] = defaultdict(list)
        for r in rows:
            if span is not None and not (span[0] <= r.second < span[1]):
                continue
            if scope.matches(r.key):
                by_sec[r.second].append(r)
        secs = sorted(by_sec)
        groups = [by_sec[s] for s in secs]
        return SecondBlock(
            seconds=np.array(secs, dtype=np.int64),
            count=np.array([sum(r.count for r in g) for g in groups], dtype=np.float64),
            failures=np.array([sum(r.failures for r in g) for g in groups], dtype=np.float64),
            misses=np.array([sum(r.misses for r in g) for g in groups], dtype=np.float64),
            hist=dense([[r.hist for r in g] for g in groups]),
        )
