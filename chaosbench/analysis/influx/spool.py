"""The on-disk spool: every line for InfluxDB goes here first, and is deleted once delivered.

Layout under ``RUN_DIR/spool/``: segment files ``influx-000001.lp`` ... (line protocol, appended
by the gevent loop, rolled over at ``segment_bytes``) and ``state.json`` (segment and byte offset
delivered so far, written by the sender after each acknowledged batch). Delivery is oldest first;
a fully delivered segment is removed. The spool is bounded: beyond ``max_bytes`` of undelivered
data new lines are refused and counted (they remain in windows.jsonl / journal.jsonl).

One writer (the gevent loop) and one reader (the sender thread) need no lock: the reader only
consumes complete lines and only removes segments the writer has left.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_SEGMENT = re.compile(r"^influx-(\d{6})\.lp$")


@dataclass
class Batch:
    segment: int
    start: int
    end: int
    text: str
    lines: int


class Spool:
    def __init__(
        self, path: Path, max_bytes: int = 512 << 20, segment_bytes: int = 8 << 20
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.refused_lines = 0
        self.appended_lines = 0
        path.mkdir(parents=True, exist_ok=True)
        segs = self.segments()
        self._current = segs[-1] if segs else 1
        self._current_size = self._size(self._current)
        self._fh: BinaryIO | None = None

    # -- both sides ------------------------------------------------------------------------

    def segments(self) -> list[int]:
        out = []
        for p in self.path.iterdir():
            m = _SEGMENT.match(p.name)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def _seg_path(self, n: int) -> Path:
        return self.path / f"influx-{n:06d}.lp"

    def _size(self, n: int) -> int:
        try:
            return self._seg_path(n).stat().st_size
        except FileNotFoundError:
            return 0

    def state(self) -> tuple[int, int]:
        try:
            d = json.loads((self.path / "state.json").read_text())
            return int(d["segment"]), int(d["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            segs = self.segments()
            return (segs[0] if segs else 1), 0

    def pending_bytes(self) -> int:
        seg, off = self.state()
        total = 0
        for n in self.segments():
            if n > seg:
                total += self._size(n)
            elif n == seg:
                total += max(0, self._size(n) - off)
        return total

    def pending_lines(self) -> dict[str, int]:
        """Undelivered lines by measurement."""
        seg, off = self.state()
        out: dict[str, int] = {}
        for n in self.segments():
            if n < seg:
                continue
            with open(self._seg_path(n), "rb") as fh:
                if n == seg:
                    fh.seek(off)
                for raw in fh:
                    if raw.endswith(b"\n"):
                        m = raw.split(b",", 1)[0].decode("utf-8", "replace")
                        out[m] = out.get(m, 0) + 1
        return out

    # -- writer (gevent loop) --------------------------------------------------------------

    def append(self, lines: list[str]) -> int:
        """Append lines; returns how many were refused because the spool is full."""
        if not lines:
            return 0
        data = "".join(f"{ln}\n" for ln in lines).encode("utf-8")
        if self.pending_bytes() + len(data) > self.max_bytes:
            self.refused_lines += len(lines)
            return len(lines)
        if self._fh is not None and self._current_size >= self.segment_bytes:
            self._fh.close()
            self._fh = None
            self._current += 1
            self._current_size = 0
        if self._fh is None:
            self._fh = open(self._seg_path(self._current), "ab")
        self._fh.write(data)
        self._fh.flush()
        self._current_size += len(data)
        self.appended_lines += len(lines)
        return 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    # -- reader (sender thread) ------------------------------------------------------------

    def next_batch(self, max_lines: int = 2000, max_bytes: int = 1 << 20) -> Batch | None:
        """The oldest undelivered complete lines, or None when everything is delivered."""
        seg, off = self.state()
        for n in self.segments():
            if n < seg:
                continue
            start = off if n == seg else 0
            with open(self._seg_path(n), "rb") as fh:
                fh.seek(start)
                chunk = fh.read(max_bytes)
            cut = chunk.rfind(b"\n")
            if cut < 0:
                if len(chunk) >= max_bytes:  # one line longer than a batch: send it alone
                    with open(self._seg_path(n), "rb") as fh:
                        fh.seek(start)
                        chunk = fh.readline()
                    cut = len(chunk) - 1 if chunk.endswith(b"\n") else -1
                if cut < 0:
                    if n != self.segments()[-1]:  # a torn tail of an old segment: skip it
                        self._commit(n + 1, 0)
                        return self.next_batch(max_lines, max_bytes)
                    return None
            body = chunk[: cut + 1]
            lines = body.split(b"\n")[:-1]
            if len(lines) > max_lines:
                lines = lines[:max_lines]
                body = b"\n".join(lines) + b"\n"
            return Batch(n, start, start + len(body), body.decode("utf-8"), len(lines))
        return None

    def delivered(self, batch: Batch) -> None:
        """Record a batch as delivered; drop segments that are done."""
        segs = self.segments()
        if batch.end >= self._size(batch.segment) and segs and batch.segment != segs[-1]:
            self._commit(batch.segment + 1, 0)
        else:
            self._commit(batch.segment, batch.end)

    def _commit(self, segment: int, offset: int) -> None:
        tmp = self.path / ".state.json.tmp"
        tmp.write_text(json.dumps({"segment": segment, "offset": offset}))
        os.replace(tmp, self.path / "state.json")
        for n in self.segments():
            if n < segment:
                try:
                    self._seg_path(n).unlink()
                except FileNotFoundError:
                    pass
