"""Wiring of the results half into Locust.

Recording, run directory, streaming and the verdict: options, test_start/test_stop/quitting,
messages. Called once from ``locustfiles/_harness.py`` through ``install(events)``.

**One run per test.** Every test of an Environment (each start in the web UI, the one headless
run) gets its own run id, run directory, recording session (``RecordingSession``: recorder,
streamer, integrity counters), timeline (the scheduler clears it at each start) and verdict, and
one ``TestRun`` in ``harness.runs``. The results options are read anew at each test start
(the web UI's form may have changed them) and checked there, before the chaos and the load
start (a check that ``users.options.preflight`` runs): a bad value refuses that start with one
line. An explicit run id already used by an earlier test of this process gets the first free
suffix (``<id>-2``, ``<id>-3``, ...); one whose directory holds a run from elsewhere is refused.

**When a test is judged.** Headless: at the end (``quitting``), the verdict block printed last
at Locust's ``quit``, after Locust's summary, ending with the exit code line. Web UI: when the
test stops (``test_stop``: the /stop button, the profile's end, a refusal), its verdict block
printed then; a test still running when the process quits is judged at ``quitting``. Either way
every fault is reverted first (``chaosbench.wiring.chaos.revert_all``: the reverts are in the
journal), then the recording is finished and the test judged. The process exits with the last
test's verdict. A run ended by SIGINT or SIGTERM is judged and reported like any other, but
exits 2 (cannot measure) with one line saying so: it stopped before its profile ended, and an
interrupted CI job must not pass its gate by accident.

Headless (or ``--autostart``), the first test's options are final at ``init``: its run
directory is created there (a bad option or a taken run id ends the process with one line
before any load); a refused start leaves no run directory.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

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
from chaosbench.analysis.rundir import format as fmt
from chaosbench.analysis.rundir.loader import read_meta
from chaosbench.analysis.rundir.record import (
    LocustTotals,
    RecordingInfo,
    RunRecord,
    build_run_record,
)
from chaosbench.ground.errors import (
    EXIT_CANNOT_MEASURE,
    EXIT_MEANING,
    ChaosbenchError,
    RunDirError,
)
from chaosbench.ground.integrity import CountersReport
from chaosbench.users.options import add_start_check, preflight, refuse_start
from chaosbench.wiring.chaos import revert_all, start_check
from chaosbench.wiring.harness import Harness, TestRun
from chaosbench.wiring.processes import stop_workers
from chaosbench.wiring.thresholds import add_threshold_option, values, warn_if_nothing_to_judge

if TYPE_CHECKING:
    from chaosbench.analysis.gate import GateConfig

log = logging.getLogger("chaosbench.results")

VERDICTS = {0: "pass", 1: "fail", 2: "cannot_measure"}
#: set on a web UI master's options, which Locust hands to its workers with each test
STATS_AT_STOP = "chaosbench_stats_at_stop"


def install(events: Events) -> None:
    """Register the results options and listeners on Locust's events."""
    events.init_command_line_parser.add_listener(add_options)
    events.init_command_line_parser.add_listener(add_threshold_option)
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
        is_secret=True,  # a password in it: a password field in the web UI
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


def _conclude(settings: ResultsSettings, out: TextIO, thresholds: list[str]) -> int:
    from chaosbench.analysis.verdict import conclude  # the statistics: on the master only

    try:
        run_dir, gate, base = settings.run_dir, settings.gate_path, settings.baseline
        return int(conclude(run_dir, gate, base, out=out, extra_thresholds=thresholds))
    except ChaosbenchError as exc:
        print(f"chaosbench: {exc}", file=sys.stderr)
        return EXIT_CANNOT_MEASURE
    except Exception:  # a bug in the analysis must not lose the run's exit code or its data
        logging.getLogger("chaosbench.results").exception("chaosbench: the analysis failed")
        print(f"chaosbench: the analysis of {settings.run_dir} failed (see above)", file=sys.stderr)
        return EXIT_CANNOT_MEASURE


def _starts_at_once(o: Any) -> bool:
    return bool(getattr(o, "headless", False) or getattr(o, "autostart", False))


def _recorder(h: Harness, settings: ResultsSettings, master: bool) -> Recorder:
    # a master receives a worker's window one grace and up to two ticks after its second:
    # it keeps its own windows open that much longer so that they merge, not arrive late
    grace = settings.grace + (2 * settings.tick + 1 if master else 0)
    return Recorder(h.state.timeline, grace=grace)


@dataclass
class _Armed:
    """A test's recording, prepared at its start check (run directory created), not started."""

    session: RecordingSession
    record: RunRecord
    thresholds: list[str]  # the --threshold values of this test


@dataclass
class _Running:
    test: TestRun
    session: RecordingSession
    thresholds: list[str]


class Results:
    """The results half of one Environment on a master or a local runner: one recording
    session per test, judged at its end."""

    def __init__(self, environment: Any, runner: Any) -> None:
        self.environment = environment
        self.h = Harness.of(environment)
        self.runner = runner
        self.master = isinstance(runner, MasterRunner)
        self.armed: _Armed | None = None
        self.current: _Running | None = None
        self.expected_workers = 0
        self.printed = False  # the verdict block at quit
        #: the test being finished: workers' last windows still arrive while it waits for them
        self.finishing: RecordingSession | None = None

    # -- a test's settings -----------------------------------------------------------------

    def _settings(self, o: Any) -> tuple[ResultsSettings, GateConfig]:
        """This test's settings from the options as they are now, checked (``ChaosbenchError``
        names the option), with a run id no earlier test of this process used."""
        from chaosbench.analysis.gate import load_gate  # the statistics: not on workers
        from chaosbench.analysis.thresholds import from_options

        settings = ResultsSettings.from_options(o)
        gate_cfg = load_gate(settings.gate_path).with_thresholds(from_options(values(o)))
        warn_if_nothing_to_judge(self.h.disabled_reason, bool(gate_cfg.thresholds))
        if settings.baseline is not None:
            read_meta(settings.baseline)
        used = {t.run_id for t in self.h.runs}
        if settings.run_id in used:
            base, n = settings.run_id, 2
            while f"{base}-{n}" in used or (settings.results_dir / f"{base}-{n}").exists():
                n += 1
            settings = dataclasses.replace(settings, run_id=f"{base}-{n}")
            log.info("run id %s is an earlier test's: this test is %s", base, settings.run_id)
        return settings, gate_cfg

    def check_options(self) -> None:
        """At init: the results options given at start are valid (``ChaosbenchError``)."""
        o = self.environment.parsed_options
        settings, _ = self._settings(o)
        if (settings.run_dir / fmt.META).exists():
            raise RunDirError(f"{settings.run_dir}: already holds a run; choose another --run-id")

    def arm(self, environment: Any) -> str | None:
        """The start check: this test's settings read anew, its run directory created and its
        recording session ready (chaos events before the start are kept for it). The problem's
        one line, or None. A session armed at init (headless) is kept."""
        if self.armed is not None:
            return None
        h, o = self.h, environment.parsed_options
        try:
            settings, gate_cfg = self._settings(o)
            h.state.fresh_counters()  # this test's counters; the last test keeps its own
            session = RecordingSession(settings, _recorder(h, settings, self.master), h.state)
            session.prepare()
            record = build_run_record(
                run_id=settings.run_id,
                seed=h.seed,  # replaced at the start: the seed the scheduler uses
                profile_path=getattr(o, "chaos_profile", None),
                gate_path=settings.gate_path,
                gate_config=gate_cfg.model_dump(mode="json"),
                baseline=settings.baseline,
                options=vars(o),
                mode="master" if self.master else "local",
                host=environment.host,
                influx=settings.influx.public() if settings.influx else None,
                recording=RecordingInfo(grace_s=settings.grace, tick_s=settings.tick),
            )
        except ChaosbenchError as exc:
            return str(exc)
        self.armed = _Armed(session, record, values(o))
        return None

    def _drop_armed(self) -> None:
        if self.armed is not None:
            self.armed.session.discard()
            self.armed = None

    def session(self) -> RecordingSession | None:
        """Where chaos events and workers' windows go: the test being prepared or running."""
        if self.armed is not None:
            return self.armed.session
        if self.current is not None:
            return self.current.session
        return self.finishing

    # -- listeners -------------------------------------------------------------------------

    def on_test_start(self, environment: Any, **_: Any) -> None:
        if preflight(environment) is not None:
            self._drop_armed()
            return  # refused: no recording, no run directory
        if self.armed is None:  # preflight did not run the check (a start it had cached)
            problem = self.arm(environment)
            if problem is not None:
                refuse_start(environment, problem)
                return
        assert self.armed is not None
        armed, self.armed = self.armed, None
        h, session = self.h, armed.session
        # the seed of the profile the scheduler runs (the web UI may have changed it)
        session.start(dataclasses.replace(armed.record, seed=h.seed))
        environment.events.request.add_listener(session.recorder.on_request)
        test = TestRun(session.run_id, session.settings.run_dir, session.started or time.time())
        h.runs.append(test)
        h.session = session
        self.current = _Running(test, session, armed.thresholds)
        self.expected_workers = self.runner.worker_count if self.master else 0
        log.info("test %d: run %s, recorded in %s", len(h.runs), test.run_id, test.run_dir)

    def on_test_stop(self, environment: Any, **_: Any) -> None:
        self._drop_armed()
        if self.master:
            self.expected_workers = max(self.expected_workers, self.runner.worker_count)
        if getattr(environment.parsed_options, "headless", False):
            return  # headless: judged at quitting, once the workers have sent their last data
        cur = self.current
        code = self.judge(environment)
        if cur is not None and code is not None and cur.test.verdict_text:
            meaning = EXIT_MEANING.get(code, "interrupted")
            n = len(self.h.runs)
            print(
                f"{cur.test.verdict_text}chaosbench: test {n} ({cur.test.run_id}): exit code "
                f"{code} ({meaning})",
                flush=True,
            )

    def judge(self, environment: Any) -> int | None:
        """Revert every fault, finish the running test's recording, judge it: its exit code
        (None without a running test). Sets the process's exit code."""
        cur = self.current
        if cur is None:
            return None
        h, session, test = self.h, cur.session, cur.test
        revert_all(h)  # first: judged after every fault is reverted and journaled (its test's)
        self.current = None  # judged once, though a master's SIGTERM fires quitting twice
        self.finishing = session
        stop_workers(environment.runner)  # workers still loading send their last windows
        total = environment.stats.total
        try:
            session.finish(
                LocustTotals(total.num_requests, total.num_failures),
                expected_workers=self.expected_workers,
            )
        except ChaosbenchError as exc:
            print(f"chaosbench: {exc}", file=sys.stderr)
            test.ended_at, test.exit_code = time.time(), EXIT_CANNOT_MEASURE
            environment.process_exit_code = EXIT_CANNOT_MEASURE
            session.drain()
            return EXIT_CANNOT_MEASURE
        finally:
            environment.events.request.remove_listener(session.recorder.on_request)
        verdict = io.StringIO()
        code = _conclude(session.settings, verdict, cur.thresholds)
        text = verdict.getvalue()
        if h.exits.signal_name is not None:  # an incomplete run: its one line, not a verdict
            text = ""
            print(
                f"chaosbench: interrupted by {h.exits.signal_name}: faults reverted, the run is "
                f"incomplete (exit {EXIT_CANNOT_MEASURE}; report in {session.settings.run_dir})",
                file=sys.stderr,
                flush=True,
            )
            code = EXIT_CANNOT_MEASURE
        test.ended_at, test.verdict_text = time.time(), text
        test.exit_code = code
        h.verdict_text = text
        environment.process_exit_code = code
        session.stream_verdict(code, VERDICTS.get(code, str(code)))
        session.drain()
        return code

    def on_quitting(self, environment: Any, **_: Any) -> None:
        self._drop_armed()  # a prepared test that never started leaves no run directory
        self.judge(environment)  # the headless run, or a web UI test still running

    def on_quit(self, exit_code: int, **_: Any) -> None:
        """Last, after Locust's summary: the last test's verdict block and the exit code it
        gave (nothing when nothing was judged: a refused or interrupted run has said its one
        line)."""
        runs = self.h.runs
        if not runs or not runs[-1].verdict_text or self.printed:
            return
        self.printed = True  # once, though Locust may fire quit twice
        if len(runs) > 1:
            each = ", ".join(f"{t.run_id} exit {t.exit_code}" for t in runs)
            print(f"chaosbench: {len(runs)} tests ({each}); the last one's verdict:")
        meaning = EXIT_MEANING.get(exit_code, "interrupted")
        print(f"{runs[-1].verdict_text}chaosbench: exit code {exit_code} ({meaning})", flush=True)

    def on_worker_windows(self, msg: Any, **_: Any) -> None:
        session = self.session()
        if session is not None:
            session.on_worker_windows(msg.data)


def _install_worker(environment: Any, runner: Any, settings: ResultsSettings) -> None:
    """A worker: one session per test, its windows and counters sent to the master."""
    h, events = Harness.of(environment), environment.events

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

    def on_start(**_: Any) -> None:
        try:  # the master's options of this test (Locust sends them with the spawn message)
            now = ResultsSettings.from_options(environment.parsed_options)
        except ChaosbenchError:  # checked on the master; keep the ones this worker started with
            now = settings
        h.state.fresh_counters()
        session = RecordingSession(now, _recorder(h, now, master=False), h.state)
        h.session = session
        events.request.add_listener(session.recorder.on_request)
        session.start_worker(send)

    def on_stop(**_: Any) -> None:
        session = h.session
        if session is not None and not session.finished:
            session.finished = True
            session.stop_worker()
            # a web UI master's test: Locust's statistics of its last seconds too (Locust's own
            # final report comes only at quit), before this worker reports itself stopped, so
            # that the master's totals are complete when it judges the test. Not when a
            # headless master quits: it listens half a second more, for the windows.
            send_stats = getattr(runner, "_send_stats", None)
            if getattr(environment.parsed_options, STATS_AT_STOP, False) and callable(send_stats):
                send_stats()
            events.request.remove_listener(session.recorder.on_request)

    events.test_start.add_listener(on_start)
    events.test_stop.add_listener(on_stop)
    # a worker ended by a signal (Ctrl-C reaches every process of --processes) quits without a
    # test_stop first: its last windows go before Locust tells the master it quit
    events.quitting.add_listener(on_stop)


def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    h = Harness.of(environment)
    o = environment.parsed_options
    if o is None or not hasattr(o, "results_dir"):
        return
    if isinstance(runner, WorkerRunner):
        try:
            settings = ResultsSettings.from_options(o)
        except ChaosbenchError as exc:
            _fail(str(exc))
            return
        _install_worker(environment, runner, settings)
        return
    results = Results(environment, runner)
    if results.master and not getattr(o, "headless", False):
        setattr(o, STATS_AT_STOP, True)
    try:
        if _starts_at_once(o):  # the first test's options are final: its run directory now
            problem = results.arm(environment)
            if problem is not None:
                raise ChaosbenchError(problem)
        else:
            results.check_options()
    except ChaosbenchError as exc:
        _fail(str(exc))
        return
    add_start_check(environment, start_check)  # the chaos options of the form first
    add_start_check(environment, results.arm)
    events = environment.events
    if results.master:
        runner.register_message(MSG_WINDOWS, results.on_worker_windows)

    def to_session(name: str) -> Any:
        def forward(*args: Any, **kwargs: Any) -> None:
            session = results.session()
            if session is not None:
                getattr(session, name)(*args, **kwargs)

        return forward

    chaos_events = h.state.events
    chaos_events.phase_changed.add_listener(to_session("on_phase_changed"))
    chaos_events.fault_injected.add_listener(to_session("on_fault_injected"))
    chaos_events.fault_reverted.add_listener(to_session("on_fault_reverted"))
    chaos_events.chaos_stopped.add_listener(to_session("on_chaos_stopped"))
    events.test_start.add_listener(results.on_test_start)
    events.test_stop.add_listener(results.on_test_stop)
    events.quitting.add_listener(results.on_quitting)
    events.quit.add_listener(results.on_quit)
