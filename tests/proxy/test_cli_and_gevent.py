"""``python -m chaosbench.proxy`` as a process, and the embedded proxy inside a gevent-patched
process (as in Locust: greenlets of the main hub, client over patched sockets)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from chaosbench.proxy import ToxiproxyClient
from tests.conftest import PYTHON, ROOT, free_port, wait_until


def test_command_line_proxy_with_routes_file(spawn, tmp_path: Path) -> None:
    api = free_port()
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "proxy:\n  routes:\n"
        "    cache: {listen: '127.0.0.1:0', upstream: '127.0.0.1:6379'}\n"
        "    web: {listen: '127.0.0.1:0', upstream: '127.0.0.1:8000', protocol: http}\n"
    )
    proc = spawn(
        [PYTHON, "-m", "chaosbench.proxy", "--api", f"127.0.0.1:{api}", "--routes", str(routes)]
    )
    c = ToxiproxyClient(f"127.0.0.1:{api}", timeout=1)
    wait_until(lambda: c.proxies(), timeout=20)
    proxies = c.proxies()
    assert set(proxies) == {"cache", "web"} and proxies["web"].protocol == "http"
    assert c.is_embedded()
    assert proc.stop() == 0  # SIGTERM: clean exit
    assert "chaosbench fault proxy: API" in proc.log.read_text()


def test_command_line_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "routes.json"
    bad.write_text(json.dumps([{"name": "x", "listen": "0.0.0.0:0", "upstream": "127.0.0.1:1"}]))
    for args in (
        ["--api", "10.1.2.3:8474"],
        ["--api", "127.0.0.1:0", "--routes", str(bad)],
        ["--api", "127.0.0.1:0", "--routes", str(tmp_path / "missing.yaml")],
    ):
        res = subprocess.run(
            [PYTHON, "-m", "chaosbench.proxy", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert res.returncode == 2, res
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("chaosbench: "), res.stderr


GEVENT_SCRIPT = """
from gevent import monkey; monkey.patch_all()
import gevent, redis, time
from chaosbench.proxy import EmbeddedProxy
p = EmbeddedProxy("127.0.0.1:0").start()
assert not p.threaded
c = p.client()
info = c.create_proxy("r", "127.0.0.1:0", "127.0.0.1:6379")
port = int(info.listen.rsplit(":", 1)[1])
def user(n):
    r = redis.Redis(port=port, socket_timeout=5)
    return [r.ping() for _ in range(n)]
c.add_toxic("r", "latency", {"latency": 50})
t = time.monotonic()
jobs = [gevent.spawn(user, 4) for _ in range(20)]
gevent.joinall(jobs, timeout=30)
elapsed = time.monotonic() - t
assert all(j.successful() and all(j.value) for j in jobs)
assert 0.2 <= elapsed < 2.0, elapsed  # 20 users concurrently, 4 x 50 ms each
c.reset()
p.stop()
print("OK", round(elapsed, 3))
"""


def test_embedded_in_a_gevent_patched_process() -> None:
    res = subprocess.run(
        [PYTHON, "-c", GEVENT_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert res.returncode == 0 and res.stdout.startswith("OK"), res.stdout + res.stderr
