"""Wiring of the results half into Locust.

Recording, run directory, streaming and the verdict: options, test_start/quitting, messages.

Called once from ``locustfiles/_harness.py`` through ``install(events)``. The session is the
environment's harness's (``environment.chaosbench.session``); it records against the run's
timeline and, at the end, checks the run's integrity counters merged with every worker's.

Order at the end (``quitting``, whatever the order of its listeners): every fault is reverted
first (``chaosbench.wiring.chaos.revert_all``: the reverts are in the journal), then the
recording is finished and the run judged. A run ended by SIGINT or SIGTERM is judged and
reported like any other, but exits 2 (cannot measure) with one line saying so: it stopped before
its profile ended, and an interrupted CI job must not pass its gate by accident.

At ``test_start`` the recording starts only once the start's check of options and targets
passed (``preflight``); a refused start leaves no run directory.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import sys
from typing import Any, TextIO

from locust.event import Events
from locust.runners import MasterRunner, WorkerRunner

from chaosbench.analysis.recording.recorder import Recorder
from chaosbench.analysis.recording.session import MSG_WINDOWS, RecordingSession
from chaosbench.analysis.recording.settings import (
    DEFAULT_SUT_PG_DSN,
    DEFAULT_SUT_PG_SCHEMA,
    ResultsSettings,
)
from chaosbench.analysis.recording.window import ClosedWindow
from chaosbench.analysis.rundir.loader import read_meta
from chaosbench.analysis.rundir.record import (
    LocustTotals,
    RecordingInfo,
    RunRecord,
    build_run_record,
)
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, EXIT_MEANING, ChaosbenchError
from chaosbench.ground.integrity import CountersReport
from chaosbench.users.options import preflight
from chaosbench.wiring.chaos import revert_all
from chaosbench.wiring.harness import Harness
from chaosbench.wiring.processes import stop_workers

VERDICTS = {0: "pass", 1: "fail", 2: "cannot_measure"}


def install(events: Events) -> None:
    """Register the results options and listeners on Locust's events."""
    events.init_command_line_parser.add_listener(add_options)
    events.init.add_listener(_on_init)


def add_options(parser: Any) -> None:
    a = parser.add_argument
    a(
        "--results-dir",
        default="runs",
        env_var="LOCUST_RESULTS_DIR",
        help="chaosbench: where run directories are created (default ./runs)",
    )
    a(
        "--run-id",
        default=None,
        env_var="LOCUST_RUN_ID",
        help="chaosbench: run directory name (default: UTC timestamp + random suffix)",
    )
    a(
        "--sut-pg-dsn",
        default=DEFAULT_SUT_PG_DSN,
        env_var="LOCUST_SUT_PG_DSN",
        help="chaosbench: PostgreSQL of the system under test, for the end-of-run order check "
        "('none' to skip)",
    )
    a(
        "--sut-pg-schema",
        default=DEFAULT_SUT_PG_SCHEMA,
        env_var="LOCUST_SUT_PG_SCHEMA",
        help="chaosbench: schema holding the SUT's orders table",
    )
    a(
        "--influx-url",
        default=None,
        env_var="LOCUST_INFLUX_URL",
        help="chaosbench: InfluxDB URL (or INFLUX_URL); streaming is off without it",
    )
    a("--influx-org", default=None, env_var="LOCUST_INFLUX_ORG", help="chaosbench: InfluxDB org")
    a(
        "--influx-bucket",
        default=None,
        env_var="LOCUST_INFLUX_BUCKET",
        help="chaosbench: InfluxDB bucket",
    )
    a(
        "--influx-token",
        default=None,
        env_var="LOCUST_INFLUX_TOKEN",
        include_in_web_ui=False,
        help="chaosbench: InfluxDB token (or INFLUX_TOKEN); never printed nor stored",
    )
    a(
        "--influx-timeout",
        type=float,
        default=5.0,
        env_var="LOCUST_INFLUX_TIMEOUT",
        help="chaosbench: InfluxDB write timeout, s",
    )
    a(
        "--influx-drain-timeout",
        type=float,
        default=5.0,
        env_var="LOCUST_INFLUX_DRAIN_TIMEOUT",
        help="chaosbench: at the end, wait at most this long (s) for InfluxDB before giving up",
    )
    a(
        "--influx-spool-max-mb",
        type=int,
        default=512,
        env_var="LOCUST_INFLUX_SPOOL_MAX_MB",
        help="chaosbench: bound of the on-disk spool of undelivered InfluxDB data, MB",
    )
    a(
        "--window-grace",
        type=float,
        default=2.0,
        env_var="LOCUST_WINDOW_GRACE",
        help="chaosbench: seconds a per-second window stays open for requests still in flight",
    )
    a("--gate", default=None, env_var="LOCUST_GATE", help="chaosbench: gate config (YAML)")
    a(
        "--baseline-run",
        default=None,
        env_var="LOCUST_BASELINE_RUN",
        help="chaosbench: compare with this earlier run directory "
        "(chaosbench analyze calls it --baseline)",
    )


def _fail(message: str) -> None:
    print(f"chaosbench: {message}", file=sys.stderr)
    sys.exit(EXIT_CANNOT_MEASURE)


def _conclude(settings: ResultsSettings, out: TextIO) -> int:
    from chaosbench.analysis.verdict import conclude  # the statistics: on the master only

    try:
        return int(conclude(settings.run_dir, settings.gate_path, settings.baseline, out=out))
    except ChaosbenchError as exc:
        print(f"chaosbench: {exc}", file=sys.stderr)
        return EXIT_CANNOT_MEASURE
    except Exception:  # a bug in the analysis must not lose the run's exit code or its data
        logging.getLogger("chaosbench.results").exception("chaosbench: the analysis failed")
        print(f"chaosbench: the analysis of {settings.run_dir} failed (see above)", file=sys.stderr)
        return EXIT_CANNOT_MEASURE


def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    h = Harness.of(environment)
    o = environment.parsed_options
    if o is None or not hasattr(o, "results_dir"):
        return
    is_worker = isinstance(runner, WorkerRunner)
    try:
        settings = ResultsSettings.from_options(o)
        # a master receives a worker's window one grace and up to two ticks after its second:
        # it keeps its own windows open that much longer so that they merge, not arrive late
        grace = settings.grace + (2 * settings.tick + 1 if isinstance(runner, MasterRunner) else 0)
        recorder = Recorder(h.state.timeline, grace=grace)
        session = RecordingSession(settings, recorder, h.state)
        record: RunRecord | None = None
        if not is_worker:
            from chaosbench.analysis.gate import load_gate  # the statistics: not on workers

            gate_cfg = load_gate(settings.gate_path)
            if settings.baseline is not None:
                read_meta(settings.baseline)
            session.prepare()
            record = build_run_record(
                run_id=settings.run_id,
                seed=h.seed,  # the seed the scheduler uses (random when the YAML has none)
                profile_path=getattr(o, "chaos_profile", None),
                gate_path=settings.gate_path,
                gate_config=gate_cfg.model_dump(mode="json"),
                baseline=settings.baseline,
                options=vars(o),
                mode="master" if isinstance(runner, MasterRunner) else "local",
                host=environment.host,
                influx=settings.influx.public() if settings.influx else None,
                recording=RecordingInfo(grace_s=settings.grace, tick_s=settings.tick),
            )
    except ChaosbenchError as exc:
        _fail(str(exc))
        return
    h.session = session
    environment.events.request.add_listener(recorder.on_request)
    events = environment.events

    if is_worker:

        def send(windows: list[ClosedWindow], final: bool, counters: CountersReport) -> None:
            runner.send_message(
                MSG_WINDOWS,
                {
                    "worker": runner.client_id,
                    "final": final,
                    "windows": [w.to_json() for w in windows],
                    "counters": counters.to_dict(),
                },
            )

        events.test_start.add_listener(lambda **_: session.start_worker(send))
        events.test_stop.add_listener(lambda **_: session.stop_worker())
        # a worker ended by a signal (Ctrl-C reaches every process of --processes) quits without
        # a test_stop first: its last windows go before Locust tells the master it quit
        events.quitting.add_listener(lambda **_: session.stop_worker())
        return

    workers = {"expected": 0}
    if isinstance(runner, MasterRunner):
        runner.register_message(MSG_WINDOWS, lambda msg, **_: session.on_worker_windows(msg.data))

        def on_master_stop(**_: Any) -> None:
            workers["expected"] = max(workers["expected"], runner.worker_count)

        events.test_start.add_listener(on_master_stop)
        events.test_stop.add_listener(on_master_stop)

    assert record is not None
    run_record = record

    # at test start: the seed of the profile the scheduler runs (the web UI may have changed it)
    def on_test_start(environment: Any, **_: Any) -> None:
        if preflight(environment) is not None:
            return  # refused: no recording, and quitting removes the empty run directory
        session.start(dataclasses.replace(run_record, seed=h.seed))

    events.test_start.add_listener(on_test_start)
    chaos_events = h.state.events
    chaos_events.phase_changed.add_listener(session.on_phase_changed)
    chaos_events.fault_injected.add_listener(session.on_fault_injected)
    chaos_events.fault_reverted.add_listener(session.on_fault_reverted)
    chaos_events.chaos_stopped.add_listener(session.on_chaos_stopped)

    ended: list[bool] = []  # a master's SIGTERM makes Locust fire quitting twice: judge once

    def on_quitting(environment: Any, **_: Any) -> None:
        if ended:
            return
        ended.append(True)
        revert_all(h)  # first: judged after every fault is reverted and journaled
        stop_workers(environment.runner)  # workers still loading send their last windows
        total = environment.stats.total
        try:
            session.finish(
                LocustTotals(total.num_requests, total.num_failures),
                expected_workers=workers["expected"],
            )
        except ChaosbenchError as exc:
            print(f"chaosbench: {exc}", file=sys.stderr)
            environment.process_exit_code = EXIT_CANNOT_MEASURE
            session.drain()
            return
        if session.started is None:  # no test ran: leave no empty run directory behind
            try:
                settings.run_dir.rmdir()
            except OSError:
                pass
            return
        verdict = io.StringIO()
        code = _conclude(settings, verdict)
        h.verdict_text = verdict.getvalue()
        if h.exits.signal_name is not None:  # an incomplete run: its one line, not a verdict
            h.verdict_text = ""
            print(
                f"chaosbench: interrupted by {h.exits.signal_name}: faults reverted, the run is "
                f"incomplete (exit {EXIT_CANNOT_MEASURE}; report in {settings.run_dir})",
                file=sys.stderr,
                flush=True,
            )
            code = EXIT_CANNOT_MEASURE
        environment.process_exit_code = code
        session.stream_verdict(code, VERDICTS.get(code, str(code)))
        session.drain()

    def on_quit(exit_code: int, **_: Any) -> None:
        """Last, after Locust's summary: the verdict block and the exit code it gave (nothing
        when nothing was judged: a refused or interrupted run has said its one line)."""
        if h.verdict_text and len(ended) == 1:  # once, though Locust may fire quit twice
            ended.append(True)
            meaning = EXIT_MEANING.get(exit_code, "interrupted")
            print(f"{h.verdict_text}chaosbench: exit code {exit_code} ({meaning})", flush=True)

    events.quitting.add_listener(on_quitting)
    events.quit.add_listener(on_quit)
