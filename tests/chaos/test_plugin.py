"""The chaos plugin in real ``locust`` processes: validation before load, a scheduled run, exit
paths (SIGINT, SIGTERM, a crash mid-burst) and the web UI kill switch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chaosbench.proxy import ToxiproxyClient
from tests.chaos._sched_support import median_ping, toxics_left
from tests.conftest import PYTHON, ROOT, Proc, free_port, port_open, wait_until

pytestmark = pytest.mark.slow

LOCUSTFILE = "tests/chaos/chaos_locustfile.py"


def write_profile(tmp_path: Path, route_port: int, phases: str, faults: str, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"""seed: 3
phases: {phases}
proxy:
  routes:
    redis: {{listen: 127.0.0.1:{route_port}, upstream: 127.0.0.1:6379}}
faults:
{faults}
"""
    )
    return path


def locust_args(
    tmp_path: Path, profile: Path | str, *extra: str, headless: bool = True
) -> list[str]:
    args = [PYTHON, "-m", "locust", "-f", LOCUSTFILE, "-u", "2", "-r", "2", "--only-summary",
            "--chaos-profile", str(profile), "--results-dir", str(tmp_path / "runs"),
            *extra]  # fmt: skip
    if headless:
        args.append("--headless")
    return args


def with_default_sigint(args: list[str]) -> list[str]:
    """Run ``args`` with SIGINT at its default: a child of a background job inherits SIGINT
    ignored, and Python (and Locust's Ctrl-C handling) would then never see it."""
    boot = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); " \
        "os.execv(sys.argv[1], sys.argv[1:])"  # fmt: skip
    return [PYTHON, "-c", boot, *args]


def read_out(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


# name: (text to replace in a good profile, replacement, what the one line must say)
BAD = {
    "wrong_value": (
        "latency_ms: 100",
        "latency_ms: fast",
        "faults[0].latency_ms: Input should be",
    ),
    "unknown_key": (
        "latency_ms: 100",
        "latency_msec: 100",
        "faults[0].latency_msec: unknown key (did you mean 'latency_ms'?)",
    ),
    "unknown_type": (
        "type: latency",
        "type: latencyy",
        "faults[0].type: unknown fault type 'latencyy' (did you mean 'latency'?)",
    ),
    "allowlist": (
        "upstream: 127.0.0.1:6379",
        "upstream: 192.0.2.7:6379",
        "proxy.routes.redis.upstream: '192.0.2.7:6379' is not on the allowlist",
    ),
    "overlap": (
        "faults:",
        "    other: {listen: 127.0.0.1:ROUTE, upstream: 127.0.0.1:5432}\nfaults:",
        "proxy.routes.other.listen: 127.0.0.1:ROUTE overlaps proxy.routes.redis.listen",
    ),
}


def test_bad_profiles_refuse_to_start_with_one_line(tmp_path: Path) -> None:
    procs: dict[str, tuple[subprocess.Popen[str], Path, str]] = {}
    for name, (old, new, expected) in BAD.items():
        route, api = free_port(), free_port()
        good = write_profile(
            tmp_path, route, "{warmup: 1s, baseline: 1s, burst_on: 1s, burst_off: 1s, bursts: 1}",
            "  - {name: lat, type: latency, route: redis, latency_ms: 100}", name,
        )  # fmt: skip
        text = good.read_text()
        new = new.replace("ROUTE", str(route))
        text = text.replace(old, new, 1)
        good.write_text(text)
        p = subprocess.Popen(
            locust_args(tmp_path, good, "--chaos-proxy-api", f"127.0.0.1:{api}"),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "CB_TEST_PORT": str(route)},
        )  # fmt: skip
        procs[name] = (p, good, expected.replace("ROUTE", str(route)))
    for name, (p, path, expected) in procs.items():
        out, err = p.communicate(timeout=90)
        assert p.returncode == 2, (name, out, err)
        lines = [line for line in err.splitlines() if line.startswith("chaosbench:")]
        assert len(lines) == 1, (name, err)
        assert lines[0].startswith(f"chaosbench: {path}: "), lines[0]
        assert expected in lines[0], (name, lines[0])
        assert "Traceback" not in err + out, (name, err)
        assert "Ramping" not in err, "load started"


def test_scheduled_run_through_locust(tmp_path: Path, spawn: Any) -> None:
    route, api = free_port(), free_port()
    profile = write_profile(
        tmp_path, route,
        "{warmup: 1s, baseline: 2s, burst_on: 1s, burst_off: 1.5s, bursts: 3, cooldown: 0.5s}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 100}", "run",
    )  # fmt: skip
    out = tmp_path / "out.json"
    p: Proc = spawn(
        locust_args(tmp_path, profile, "--chaos-proxy-api", f"127.0.0.1:{api}"),
        env={"CB_TEST_PORT": str(route), "CB_TEST_OUT": str(out)},
        name="locust",
    )
    p.popen.wait(90)  # no --run-time: the run ends with the profile
    log = p.output()
    assert "chaos profile finished: quitting" in log, log[-3000:]
    data = read_out(out)
    assert data["status"]["stop_reason"] == "completed"
    journal = data["journal"]
    phases = [r for r in journal if r["kind"] == "phase" and r["name"] != "idle"]
    assert [r["name"] for r in phases] == ["warmup", "baseline", "burst1", "recovery1",
                                           "burst2", "recovery2", "burst3", "recovery3",
                                           "cooldown"]  # fmt: skip
    for r in phases:
        assert abs(r["start"] - r["planned"]) < 0.050, (r["name"], r["start"] - r["planned"])
    injects = [(r["name"], r["burst"]) for r in journal if r["kind"] == "inject"]
    reverts = [(r["name"], r["burst"]) for r in journal if r["kind"] == "revert"]
    assert injects == reverts == [("lat", 1), ("lat", 2), ("lat", 3)]
    assert all(r["status"] == "ok" for r in journal)
    assert data["proxies"] == {"redis": {"enabled": True, "toxics": []}}
    # The samples were tagged with the phase they started in, and the bursts were slower.
    by_label: dict[str, list[float]] = {}
    for _wall, dt, ok, label in data["samples"]:
        if ok:
            by_label.setdefault(label, []).append(dt)
    med = {k: sorted(v)[len(v) // 2] for k, v in by_label.items()}
    for b in (1, 2, 3):
        assert med[f"burst{b}"] - med["baseline"] > 0.08, med
        assert med[f"recovery{b}"] - med["baseline"] < 0.03, med


def start_external_proxy(spawn: Any) -> tuple[str, Proc]:
    api = free_port()
    proc = spawn([PYTHON, "-m", "chaosbench.proxy", "--api", f"127.0.0.1:{api}"], name="proxy")
    wait_until(lambda: port_open(api), timeout=20)
    return f"http://127.0.0.1:{api}", proc


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "crash"])
def test_exit_paths_leave_no_toxic(tmp_path: Path, spawn: Any, how: str) -> None:
    url, _proxy = start_external_proxy(spawn)
    route = free_port()
    profile = write_profile(
        tmp_path, route,
        "{warmup: 0.5s, baseline: 1s, burst_on: 30s, burst_off: 1s, bursts: 2, cooldown: 0}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 300, stream: both}\n"
        "  - {name: slow, type: slow_close, route: redis, delay_ms: 100}",
        how,
    )  # fmt: skip
    env = {"CB_TEST_PORT": str(route), "CB_TEST_CRASH": "1" if how == "crash" else "0"}
    p: Proc = spawn(
        with_default_sigint(locust_args(tmp_path, profile, "--chaos-proxy", url)),
        env=env,
        name="locust",
    )
    client = ToxiproxyClient(url)

    def injected() -> bool:
        return len(client.toxics("redis")) == 3

    if how != "crash":
        wait_until(injected, timeout=40)
        assert median_ping(route, n=3) > 0.25  # the fault is on the traffic
        p.popen.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGTERM)
    code = p.popen.wait(60)
    log = p.output()
    if how == "crash":
        assert "test crash in the main greenlet" in log, log[-3000:]
        assert code != 0
    assert toxics_left(url) == {}, log[-3000:]
    assert median_ping(route) < 0.05  # traffic through the route is back to baseline
    assert "chaos stopped" in log


def test_web_ui_kill_switch(tmp_path: Path, spawn: Any) -> None:
    url, _proxy = start_external_proxy(spawn)
    route, web = free_port(), free_port()
    profile = write_profile(
        tmp_path, route,
        "{warmup: 0, baseline: 0.5s, burst_on: 30s, burst_off: 1s, bursts: 2, cooldown: 0}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 300}", "web",
    )  # fmt: skip
    args = locust_args(
        tmp_path, profile, "--chaos-proxy", url, "--autostart",
        "--web-host", "127.0.0.1", "--web-port", str(web), headless=False,
    )  # fmt: skip
    p: Proc = spawn(args, env={"CB_TEST_PORT": str(route)}, name="locust")
    client = ToxiproxyClient(url)
    wait_until(lambda: client.toxics("redis"), timeout=40)
    base = f"http://127.0.0.1:{web}/chaos"
    status = json.loads(urllib.request.urlopen(base + "/status", timeout=5).read())
    assert status["phase"] == "burst1" and status["active_faults"] == ["lat"]
    assert b"chaos/tab.js" in urllib.request.urlopen(base, timeout=5).read()  # the Chaos tab
    req = urllib.request.Request(base + "/kill", method="POST", data=b"")
    answer = json.loads(urllib.request.urlopen(req, timeout=20).read())
    assert answer["killed"] is True and answer["stop_reason"] == "kill_switch"
    assert toxics_left(url) == {}
    assert median_ping(route) < 0.05
    assert p.popen.poll() is None  # the load goes on; only the chaos stopped


def test_no_chaos_means_idle_and_dry_run_touches_nothing(tmp_path: Path, spawn: Any) -> None:
    route, api = free_port(), free_port()
    profile = write_profile(
        tmp_path, route,
        "{warmup: 0.5s, baseline: 0.5s, burst_on: 2s, burst_off: 1s, bursts: 2, cooldown: 0}",
        "  - {name: down, type: route_down, route: redis}", "dry",
    )  # fmt: skip
    out_off, out_dry = tmp_path / "off.json", tmp_path / "dry.json"
    off = spawn(
        locust_args(tmp_path, profile, "--no-chaos", "--run-time", "3s",
                    "--chaos-proxy-api", f"127.0.0.1:{api}"),
        env={"CB_TEST_PORT": str(route), "CB_TEST_OUT": str(out_off)}, name="off",
    )  # fmt: skip
    off.popen.wait(60)
    route2, api2 = free_port(), free_port()
    profile2 = tmp_path / "dry2.yaml"
    profile2.write_text(profile.read_text().replace(str(route), str(route2)))
    dry = spawn(
        locust_args(tmp_path, profile2, "--chaos-dry-run",
                    "--chaos-proxy-api", f"127.0.0.1:{api2}"),
        env={"CB_TEST_PORT": str(route2), "CB_TEST_OUT": str(out_dry)}, name="dry",
    )  # fmt: skip
    dry.popen.wait(60)

    data = read_out(out_off)
    assert data["disabled"] == "--no-chaos" and data["journal"] == []
    assert "proxies" not in data  # no proxy, no routes: nothing listens on the route's port
    assert data["samples"] and {label for *_x, label in data["samples"]} == {"idle"}
    assert not any(ok for _w, _d, ok, _l in data["samples"])
    assert not port_open(api)

    log = dry.output()
    assert "chaos profile lasts 7s; the run ends with it" in log
    data = read_out(out_dry)
    kinds = [(r["kind"], r["status"]) for r in data["journal"] if r["kind"] != "phase"]
    assert kinds == [("inject", "dry_run"), ("revert", "dry_run")] * 2  # both bursts
    assert data["proxies"] == {"redis": {"enabled": True, "toxics": []}}
    labels = {label for *_x, label in data["samples"]}
    assert "burst1" in labels
    assert all(ok for _w, _d, ok, _l in data["samples"])  # a dry route_down cut nothing


def test_distributed_marks_reach_the_worker(tmp_path: Path, spawn: Any) -> None:
    route, api, master_port = free_port(), free_port(), free_port()
    profile = write_profile(
        tmp_path, route,
        "{warmup: 0.5s, baseline: 1s, burst_on: 1s, burst_off: 1s, bursts: 2, cooldown: 0}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 100}", "dist",
    )  # fmt: skip
    out_m, out_w = tmp_path / "master.json", tmp_path / "worker.json"
    master = spawn(
        locust_args(tmp_path, profile, "--master", "--expect-workers", "1",
                    "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
                    "--chaos-proxy-api", f"127.0.0.1:{api}"),
        env={"CB_TEST_PORT": str(route), "CB_TEST_OUT": str(out_m)}, name="master",
    )  # fmt: skip
    wait_until(lambda: port_open(master_port), timeout=30)
    worker = spawn(
        [PYTHON, "-m", "locust", "-f", LOCUSTFILE, "--worker", "--master-host", "127.0.0.1",
         "--master-port", str(master_port), "--results-dir", str(tmp_path / "wruns")],
        env={"CB_TEST_PORT": str(route), "CB_TEST_OUT": str(out_w)}, name="worker",
    )  # fmt: skip
    master.popen.wait(90)
    worker.popen.wait(30)
    m, w = read_out(out_m), read_out(out_w)
    assert m["status"]["stop_reason"] == "completed"
    assert [(r["name"], r["burst"]) for r in m["journal"] if r["kind"] == "inject"] == [
        ("lat", 1),
        ("lat", 2),
    ]
    # The worker's timeline is the master's, mark for mark.
    assert w["marks"] == m["marks"] and len(w["marks"]) >= 8
    assert w["journal"] == [] and w["samples"]  # faults act once, from the master
    labels = {label for *_x, label in w["samples"]}
    assert {"baseline", "burst1", "recovery1", "burst2"} <= labels
