"""Locust's web UI with the Chaos tab in a real browser: headless Chromium over the DevTools
protocol (``Page``), and a web-UI session of ``tests/chaos/chaos_locustfile.py`` (Redis PINGs
through a proxied route, an external fault proxy). Used by test_webui_browser.py and by the
screenshot script make_screenshots.py."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websocket

from chaosbench.proxy import ToxiproxyClient
from tests.chaos.test_plugin import locust_args, start_external_proxy, write_profile
from tests.conftest import free_port, port_open, wait_until

CHROMIUM = shutil.which("chromium")


class Page:
    """A Chromium tab over the DevTools protocol: navigate, evaluate JavaScript, screenshots."""

    def __init__(self, debug_port: int) -> None:
        def page_ws() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json/list", timeout=2) as r:
                tabs = [t for t in json.load(r) if t.get("type") == "page"]
            return str(tabs[0]["webSocketDebuggerUrl"]) if tabs else ""

        self.ws = websocket.create_connection(str(wait_until(page_ws, timeout=30)), timeout=20)
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

    def text(self, selector: str) -> str:
        """The text of the first element matching ``selector`` ("" when there is none)."""
        q = json.dumps(selector)
        return str(self.eval(f"(document.querySelector({q}) || {{}}).textContent || ''"))

    def click_button(self, label: str) -> bool:
        """Click the first enabled button whose text is ``label`` (Locust's Start, Stop, New),
        once React has attached its handlers to it (a click before would submit the bare form)."""
        js = f"""(() => {{ const b = [...document.querySelectorAll('button')].find(
            (b) => b.textContent.trim().toLowerCase() === {json.dumps(label.lower())} && !b.disabled
              && Object.keys(b).some((k) => k.startsWith('__reactProps')));
            if (b) b.click(); return !!b; }})()"""
        return bool(self.eval(js))

    def stats_loaded(self) -> bool:
        """Locust's page has its first answer of /stats/requests (it asks once at load)."""
        js = """performance.getEntriesByType('resource').some(
            (e) => e.name.includes('/stats/requests') && e.responseEnd > 0)"""
        return bool(self.eval(js))

    def open_chaos_tab(self) -> bool:
        """Click Locust's "Chaos" tab (a MUI tab of its tab bar)."""
        js = """(() => { const t = [...document.querySelectorAll('[role="tab"]')].find(
            (t) => t.textContent.trim() === 'Chaos'); if (t) t.click(); return !!t; })()"""
        return bool(self.eval(js))

    def screenshot(self, path: Path, width: int = 1400) -> None:
        """A PNG of the whole page at ``width`` CSS pixels."""
        self.call(
            "Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1,
            mobile=False,
        )  # fmt: skip
        height = int(self.eval("document.documentElement.scrollHeight"))
        self.call(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
            mobile=False,
        )  # fmt: skip
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))


def start_browser(spawn: Any, tmp_path: Path, width: int = 1400) -> Page:
    debug = free_port()
    browser = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--window-size={width},900",
        f"--user-data-dir={tmp_path / 'chromium'}", f"--remote-debugging-port={debug}",
        "--remote-allow-origins=*", "about:blank",
    ]  # fmt: skip
    spawn(browser, name="chromium")
    return Page(debug)


@dataclass
class WebSession:
    """A Locust web UI (no test started) with the Chaos tab, its fault proxy and its route."""

    url: str  # the web UI
    proxy: ToxiproxyClient
    locust: Any  # tests.conftest.Proc
    results: Path

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return int(r.status), bytes(r.read())
        except urllib.error.HTTPError as e:
            return int(e.code), b""

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.get("/chaos/status")[1]))


def start_web_session(
    spawn: Any,
    tmp_path: Path,
    phases: str,
    faults: str,
    users: int = 2,
    locustfile: str = "tests/chaos/chaos_locustfile.py",
) -> WebSession:
    url, _proxy = start_external_proxy(spawn)
    route, web = free_port(), free_port()
    profile = write_profile(tmp_path, route, phases, faults, "tab")
    args = locust_args(
        tmp_path, profile, "--chaos-proxy", url, "-u", str(users), "-r", str(users),
        "--web-host", "127.0.0.1", "--web-port", str(web), headless=False,
    )  # fmt: skip
    args[args.index("-f") + 1] = locustfile
    locust = spawn(args, env={"CB_TEST_PORT": str(route)}, name="locust")
    wait_until(lambda: port_open(web), timeout=60)
    return WebSession(f"http://127.0.0.1:{web}", ToxiproxyClient(url), locust, tmp_path / "runs")
