"""The /chaos page of Locust's web UI in a real browser (headless Chromium, driven over the
DevTools protocol): its script shows the live phase, and its Kill button reverts the faults."""

from __future__ import annotations

import itertools
import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websocket

from chaosbench.proxy import ToxiproxyClient
from tests.chaos.test_plugin import locust_args, start_external_proxy, write_profile
from tests.conftest import free_port, wait_until

CHROMIUM = shutil.which("chromium")


class Page:
    """A Chromium tab over the DevTools protocol: navigate, evaluate JavaScript."""

    def __init__(self, debug_port: int) -> None:
        def page_ws() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json/list", timeout=2) as r:
                tabs = [t for t in json.load(r) if t.get("type") == "page"]
            return str(tabs[0]["webSocketDebuggerUrl"]) if tabs else ""

        self.ws = websocket.create_connection(str(wait_until(page_ws, timeout=30)), timeout=10)
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            answer = json.loads(self.ws.recv())
            if answer.get("id") == msg_id:
                assert "error" not in answer, answer
                return dict(answer.get("result", {}))

    def eval(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_chaos_page_in_chromium_shows_the_phase_and_kills(tmp_path: Path, spawn: Any) -> None:
    url, _proxy = start_external_proxy(spawn)
    route, web, debug = free_port(), free_port(), free_port()
    profile = write_profile(
        tmp_path, route,
        "{warmup: 0, baseline: 0.5s, burst_on: 30s, burst_off: 1s, bursts: 1, cooldown: 0}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 50}", "page",
    )  # fmt: skip
    args = locust_args(
        tmp_path, profile, "--chaos-proxy", url, "--autostart",
        "--web-host", "127.0.0.1", "--web-port", str(web), headless=False,
    )  # fmt: skip
    locust = spawn(args, env={"CB_TEST_PORT": str(route)}, name="locust")
    proxy = ToxiproxyClient(url)
    wait_until(lambda: proxy.toxics("redis"), timeout=40)

    browser = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}", f"--remote-debugging-port={debug}",
        "--remote-allow-origins=*", "about:blank",
    ]  # fmt: skip
    spawn(browser, name="chromium")
    page = Page(debug)
    page.call("Page.navigate", url=f"http://127.0.0.1:{web}/chaos")
    phase = "document.getElementById('phase') && document.getElementById('phase').textContent"
    wait_until(lambda: page.eval(phase) == "burst1", timeout=20)
    assert "lat" in page.eval("document.getElementById('status').textContent")

    page.eval("document.getElementById('kill').click()")
    wait_until(lambda: proxy.toxics("redis") == [], timeout=20)  # the fault is reverted
    stopped = "document.getElementById('status').textContent.includes('kill_switch')"
    wait_until(lambda: page.eval(stopped), timeout=20)  # and the page says why
    assert locust.popen.poll() is None  # the load goes on; only the chaos stopped
