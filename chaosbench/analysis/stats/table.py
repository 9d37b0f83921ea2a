"""A columnar view of a run's windows, and selections of it grouped per second."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from chaosbench.analysis.hdr import DenseBlock, Sparse, to_sparse
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


@dataclass(frozen=True, slots=True)
class Names:
    """Several request names together: every request of any of the (kind, name) ``pairs``."""

    pairs: tuple[tuple[str, str], ...]

    @property
    def label(self) -> str:
        return ", ".join(f"{k} {n}" for k, n in self.pairs)

    def matches(self, key: WindowKey) -> bool:
        return (key.request_type, key.name) in self.pairs


Selection = Scope | Cohort | Names


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
    """All windows of a run as columns: per window its second, key and counts, and all their
    histograms' non-zero bins in one array (window ``i``'s are ``bins[offsets[i]:offsets[i+1]]``).

    A selection is a mask over the windows and a gather of their bins: no per-window Python
    work, and no dense bin layout until a statistic needs one. Selections are kept (the same
    block serves every statistic of one phase and scope).
    """

    def __init__(self, run: RunData) -> None:
        windows = sorted(run.windows, key=lambda w: w.second)  # stable: load order within a second
        self._windows = windows
        sparse = [
            to_sparse(
                w.histogram, f"window {w.second} {w.key.request_type} {w.key.name} {w.key.phase}"
            )
            for w in windows
        ]
        sizes = np.array([s.index.size for s in sparse], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        # In the blocks' own dtypes (``DenseBlock``: int16 bins, int32 counts), so that a
        # selection's gather is all the copying it takes.
        self._bins = (
            np.concatenate([s.index for s in sparse]).astype(np.int16)
            if sparse
            else np.zeros(0, dtype=np.int16)
        )
        counts = np.concatenate([s.count for s in sparse]) if sparse else np.zeros(0, np.int64)
        small = counts.size == 0 or int(counts.max()) < 2**31
        self._bin_counts = counts.astype(np.int32) if small else counts
        cols = np.array(
            [(w.second, w.count, w.failures, w.deadline_misses) for w in windows], dtype=np.int64
        ).reshape(-1, 4)
        self._second = cols[:, 0].copy()
        self._count, self._failures, self._misses = (
            cols[:, i].astype(np.float64) for i in (1, 2, 3)
        )
        # one pass over the windows for their keys; per distinct key its phase, kind and name
        distinct: dict[WindowKey, int] = {}
        key_id = np.array([distinct.setdefault(w.key, len(distinct)) for w in windows], np.int64)
        keys = list(distinct)
        self._phases = sorted({k.phase for k in keys})
        self._kinds = sorted({k.request_type for k in keys})
        self._names = sorted({(k.request_type, k.name) for k in keys})
        ph = {p: i for i, p in enumerate(self._phases)}
        kd = {k: i for i, k in enumerate(self._kinds)}
        nm = {n: i for i, n in enumerate(self._names)}

        def per_window(ids: list[int]) -> np.ndarray:
            return np.array(ids, dtype=np.int64)[key_id] if keys else np.zeros(0, np.int64)

        self._phase_id = per_window([ph[k.phase] for k in keys])
        self._kind_id = per_window([kd[k.request_type] for k in keys])
        self._name_id = per_window([nm[(k.request_type, k.name)] for k in keys])
        self._sparse = sparse
        self._blocks: dict[tuple[object, ...], SecondBlock] = {}
        #: bootstrap samples of reference blocks, shared by every comparison against them
        self.resamples: dict[tuple[object, ...], np.ndarray] = {}

    @property
    def rows(self) -> list[Row]:
        """Every window as a row, ascending by second."""
        return [
            Row(w.second, w.key, w.count, w.failures, w.deadline_misses, s)
            for w, s in zip(self._windows, self._sparse, strict=True)
        ]

    @property
    def last_second(self) -> int | None:
        """The last second with a window."""
        return int(self._second[-1]) if self._second.size else None

    def phases(self) -> list[str]:
        return list(self._phases)

    def kinds(self) -> list[str]:
        return list(self._kinds)

    def names(self) -> list[tuple[str, str]]:
        return list(self._names)

    def select(
        self,
        scope: Selection,
        phases: Iterable[str] | None = None,
        span: tuple[int, int] | None = None,
    ) -> SecondBlock:
        """Windows of ``scope`` in ``phases`` (labels) and/or seconds ``span`` [a, b)."""
        key = (scope, None if phases is None else tuple(phases), span)
        block = self._blocks.get(key)
        if block is None:
            block = self._blocks[key] = self._select(scope, key[1], span)
        return block

    def _mask(
        self, scope: Selection, phases: tuple[str, ...] | None, span: tuple[int, int] | None
    ) -> np.ndarray:
        mask = np.ones(self._second.size, dtype=bool)
        if phases is not None:
            ids = [i for i, p in enumerate(self._phases) if p in set(phases)]
            mask &= np.isin(self._phase_id, ids)
        if span is not None:
            mask &= (self._second >= span[0]) & (self._second < span[1])
        if isinstance(scope, Cohort):  # any of several kinds
            ids = [i for i, k in enumerate(self._kinds) if k in scope.kinds]
            mask &= np.isin(self._kind_id, ids)
        elif isinstance(scope, Names):  # any of several names
            ids = [i for i, pair in enumerate(self._names) if pair in scope.pairs]
            mask &= np.isin(self._name_id, ids)
        elif scope.kind is not None:
            if scope.name is None:
                k = self._kinds.index(scope.kind) if scope.kind in self._kinds else -1
                mask &= self._kind_id == k
            else:
                pair = (scope.kind, scope.name)
                n = self._names.index(pair) if pair in self._names else -1
                mask &= self._name_id == n
        return mask

    def _select(
        self, scope: Selection, phases: tuple[str, ...] | None, span: tuple[int, int] | None
    ) -> SecondBlock:
        win = np.flatnonzero(self._mask(scope, phases, span))
        secs, row_of = np.unique(self._second[win], return_inverse=True)
        n = secs.size

        def per_second(values: np.ndarray) -> np.ndarray:
            return np.bincount(row_of, weights=values[win], minlength=n).astype(np.float64)

        starts, ends = self._offsets[win], self._offsets[win + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        # positions of every selected window's bins: its start plus 0 .. length - 1
        first = np.cumsum(lengths) - lengths
        pos = np.repeat(starts - first, lengths) + np.arange(total, dtype=np.int64)
        return SecondBlock(
            seconds=secs.astype(np.int64),
            count=per_second(self._count),
            failures=per_second(self._failures),
            misses=per_second(self._misses),
            hist=DenseBlock(
                n,
                np.repeat(row_of.astype(np.int32), lengths),
                self._bins[pos],
                self._bin_counts[pos],
            ),
        )
