"""The run directory's layout and format version (documented in docs/run-directory.md)."""

from __future__ import annotations

FORMAT = "chaosbench-run"
FORMAT_VERSION = 1

META = "meta.json"
JOURNAL = "journal.jsonl"
MARKS = "marks.jsonl"
WINDOWS = "windows.jsonl"
INTEGRITY = "integrity.json"
INJECTIONS = "injections.json"
SPOOL_DIR = "spool"
