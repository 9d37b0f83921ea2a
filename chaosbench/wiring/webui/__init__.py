"""The Chaos tab inside Locust's web UI, through Locust's own extension seam.

- ``template_args["extended_tabs"]`` gets a "Chaos" tab and ``extended_tables`` its table (the
  per-kind p95 against the baseline band), whose rows ride on ``/stats/requests`` as
  ``extended_stats`` (Locust's ``examples/extend_web_ui.py``): Locust draws the tab and table.
- Locust's index page gets one stylesheet and one script (``static/``): in the Chaos tab, above
  Locust's table, the profile's timeline (past, current, next phase, time left in the phase and
  the profile), the active faults with their accounts and injections, the p95 chart with the
  phase changes marked, the kill switch and, once a test stopped and was judged, its verdict.
  Locust's own charts have no seam for marks (its React state is private): the phase changes
  are marked on the tab's own chart.
- Routes (behind the web UI's login when it has one): ``GET /chaos`` (redirects to the tab),
  ``GET /chaos/status`` (JSON, ``view.ChaosView``), ``POST /chaos/kill`` (the kill switch:
  every fault reverted, chaos stopped, the load goes on), ``GET /chaos/runs/<run id>/<file>``
  (report.html, report.md, findings.json, junit.xml of a test of this session, nothing else).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gevent
from locust.event import Events

from chaosbench.analysis.limits import RecoveryTime
from chaosbench.ground.errors import ChaosbenchError
from chaosbench.wiring.harness import Harness
from chaosbench.wiring.webui.live import TICK_S, LiveKinds
from chaosbench.wiring.webui.view import SERVED, chaos_view

log = logging.getLogger("chaosbench.webui")

STATIC = Path(__file__).parent / "static"
TAB_KEY = "chaos"
TAB = {"title": "Chaos", "key": TAB_KEY}
TABLE = {
    "key": TAB_KEY,
    "structure": [
        {"key": "kind", "title": "Kind"},
        {"key": "p95_ms", "title": "p95 now (ms)"},
        {"key": "band_high_ms", "title": "Baseline band: p95 ≤ (ms)"},
        {"key": "level_ms", "title": "Baseline p95 (ms)"},
        {"key": "state", "title": "State"},
        {"key": "count", "title": "Requests in the last second"},
    ],
}
_TAGS = '<link rel="stylesheet" href="./chaos/tab.css"><script src="./chaos/tab.js"></script>'
_RUNNING = ("spawning", "running")


def _recovery_cfg(h: Harness) -> RecoveryTime:
    """The gate's recovery settings (the band's), or the defaults when it cannot be read."""
    from chaosbench.analysis.gate import load_gate

    settings = getattr(h.session, "settings", None)
    try:
        return load_gate(getattr(settings, "gate_path", None)).recovery_time
    except ChaosbenchError:
        return RecoveryTime()


def _extend(args: dict[str, Any], key: str, item: dict[str, Any]) -> None:
    """Add ``item`` to Locust's template list ``key`` (other plugins' tabs are kept)."""
    items = [x for x in args.get(key) or [] if x.get("key") != TAB_KEY]
    args[key] = [*items, item]


def _rows(live: LiveKinds, since: float) -> list[dict[str, Any]]:
    def r(v: float | None) -> float | str:
        return round(v, 1) if v is not None else "—"

    return [
        {
            "kind": k.kind,
            "p95_ms": r(k.p95_ms),
            "band_high_ms": r(k.band_high_ms),
            "level_ms": r(k.level_ms),
            "state": k.state,
            "count": k.count,
        }
        for k in live.view(since=since)
    ]


def _stats_cache_clear(app: Any) -> Callable[[], None]:
    """The ``clear_cache`` of Locust's memoized ``/stats/requests`` (a no-op if it has none).

    Locust caches that answer for 2 s, and doubles the time whenever computing it took longer
    (a loaded machine): an answer cached before a test started then says "ready" while the test
    runs, and Locust's UI, believing it, goes back to its start form and stops polling."""
    fn = app.view_functions.get("locust.request_stats")
    while fn is not None and not hasattr(fn, "clear_cache"):
        fn = getattr(fn, "__wrapped__", None)
    clear = getattr(fn, "clear_cache", None)
    return clear if callable(clear) else (lambda: None)


def install(web_ui: Any, harness: Harness) -> None:
    """The tab, its table and its routes on ``web_ui`` (Locust's ``WebUI``), for ``harness``."""
    from flask import Response, abort, jsonify, redirect, request, send_file, send_from_directory

    app = web_ui.app
    guard = web_ui.auth_required_if_enabled
    opts = harness.environment.parsed_options
    base = (getattr(opts, "web_base_path", None) or "").rstrip("/")
    live = LiveKinds(harness.state.timeline)
    _extend(web_ui.template_args, "extended_tabs", TAB)
    _extend(web_ui.template_args, "extended_tables", TABLE)

    def status() -> dict[str, Any]:
        return asdict(chaos_view(harness, live))

    def since() -> float:
        s = harness.scheduler
        return (s.started_wall or 0.0) if s is not None else 0.0

    @app.after_request
    def extend(response: Response) -> Response:
        if response.status_code != 200:
            return response
        if request.endpoint == "locust.index" and response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            response.set_data(html.replace("</body>", _TAGS + "</body>", 1))
        elif request.endpoint == "locust.request_stats" and response.is_json:
            data = response.get_json(silent=True)
            runner = harness.environment.runner
            if isinstance(data, dict) and runner is not None:
                # the runner's state now, whatever Locust's cache of this answer says
                data["state"], data["user_count"] = runner.state, runner.user_count
                starting = getattr(web_ui, "_swarm_greenlet", None)  # runner.start() of /swarm
                if runner.state in ("ready", "stopped") and starting and not starting.dead:
                    # test_start's listeners are running: Locust's state says "ready" until
                    # they are done, and its UI, reading that, would go back to the form
                    data["state"] = "spawning"
                stats = [x for x in data.get("extended_stats") or [] if x.get("key") != TAB_KEY]
                data["extended_stats"] = [*stats, {"key": TAB_KEY, "data": _rows(live, since())}]
                response.set_data(json.dumps(data))
        return response

    @app.route(f"{base}/chaos")
    @guard
    def chaos_page() -> Any:
        return redirect(f"{base}/?tab={TAB_KEY}")

    @app.route(f"{base}/chaos/tab.js")
    @app.route(f"{base}/chaos/tab.css")
    def chaos_static() -> Any:  # no login: the page that loads them has one
        return send_from_directory(STATIC, Path(request.path).name, max_age=0)

    @app.route(f"{base}/chaos/status")
    @guard
    def chaos_status() -> Any:
        return jsonify(status())

    @app.route(f"{base}/chaos/kill", methods=["POST"])
    @guard
    def chaos_kill() -> Any:
        reason = request.args.get("reason") or "web UI"
        killed = harness.kill_switch.kill(reason=reason)
        return jsonify({"killed": killed, **status()})

    @app.route(f"{base}/chaos/runs/<run_id>/<name>")
    @guard
    def chaos_run_file(run_id: str, name: str) -> Any:
        """A report of a test of this session: only the names in SERVED, only of known runs."""
        run = next((r for r in harness.runs if r.run_id == run_id), None)
        if run is None or name not in SERVED:
            abort(404)
        folder = run.run_dir.resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file():
            abort(404)
        return send_file(path, max_age=0)

    clear_stats_cache = _stats_cache_clear(app)

    def on_test_start(**_kw: Any) -> None:
        clear_stats_cache()
        runner = harness.environment.runner
        live.reset(_recovery_cfg(harness), runner.stats.entries if runner is not None else None)

    def ticker() -> None:
        while True:
            gevent.sleep(TICK_S)
            runner = harness.environment.runner
            if runner is None or runner.state not in _RUNNING:
                continue
            try:
                live.tick(runner.stats.entries)
            except Exception:  # the tab's numbers must never stop the test
                log.exception("chaosbench: the Chaos tab's live p95 failed")

    events = harness.environment.events
    events.test_start.add_listener(on_test_start)
    events.spawning_complete.add_listener(lambda **_kw: clear_stats_cache())
    events.test_stop.add_listener(lambda **_kw: clear_stats_cache())
    greenlet = gevent.spawn(ticker)
    events.quitting.add_listener(lambda **_kw: greenlet.kill(block=False))


def _on_init(environment: Any, web_ui: Any = None, **_kw: Any) -> None:
    if web_ui is not None and hasattr(environment.parsed_options, "chaos_profile"):
        install(web_ui, Harness.of(environment))


def install_events(events: Events) -> None:
    """Add the Chaos tab to the web UI of every Environment (at ``init``, chaos on or off)."""
    events.init.add_listener(_on_init)
