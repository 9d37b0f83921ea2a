"""The chaos controls in Locust's web UI: ``GET /chaos`` (a small page with the phase and a
Kill button), ``GET /chaos/status`` (JSON) and ``POST /chaos/kill`` (the kill switch)."""

from __future__ import annotations

from typing import Any

from chaosbench.wiring.harness import Harness

_PAGE = r"""<!doctype html><html><head><meta charset="utf-8"><title>chaosbench: chaos</title>
<style>body{font-family:sans-serif;margin:2em}#kill{background:#c0392b;color:#fff;border:0;
padding:.8em 1.6em;font-size:1.1em;cursor:pointer}pre{background:#f4f4f4;padding:1em}</style>
</head><body><h1>Chaos</h1><p>Phase: <b id="phase">?</b></p>
<button id="kill">Kill switch: revert all faults, stop chaos</button><pre id="status"></pre>
<script>
const base=location.pathname.replace(/\/$/,'');  // /chaos, or under --web-base-path
async function poll(){const r=await fetch(base+'/status');const s=await r.json();
document.getElementById('phase').textContent=s.phase;
document.getElementById('status').textContent=JSON.stringify(s,null,2);}
document.getElementById('kill').onclick=async()=>{
  await fetch(base+'/kill',{method:'POST'});poll();};
poll();setInterval(poll,1000);
</script></body></html>"""


def install(web_ui: Any, harness: Harness) -> None:
    """Add the routes to ``web_ui.app`` (Flask), behind the web UI's login when it has one, on
    ``harness``: its scheduler of the current (or last) test, its timeline and kill switch."""
    from flask import jsonify, request

    app = web_ui.app
    guard = web_ui.auth_required_if_enabled

    def status() -> dict[str, Any]:
        s = harness.scheduler
        if s is not None:
            return s.status()
        mark = harness.state.timeline.current
        return {"state": "not started", "phase": mark.label, "active_faults": []}

    @app.route("/chaos")
    @guard
    def chaos_page() -> Any:
        return _PAGE

    @app.route("/chaos/status")
    @guard
    def chaos_status() -> Any:
        return jsonify(status())

    @app.route("/chaos/kill", methods=["POST"])
    @guard
    def chaos_kill() -> Any:
        reason = request.args.get("reason") or "web UI"
        killed = harness.kill_switch.kill(reason=reason)
        return jsonify({"killed": killed, **status()})
