"""``python -m chaosbench.analysis.influx send RUN_DIR [--all]``: deliver what a run left in its
InfluxDB
spool (``--all``: re-send the whole run from the run directory, e.g. after the spool overflowed).

URL, org and bucket default to the ones the run used (meta.json); the token comes from
``--token`` or INFLUX_TOKEN / LOCUST_INFLUX_TOKEN (it is never stored in the run directory).
Exit code 0 when everything is delivered, 2 otherwise (one line says why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chaosbench.analysis.influx import schema
from chaosbench.analysis.influx.config import InfluxConfig
from chaosbench.analysis.influx.sender import Sender, describe_error
from chaosbench.analysis.influx.spool import Spool
from chaosbench.analysis.rundir import format as fmt
from chaosbench.analysis.rundir.loader import read_journal, read_meta, read_windows
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, ChaosbenchError, RunDirError
from chaosbench.ground.redact import redact


def send(run_dir: Path, config: InfluxConfig, batch_lines: int = 5000) -> tuple[int, str | None]:
    """Deliver the spool oldest first; (lines sent, error that stopped it or None)."""
    spool_dir = run_dir / fmt.SPOOL_DIR
    if not spool_dir.is_dir():
        raise RunDirError(f"{spool_dir}: no InfluxDB spool in this run directory")
    spool = Spool(spool_dir)
    sender = Sender(config)
    sent = 0
    try:
        while (batch := spool.next_batch(batch_lines)) is not None:
            try:
                sender.write(batch.text)
            except Exception as exc:  # refused or unreachable: stop, the spool keeps the rest
                return sent, describe_error(exc)
            spool.delivered(batch)
            sent += batch.lines
    finally:
        sender.close()
    return sent, None


def send_all(run_dir: Path, config: InfluxConfig, batch_lines: int = 5000) -> int:
    """Re-send the whole run from windows.jsonl and journal.jsonl (idempotent: the same points
    overwrite themselves). For a spool that overflowed or was deleted."""
    meta = read_meta(run_dir)
    run_id = meta.run_id
    lines = [schema.event_line(r, run_id) for r in read_journal(run_dir)]
    for w in read_windows(run_dir):
        lines.extend(schema.window_lines(w, run_id))
        w.release()
    lines.append(schema.run_line(run_id, meta.start, {"started": meta.start}))
    if meta.end is not None:
        lines.append(schema.run_line(run_id, meta.end, {"ended": meta.end}))
    sender = Sender(config)
    try:
        for i in range(0, len(lines), batch_lines):
            sender.write("\n".join(lines[i : i + batch_lines]))
    finally:
        sender.close()
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chaosbench.analysis.influx")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send", help="deliver the undelivered InfluxDB data of a run directory")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--url")
    s.add_argument("--org")
    s.add_argument("--bucket")
    s.add_argument("--token")
    s.add_argument("--timeout", type=float, default=10.0)
    s.add_argument(
        "--all",
        action="store_true",
        help="re-send the whole run from windows.jsonl and journal.jsonl, not only the spool",
    )
    args = p.parse_args(argv)
    try:
        meta = read_meta(args.run_dir)
        used = meta.influx or {}
        config = InfluxConfig.build(
            args.url or used.get("url"),
            args.org or used.get("org"),
            args.bucket or used.get("bucket"),
            args.token,
            args.timeout,
        )
        if config is None:
            raise ChaosbenchError("no InfluxDB URL: give --url or INFLUX_URL")
        if args.all:
            try:
                n = send_all(args.run_dir, config)
            except Exception as exc:  # refused or unreachable
                failure = redact(describe_error(exc))
                print(f"chaosbench: {config.shown_url}: {failure}", file=sys.stderr)
                return EXIT_CANNOT_MEASURE
            print(f"chaosbench: sent the whole run ({n} lines) to {config.shown_url}")
            return 0
        sent, error = send(args.run_dir, config)
        left = Spool(args.run_dir / fmt.SPOOL_DIR).pending_lines()
    except ChaosbenchError as exc:
        print(f"chaosbench: {redact(str(exc))}", file=sys.stderr)
        return EXIT_CANNOT_MEASURE
    if error or left:
        n = sum(left.values())
        why = redact(error or "incomplete")
        print(f"chaosbench: sent {sent} lines; {n} still undelivered ({why})")
        return EXIT_CANNOT_MEASURE
    print(f"chaosbench: sent {sent} lines to {config.shown_url}; nothing left in the spool")
    return 0


if __name__ == "__main__":
    sys.exit(main())
