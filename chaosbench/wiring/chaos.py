"""Wiring of the chaos half into Locust (options, test_start/test_stop, messages).

Called once from ``locustfiles/_harness.py`` through ``install(events)``.

- ``init``: the profile is loaded and validated completely (an error prints one line
  ``chaosbench: <profile>: <field>: <problem>`` and exits 2 before any load); on the master or
  the local runner a ``--run-time`` shorter than the profile is refused (one line naming both
  durations and the fix, exit 2, before the proxy, the recording or any load starts:
  ``check_run_time``), then the fault proxy is started (or checked) and the profile's routes are
  created, so the system under test reaches its dependencies from the warmup on. A run that
  starts at once without ``--spawn-rate`` spawns its users within half the warmup. Workers only
  listen for phase marks.
- ``test_start`` (master/local): once the start's check of every option and target passed
  (``chaosbench.users.options.preflight``, whichever listener asks first runs it; a refused
  start starts no scheduler), a new scheduler starts walking the phases.
- ``test_stop`` and ``quitting``: the scheduler stops and every fault is reverted. The results
  wiring calls ``revert_all`` before it judges, whatever the order of the quitting listeners.

Everything of the run is on the environment's harness (``environment.chaosbench``, a
``chaosbench.wiring.harness.Harness``). On a distributed run the master sends every phase mark
and, after every inject and revert, the in-process fault switches (``pg_slow_queries``,
``clock_skew``, ``dns_failure``) to the workers, which apply them to their own state; a worker
that joins late asks for the marks so far and gets the current switches with them.
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Any

import gevent
from locust.event import Events
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from chaosbench.chaos.profile import DEFAULT_PROFILE, format_duration, load_profile
from chaosbench.chaos.profile.model import Profile
from chaosbench.chaos.runtime import (
    DEFAULT_PROXY_API,
    DEFAULT_PROXY_MODE,
    make_context,
    needs_proxy,
    start_proxy,
)
from chaosbench.chaos.schedule import cut_phases
from chaosbench.chaos.scheduler import Scheduler
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, ChaosbenchError, OptionError
from chaosbench.ground.journal import PROXY_DIED, JournalRecord
from chaosbench.ground.switches import SwitchSnapshot
from chaosbench.ground.timeline import PhaseMark
from chaosbench.users.options import preflight
from chaosbench.wiring.harness import Harness

log = logging.getLogger("chaosbench.chaos")

MARK_MESSAGE = "chaosbench_mark"  # master -> workers: one PhaseMark (dict)
MARKS_MESSAGE = "chaosbench_marks"  # master -> one worker: {"marks": [...], "switches": {...}}
MARKS_REQUEST = "chaosbench_marks_request"  # worker -> master, at its init (late joiners)
SWITCHES_MESSAGE = "chaosbench_switches"  # master -> workers: a SwitchSnapshot (dict)
NO_PROFILE = ("none", "off", "")
TEST_RUNNING = (STATE_SPAWNING, STATE_RUNNING)


def add_options(parser: Any) -> None:
    # Locust's parser itself (not a group): only it knows include_in_web_ui.
    group = parser
    group.add_argument(
        "--chaos-profile",
        default=str(DEFAULT_PROFILE),
        env_var="LOCUST_CHAOS_PROFILE",
        include_in_web_ui=False,
        help="Chaos profile (YAML path, or a bundled profile's name); 'none' disables chaos. "
        "Default: the bundled profiles/default.yaml. Not Locust's own --profile (a label that "
        "groups test runs)",
    )
    group.add_argument(
        "--no-chaos",
        action="store_true",
        default=False,
        env_var="LOCUST_NO_CHAOS",
        include_in_web_ui=False,
        help="No chaos at all (like --chaos-profile none: no proxy, no routes, no bursts); "
        "every sample is phase 'idle'",
    )
    group.add_argument(
        "--chaos-proxy",
        default=DEFAULT_PROXY_MODE,
        env_var="LOCUST_CHAOS_PROXY",
        include_in_web_ui=False,
        help="'process' (default: start the fault proxy as a child process, on its own core, "
        "stopped with the harness), 'embedded' (in this process, sharing its event loop with "
        "the users) or the URL of a running Toxiproxy-compatible API",
    )
    group.add_argument(
        "--chaos-proxy-api",
        default=DEFAULT_PROXY_API,
        env_var="LOCUST_CHAOS_PROXY_API",
        include_in_web_ui=False,
        help="host:port (loopback) of the API of the fault proxy the harness starts "
        f"('process' or 'embedded'; default {DEFAULT_PROXY_API})",
    )
    group.add_argument(
        "--chaos-dry-run",
        action="store_true",
        default=False,
        env_var="LOCUST_CHAOS_DRY_RUN",
        help="Journal every inject and revert without doing it (overrides the profile)",
    )
    group.add_argument(
        "--chaos-seed",
        type=int,
        default=None,
        env_var="LOCUST_CHAOS_SEED",
        help="Seed of every random choice of the chaos (overrides the profile's seed)",
    )


def fail(err: ChaosbenchError, harness: Harness | None = None) -> None:
    """One line on stderr, no traceback, exit code 2 (the harness could not run)."""
    print(f"chaosbench: {err}", file=sys.stderr, flush=True)
    if harness is not None:
        _cleanup(harness)
    sys.exit(EXIT_CANNOT_MEASURE)


def _overrides(opts: Any) -> tuple[bool, int | None]:
    """--chaos-dry-run and --chaos-seed (the web UI may hand them over as strings)."""
    dry = getattr(opts, "chaos_dry_run", False)
    if isinstance(dry, str):
        dry = dry.strip().lower() in ("1", "true", "yes", "on")
    seed = getattr(opts, "chaos_seed", None)
    if isinstance(seed, str):
        try:
            seed = int(seed) if seed.strip() else None
        except ValueError:
            raise OptionError(f"--chaos-seed: expected an integer, got {seed!r}") from None
    return bool(dry), seed


def _load(h: Harness, opts: Any) -> Profile:
    dry, seed = _overrides(opts)
    h.overrides = (dry, seed)
    return load_profile(str(opts.chaos_profile), seed=seed, dry_run=True if dry else None)


def on_init(environment: Any, runner: Any = None, web_ui: Any = None, **_kw: Any) -> None:
    h = Harness.of(environment)
    opts = environment.parsed_options
    if opts is None or not hasattr(opts, "chaos_profile"):
        h.disabled_reason = "no chaos options (Locust used as a library)"
        return
    if isinstance(runner, WorkerRunner):
        h.exits.install()  # Ctrl-C reaches the workers of --processes too: no gevent noise
        runner.register_message(MARK_MESSAGE, _on_mark_message)
        runner.register_message(MARKS_MESSAGE, _on_marks_message)
        runner.register_message(SWITCHES_MESSAGE, _on_switches_message)
        runner.send_message(MARKS_REQUEST, None)  # a worker joining mid-run gets the history
        return
    # Whatever the options (chaos on or off): revert what a killed harness left behind, before
    # this run starts a proxy or adds anything.
    _leftovers()
    h.exits.install()  # signals: revert first; Ctrl-C without a traceback (also without chaos)
    if isinstance(runner, MasterRunner):
        runner.register_message(MARKS_REQUEST, _on_marks_request)
        events = h.state.events
        events.fault_injected.add_listener(lambda record, **_: _send_switches(h, record))
        events.fault_reverted.add_listener(lambda record, **_: _send_switches(h, record))
    if opts.no_chaos or str(opts.chaos_profile).strip().lower() in NO_PROFILE:
        # No profile, no proxy, no routes: the system under test is reached directly.
        h.disabled_reason = "--no-chaos" if opts.no_chaos else "--chaos-profile none"
        log.info("chaos disabled (%s): every sample is phase 'idle'", h.disabled_reason)
        return
    try:
        profile = _load(h, opts)
        h.profile = profile
        if profile.enabled:  # refused before the proxy, the recording or any load starts
            check_run_time(profile, getattr(opts, "run_time", None))
        if needs_proxy(profile):
            h.proxy = start_proxy(
                profile,
                str(opts.chaos_proxy),
                str(opts.chaos_proxy_api),
                on_death=lambda line: _proxy_died(h, line),
            )
    except ChaosbenchError as err:
        fail(err, h)
        return
    if not profile.enabled:
        h.disabled_reason = "enabled: false in the profile"
        log.info("chaos disabled (%s): every sample is phase 'idle'", h.disabled_reason)
    else:
        _report_run_time(profile, getattr(opts, "run_time", None))
        _spawn_rate(environment, profile)


def _leftovers() -> None:
    """Revert what a killed harness left in the machine's ledger, and say what (never raises)."""
    from chaosbench.chaos.ledger import revert_leftovers_at_start

    for line in revert_leftovers_at_start():
        log.warning("%s", line)


def _ledger() -> Any:
    try:
        from chaosbench.chaos.ledger import Ledger, default_ledger_path

        return Ledger(default_ledger_path())
    except ImportError:
        return None


def check_run_time(profile: Profile, run_time: float | None) -> None:
    """A ``--run-time`` shorter than the profile is refused (OptionError, one line naming both
    durations and the fix): the phases it cuts would be judged as not recovered."""
    total = profile.phases.total
    if run_time and run_time < total:
        cut = cut_phases(profile, float(run_time))
        raise OptionError(
            f"--run-time {format_duration(run_time)} is shorter than the chaos profile "
            f"{Path(profile.source).name} ({format_duration(total)}; it would cut "
            f"{', '.join(cut)}): give --run-time {format_duration(total)} or more, or leave "
            "--run-time out (the run ends with the profile)"
        )


def _report_run_time(profile: Profile, run_time: float | None) -> None:
    total = profile.phases.total
    if not run_time:
        log.info("chaos profile lasts %s; the run ends with it", format_duration(total))
    elif run_time > total:
        log.info(
            "chaos profile lasts %s; --run-time %s ends the run (idle after the profile)",
            format_duration(total),
            format_duration(run_time),
        )


def _spawn_rate(environment: Any, profile: Profile) -> None:
    """A run that starts at once (headless, autostart) spawns its users within the warmup: with
    no ``--spawn-rate`` the rate spawns every user in half the warmup; a slower rate given is
    said (the baseline would start before every user runs)."""
    opts = environment.parsed_options
    if getattr(environment, "shape_class", None) is not None:
        return
    if not (getattr(opts, "headless", False) or getattr(opts, "autostart", False)):
        return
    users = int(getattr(opts, "num_users", None) or 1)  # Locust's default: 1
    warmup = profile.phases.warmup
    rate = getattr(opts, "spawn_rate", None)
    if rate is None:
        opts.spawn_rate = float(max(1, math.ceil(users / max(warmup / 2, 1.0))))
        log.info(
            "chaos: spawning %d users at %g/s (no --spawn-rate: every user within half the "
            "warmup of %s)",
            users,
            opts.spawn_rate,
            format_duration(warmup),
        )
    elif float(rate) > 0 and users / float(rate) > warmup:
        log.warning(
            "chaos: spawning %d users at %g/s takes %s, longer than the warmup (%s): the "
            "baseline starts before every user runs; raise --spawn-rate to %d or more",
            users,
            float(rate),
            format_duration(users / float(rate)),
            format_duration(warmup),
            math.ceil(users / warmup) if warmup > 0 else users,
        )


def start_check(environment: Any) -> str | None:
    """The chaos options a web UI form may change (--chaos-dry-run, --chaos-seed), checked at
    each test start before anything starts (the results wiring adds it to ``preflight``): the
    profile is reloaded with them; a bad value is the start's one-line refusal."""
    h = Harness.of(environment)
    opts = environment.parsed_options
    if opts is None or h.profile is None or h.disabled_reason:
        return None
    try:
        if _overrides(opts) != h.overrides:
            h.profile = _load(h, opts)
    except ChaosbenchError as err:
        return str(err)
    return None


def on_test_start(environment: Any, **_kw: Any) -> None:
    h = Harness.of(environment)
    runner = environment.runner
    if isinstance(runner, WorkerRunner) or h.profile is None or h.disabled_reason:
        return
    if h.scheduler is not None and not h.scheduler.finished:
        return
    if preflight(environment) is not None:
        return  # one line printed, the run is quitting: no fault is injected
    opts = environment.parsed_options
    profile = h.profile
    try:
        changed = opts is not None and _overrides(opts) != h.overrides
    except ChaosbenchError as err:
        log.error("chaosbench: %s (chaos not started)", err)
        return
    if changed:
        try:  # dry-run or seed changed in the web UI since init
            profile = h.profile = _load(h, opts)
        except ChaosbenchError as err:
            log.error("chaosbench: %s (chaos not started)", err)
            return
    url = h.proxy.url if h.proxy is not None else ""
    external = h.proxy is None or h.proxy.outlives_harness  # toxics outlive this process
    ctx = make_context(profile, url, _ledger(), h.state, proxy_external=external)
    h.state.timeline.clear()
    scheduler = Scheduler(
        profile,
        ctx,
        timeline=h.state.timeline,
        events=h.state.events,
        kill_switch=h.kill_switch,
        on_mark=lambda mark: _send_mark(h, mark),
        on_complete=lambda: _on_complete(h),
    )
    h.scheduler = scheduler
    log.info(
        "chaos: profile %s, seed %s%s",
        profile.source,
        profile.seed,
        ", dry-run" if profile.dry_run else "",
    )
    scheduler.start()
    if h.proxy is not None and h.proxy.death is not None:  # died before this test: unjudgeable
        gevent.spawn(scheduler.stop, PROXY_DIED, h.proxy.death)


def _proxy_died(h: Harness, line: str) -> None:
    """The proxy child died while not stopped (its watcher): one line; the scheduler stops with
    reason ``PROXY_DIED``, which the analysis turns into "cannot measure" (exit 2)."""
    log.error("chaosbench: %s (exit 2)", line)
    s = h.scheduler
    if s is not None and not s.finished:
        s.stop(PROXY_DIED, detail=line)
    elif s is not None and getattr(h.environment.runner, "state", None) in TEST_RUNNING:
        h.state.events.chaos_stopped.fire(reason=PROXY_DIED)  # after the profile, same verdict


def _send_mark(h: Harness, mark: PhaseMark) -> None:
    runner = h.environment.runner
    if isinstance(runner, MasterRunner):
        runner.send_message(MARK_MESSAGE, mark.to_dict())


def _send_switches(h: Harness, record: JournalRecord | None = None) -> None:
    """Master: the in-process switches to every worker (after an inject or a revert)."""
    runner = h.environment.runner
    if isinstance(runner, MasterRunner):
        runner.send_message(SWITCHES_MESSAGE, h.state.switches.snapshot().to_dict())


def _on_mark_message(environment: Any, msg: Any, **_kw: Any) -> None:
    Harness.of(environment).state.timeline.append(PhaseMark.from_dict(msg.data))


def _on_switches_message(environment: Any, msg: Any, **_kw: Any) -> None:
    Harness.of(environment).state.switches.apply(SwitchSnapshot.from_dict(msg.data or {}))


def _on_marks_message(environment: Any, msg: Any, **_kw: Any) -> None:
    state = Harness.of(environment).state
    known = set(state.timeline.marks)
    data = msg.data or {}
    for d in data.get("marks", []):
        mark = PhaseMark.from_dict(d)
        if mark not in known:
            state.timeline.append(mark)
    if data.get("switches") is not None:
        state.switches.apply(SwitchSnapshot.from_dict(data["switches"]))


def _on_marks_request(environment: Any, msg: Any, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        state = Harness.of(environment).state
        data = {
            "marks": [m.to_dict() for m in state.timeline.marks],
            "switches": state.switches.snapshot().to_dict(),
        }
        runner.send_message(MARKS_MESSAGE, data, client_id=msg.node_id)


def _on_complete(h: Harness) -> None:
    env = h.environment
    if env.runner is None:
        return
    opts = env.parsed_options
    if opts is not None and getattr(opts, "run_time", None):
        return  # Locust's own --run-time ends the run
    if opts is not None and (getattr(opts, "headless", False) or getattr(opts, "autostart", False)):
        log.info("chaos profile finished: quitting")
        gevent.spawn(env.runner.quit)
    else:
        log.info("chaos profile finished: stopping the test")
        gevent.spawn(env.runner.stop)


def _stop(h: Harness, reason: str) -> None:
    s = h.scheduler
    if s is not None:
        s.stop(reason)


def on_test_stop(environment: Any, **_kw: Any) -> None:
    _stop(Harness.of(environment), "test_stop")


def revert_all(h: Harness) -> None:
    """Stop the scheduler and revert every fault now (returns when they are reverted and
    journaled); the reason is the signal when one ended the run. Idempotent."""
    signal_name = h.exits.signal_name
    s = h.scheduler
    if s is not None and signal_name is not None and not s.finished:
        s.stop("signal", detail=signal_name)
    else:
        _stop(h, "quitting")


def _cleanup(h: Harness) -> None:
    _stop(h, "test_stop")
    if h.proxy is not None:
        h.proxy.stop()
        h.proxy = None


def on_quitting(environment: Any, **_kw: Any) -> None:
    _cleanup(Harness.of(environment))


def install(events: Events) -> None:
    """Register the chaos options and listeners on Locust's events."""
    events.init_command_line_parser.add_listener(add_options)
    events.init.add_listener(on_init)
    events.test_start.add_listener(on_test_start)
    events.test_stop.add_listener(on_test_stop)
    events.quitting.add_listener(on_quitting)
