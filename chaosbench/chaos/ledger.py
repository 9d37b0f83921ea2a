"""The ledger: faults whose effect outlives the process, persisted before they are applied.

A persistent fault (``Fault.persistent``: a lowered Redis ``maxmemory``, a SIGSTOPped process, a
service taken down by a command) writes an entry here *before* it changes anything, with the undo
state it needs (the original ``maxmemory``, the pid and its start time, ...), and removes the
entry after its revert. If the harness is killed in between, the entry stays on disk and a later
start, or ``python -m chaosbench.chaos reset`` / ``make reset``, calls :func:`revert_leftovers`,
which
rebuilds each fault from its entry and reverts it.

Where: ONE ledger per machine and user, whatever the working directory (see
:func:`default_ledger_path`): ``$CHAOSBENCH_LEDGER`` when set, else
``$XDG_STATE_HOME/chaosbench/ledger.json``, else ``~/.local/state/chaosbench/ledger.json``. The
folder is created 0700 and the file written 0600: entries hold the settings needed to revert,
DSNs and URLs with their credentials included. Harnesses of the same user share it (a lock file
next to it serialises the changes); an entry whose harness still runs is left to that harness.
A legacy ``./.chaosbench/ledger.json`` (the old per-folder location) found in the working
directory is merged into it once, and said.

The file is one JSON document, rewritten atomically (temporary file + rename) at every change::

    {"version": 1, "entries": [{"key": "4242:mem", "type": "redis_memory_pressure",
      "name": "mem", "settings": {...}, "intensity": 1.0, "undo": {"maxmemory": 0, ...},
      "pid": 4242, "pid_start": 123456, "created": 1763700000.0}]}

How an entry is reverted: a fault class may define ``revert_leftover(entry) -> str`` (a
classmethod that needs nothing but the entry's ``undo`` state); otherwise the fault is rebuilt
from ``settings`` and ``intensity`` and its ``revert()`` is called.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaosbench.ground.errors import ChaosbenchError, FaultError
from chaosbench.ground.redact import redact
from chaosbench.ground.text import short_repr
from chaosbench.ground.translate import error_line

if TYPE_CHECKING:
    from chaosbench.chaos.faults.base import Fault

LEDGER_VERSION = 1
DEFAULT_LEDGER_ENV = "CHAOSBENCH_LEDGER"


#: The old per-folder location, read (and merged) when found in the working directory.
LEGACY_LEDGER = Path(".chaosbench/ledger.json")
#: How long a change waits for another harness's change to the same ledger.
LOCK_TIMEOUT_S = 10.0


def state_home() -> Path:
    """``$XDG_STATE_HOME`` (when absolute, as the XDG spec requires), else ``~/.local/state``."""
    xdg = os.environ.get("XDG_STATE_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "state"


def default_ledger_path() -> Path:
    """``$CHAOSBENCH_LEDGER``, else ``<state home>/chaosbench/ledger.json``: one per machine
    and user, the same from every working directory."""
    override = os.environ.get(DEFAULT_LEDGER_ENV)
    if override:
        return Path(override).expanduser()
    return state_home() / "chaosbench" / "ledger.json"


def process_start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22), or
    None when the process does not exist. Together with the pid it names one process, even after
    the pid is reused."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def process_alive(pid: int, start: int | None) -> bool:
    """True when the process ``pid`` that started at ``start`` is still running (not a zombie)."""
    now = process_start_time(pid)
    if now is None or (start is not None and now != start):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"


def fault_key(fault: Fault[Any]) -> str:
    """The ledger key of one fault instance of this process."""
    return f"{os.getpid()}:{fault.name}"


@dataclass(slots=True)
class LedgerEntry:
    key: str
    type: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    intensity: float = 1.0
    undo: dict[str, Any] = field(default_factory=dict)
    pid: int = 0
    pid_start: int | None = None
    created: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> LedgerEntry:
        try:
            return cls(
                key=str(d["key"]),
                type=str(d["type"]),
                name=str(d["name"]),
                settings=dict(d.get("settings") or {}),
                intensity=float(d.get("intensity", 1.0)),
                undo=dict(d.get("undo") or {}),
                pid=int(d.get("pid", 0)),
                pid_start=None if d.get("pid_start") is None else int(d["pid_start"]),
                created=float(d.get("created", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FaultError(f"{where}: malformed ledger entry ({error_line(exc)})") from None

    @property
    def owner_alive(self) -> bool:
        """The harness process that wrote this entry is still running."""
        return self.pid != os.getpid() and process_alive(self.pid, self.pid_start)


class Ledger:
    """The on-disk ledger at ``path`` (created with its folder on first write)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    # -- reading and writing the file -------------------------------------------------------
    def entries(self) -> list[LedgerEntry]:
        if not self.path.exists():
            return []
        try:
            doc = json.loads(self.path.read_text() or "{}")
        except (OSError, json.JSONDecodeError) as exc:
            raise FaultError(f"{self.path}: unreadable ledger ({error_line(exc)})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("entries", []), list):
            raise FaultError(f"{self.path}: not a chaosbench ledger")
        if doc.get("version", LEDGER_VERSION) != LEDGER_VERSION:
            version = short_repr(doc.get("version"))
            raise FaultError(f"{self.path}: ledger version {version} not supported")
        return [
            LedgerEntry.from_dict(e, f"{self.path} entry {i}")
            for i, e in enumerate(doc.get("entries", []))
        ]

    def _ensure_folder(self) -> None:
        """The ledger's folder, created 0700 (and made 0700 when it is ours and looser)."""
        folder = self.path.parent
        if not folder.exists():
            folder.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)
        elif folder.name == "chaosbench":
            info = folder.stat()
            if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != 0o700:
                os.chmod(folder, 0o700)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the ledger's lock file (``<path>.lock``) for one read-modify-write. Waits in
        short sleeps (cooperative under gevent) up to ``LOCK_TIMEOUT_S``."""
        self._ensure_folder()
        lock = self.path.with_name(f"{self.path.name}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise FaultError(
                            f"{self.path}: another harness holds the ledger lock {lock} "
                            f"for more than {LOCK_TIMEOUT_S:g} s"
                        ) from None
                    time.sleep(0.01)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write(self, entries: list[LedgerEntry]) -> None:
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        self._ensure_folder()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        doc = {"version": LEDGER_VERSION, "entries": [e.to_dict() for e in entries]}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # credentials inside: never wider, whatever the umask
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def merge(self, entries: list[LedgerEntry]) -> int:
        """Add ``entries`` not already here (by key); how many were added."""
        with self._locked():
            have = self.entries()
            keys = {e.key for e in have}
            new = [e for e in entries if e.key not in keys]
            if new:
                self._write(have + new)
            return len(new)

    # -- what faults and the scheduler call --------------------------------------------------
    def record(self, fault: Fault[Any], undo: dict[str, Any] | None = None) -> LedgerEntry:
        """Write (or update) the entry of ``fault``, BEFORE the change it describes is applied.

        Called by the scheduler before ``inject()`` (no undo state yet) and by the fault itself
        once it knows its undo state; both calls land in the same entry.
        """
        key = fault_key(fault)
        with self._locked():
            return self._record(key, fault, undo)

    def _record(self, key: str, fault: Fault[Any], undo: dict[str, Any] | None) -> LedgerEntry:
        entries = self.entries()
        old = next((e for e in entries if e.key == key), None)
        entry = LedgerEntry(
            key=key,
            type=fault.type_name,
            name=fault.name,
            settings=fault.settings.model_dump(mode="json"),
            intensity=float(fault.intensity),
            undo={**(old.undo if old else {}), **(undo or {})},
            pid=os.getpid(),
            pid_start=process_start_time(os.getpid()),
            created=old.created if old else time.time(),
        )
        self._write([e for e in entries if e.key != key] + [entry])
        return entry

    def remove(self, fault: Fault[Any]) -> None:
        """Drop the entry of ``fault`` (after its revert succeeded). No entry: nothing to do."""
        self.remove_key(fault_key(fault))

    def remove_key(self, key: str) -> None:
        if not self.path.exists():
            return
        with self._locked():
            entries = self.entries()
            kept = [e for e in entries if e.key != key]
            if len(kept) != len(entries):
                self._write(kept)


def revert_entry(entry: LedgerEntry) -> str:
    """Revert one leftover entry; returns a one-line description of what was done."""
    from chaosbench.chaos.faults import FaultContext, catalogue

    cls = catalogue().get(entry.type)
    if cls is None:
        raise FaultError(f"ledger entry {entry.key}: unknown fault type {entry.type!r}")
    custom = getattr(cls, "revert_leftover", None)
    if custom is not None:
        return str(custom(entry))
    try:
        settings = cls.Settings(**entry.settings)
    except Exception as exc:
        raise FaultError(
            f"ledger entry {entry.key}: settings no longer valid ({error_line(exc)})"
        ) from None
    fault = cls(entry.name, settings, FaultContext(), entry.intensity)
    fault.revert()
    return f"reverted {entry.type} {entry.name!r}"


def revert_leftovers(path: str | os.PathLike[str] | None = None, force: bool = False) -> list[str]:
    """Revert every fault a dead harness left in the ledger at ``path``; say what was reverted.

    Entries of a harness that is still running are left alone (that harness reverts its own
    faults) unless ``force``. An entry whose revert fails stays in the ledger and its line says
    ``failed: ...``; the others are removed.
    """
    ledger = Ledger(path if path is not None else default_ledger_path())
    done = merge_legacy(ledger)
    for entry in ledger.entries():
        if entry.owner_alive and not force:
            done.append(f"left {entry.type} {entry.name!r}: its harness (pid {entry.pid}) runs")
            continue
        try:
            line = revert_entry(entry)
        except Exception as exc:  # ours, a server's or the OS's: keep it for the next reset
            done.append(f"failed {entry.type} {entry.name!r}: {error_line(exc)}")
            continue
        ledger.remove_key(entry.key)
        done.append(redact(line))
    return done


def merge_legacy(ledger: Ledger, legacy: Path = LEGACY_LEDGER) -> list[str]:
    """Merge a legacy per-folder ledger (``./.chaosbench/ledger.json``) into ``ledger`` once:
    its entries are added and the old file removed. Returns what was done (nothing when there
    is no such file, or when it is ``ledger``'s own file)."""
    if not legacy.is_file():
        return []
    with contextlib.suppress(OSError):
        if ledger.path.exists() and os.path.samefile(legacy, ledger.path):
            return []
    entries = Ledger(legacy).entries()
    added = ledger.merge(entries)
    legacy.unlink(missing_ok=True)
    return [
        f"merged the legacy ledger {legacy.resolve()} into {ledger.path} "
        f"({added} of {len(entries)} entries new)"
    ]


def revert_leftovers_at_start(path: str | os.PathLike[str] | None = None) -> list[str]:
    """What every harness start calls, whatever its options (chaos on or off, ``--no-chaos``,
    ``enabled: false``), before it adds anything: revert what a killed harness left, in the
    machine's ledger (:func:`default_ledger_path`) and a legacy one in the working directory.
    Returns the lines to print (nothing when nothing was left); never raises: a ledger that
    cannot be read is one ``failed ...`` line."""
    where = path if path is not None else default_ledger_path()
    try:
        lines = revert_leftovers(where)
    except ChaosbenchError as exc:
        return [f"failed ledger {where}: {exc}"]
    except OSError as exc:
        return [f"failed ledger {where}: {error_line(exc)}"]
    return [f"chaos ledger {where}: {line}" for line in lines]
