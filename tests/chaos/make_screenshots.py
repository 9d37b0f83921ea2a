"""The Chaos tab's screenshots in docs/images/ (not run in CI):

    .venv/bin/python -m tests.chaos.make_screenshots [--out docs/images]

A real web-UI session (free ports, an external fault proxy, Redis on 127.0.0.1:6379, headless
Chromium): a test started from Locust's form; ``chaos-tab-burst.png`` during the second burst,
``chaos-tab-verdict.png`` once the profile ended and the test was judged. Its run directory
and the browser's profile go to a temporary directory, removed at the end (``--keep DIR``: there,
kept).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.chaos import webui_support as ws
from tests.conftest import ROOT, Proc, wait_until

LOCUSTFILE = "tests/chaos/screenshot_locustfile.py"
PHASES = "{warmup: 2s, baseline: 10s, burst_on: 8s, burst_off: 8s, bursts: 2, cooldown: 4s}"
FAULTS = (
    "  - {name: lat, type: latency, route: redis, latency_ms: 25, jitter_ms: 5, bursts: [1, 2]}\n"
    "  - {name: cut, type: reset_peer, route: redis, toxicity: 0.2, bursts: [2], start: 2s,"
    " duration: 3s}"
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--keep", type=Path, help="keep the logs and run directory there")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    procs: list[Proc] = []
    with tempfile.TemporaryDirectory(prefix="chaos-tab-") as tmp:
        tmp_path = args.keep or Path(tmp)
        tmp_path.mkdir(parents=True, exist_ok=True)

        def spawn(cmd: list[str], env: dict[str, str] | None = None, name: str = "p") -> Any:
            procs.append(Proc(cmd, tmp_path / f"{name}-{len(procs)}.log", env))
            return procs[-1]

        try:
            session = ws.start_web_session(
                spawn, tmp_path, PHASES, FAULTS, users=4, locustfile=LOCUSTFILE
            )
            page = ws.start_browser(spawn, tmp_path)
            page.call("Page.navigate", url=session.url + "/")
            wait_until(page.stats_loaded, timeout=30)
            wait_until(lambda: page.click_button("Start"), timeout=30)
            wait_until(lambda: session.status()["runner"] == "running", timeout=30)
            page.call("Page.navigate", url=session.url + "/?tab=chaos")
            wait_until(lambda: page.text("#cb-phase") == "Burst 2", timeout=60)
            wait_until(lambda: "cut" in page.text("#cb-active"), timeout=20)
            page.screenshot(args.out / "chaos-tab-burst.png")
            wait_until(lambda: page.eval("document.getElementById('cb-verdict').dataset.state")
                       == "judged", timeout=120)  # fmt: skip
            # and Locust's own header has caught up (it polls every 2 s)
            wait_until(lambda: "STOPPED" in page.eval("document.body.innerText"), timeout=30)
            page.eval("document.getElementById('cb-verdict').scrollIntoView()")
            page.screenshot(args.out / "chaos-tab-verdict.png")
        finally:
            for p in procs:
                p.stop()
    print(f"{args.out / 'chaos-tab-burst.png'}\n{args.out / 'chaos-tab-verdict.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
