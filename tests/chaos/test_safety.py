"""Safety: the allowlist, and the kill switch when nothing runs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from chaosbench.chaos.safety import DEFAULT_ALLOW, Allowlist, KillSwitch
from chaosbench.chaos.safety.allowlist import target_host
from chaosbench.ground.errors import AllowlistError
from chaosbench.proxy import EmbeddedProxy, ToxiproxyClient
from tests.conftest import PYTHON, ROOT, free_port


def test_default_allowlist_is_loopback_only() -> None:
    allow = Allowlist.parse(list(DEFAULT_ALLOW))
    for ok in ("127.0.0.1:5432", "localhost:6379", "[::1]:8000", "::1", "http://127.0.0.1:8474",
               "LOCALHOST", "pid:1234"):  # fmt: skip
        assert allow.allows(ok), ok
    for bad in ("127.0.0.2:5432", "10.0.0.1:5432", "example.com:80", "[::2]:1",
                "postgresql://db.internal:5432/x", "", "0.0.0.0:80"):  # fmt: skip
        assert not allow.allows(bad), bad


def _hosts(table: dict[str, list[str]]) -> Callable[[str], list[str]]:
    """A resolver answering from ``table`` (a name not in it does not resolve)."""

    def resolve(host: str) -> list[str]:
        if host.lower() not in table:
            raise OSError(f"{host!r} does not resolve")
        return table[host.lower()]

    return resolve


def test_cidr_and_names() -> None:
    allow = Allowlist.parse(["10.1.0.0/16", "fd00::/8", "db.test"])
    assert allow.allows("10.1.200.3:5432") and not allow.allows("10.2.0.1:5432")
    assert allow.allows("[fd00::5]:80") and not allow.allows("[fe80::1]:80")
    table = {"db.test": ["10.9.0.1"], "db.test.evil": ["10.9.0.2"], "in.net": ["10.1.0.7"],
             "alias": ["10.9.0.1"]}  # fmt: skip
    hosts = _hosts(table)
    # A listed name is trusted (resolving or not); any other name must resolve inside the list,
    # where the addresses of listed names count.
    assert allow.allows("db.test:5432", hosts) and allow.allows("DB.TEST:1", _hosts({}))
    assert not allow.allows("db.test.evil:5432", hosts)
    assert allow.allows("in.net:80", hosts) and allow.allows("alias:80", hosts)
    assert not allow.allows("x.org:1", hosts)  # does not resolve: refused
    with pytest.raises(AllowlistError, match=r"faults\[1\]: target 'x.org:1' is not on"):
        allow.check("x.org:1", "faults[1]")
    with pytest.raises(ValueError):
        Allowlist.parse(["not a host"])


def test_a_name_resolving_off_the_allowlist_is_refused() -> None:
    """Every address a name resolves to must be allowed."""
    two = _hosts({"db.test": ["10.1.0.1", "192.0.2.7"], "ok.test": ["10.1.0.1", "10.1.0.2"]})
    allow = Allowlist.parse(["10.1.0.0/16"])
    reason = allow.refusal("db.test:5432", two)
    assert reason == "target 'db.test:5432' is not on the allowlist: db.test resolves to 192.0.2.7"
    assert allow.allows("ok.test:5432", two)
    # The real resolver: localhost is 127.0.0.1 here, which 127.0.0.2 does not cover.
    only2 = Allowlist.parse(["127.0.0.2"])
    assert not only2.allows("localhost:6379")
    assert "localhost resolves to 127.0.0.1" in (only2.refusal("localhost:6379") or "")
    assert Allowlist.parse(["127.0.0.1"]).allows("localhost:6379")
    # Unix sockets and processes are this machine: allowed when a loopback address is.
    assert Allowlist.parse(["127.0.0.1"]).allows("local:/var/run/postgresql")
    assert not Allowlist.parse(["10.0.0.0/8"]).allows("local:/tmp/redis.sock")


def test_target_host_forms() -> None:
    assert target_host("[::1]:80") == "::1"
    assert target_host("redis://127.0.0.1:6379/0") == "127.0.0.1"
    assert target_host("host:1") == "host" and target_host("fe80::1") == "fe80::1"


def test_kill_switch_without_a_running_scheduler() -> None:
    assert KillSwitch().kill(reason="nothing runs") is False


def test_chaos_reset_clears_the_proxy_and_the_ledger(tmp_path: Path) -> None:
    with EmbeddedProxy(f"127.0.0.1:{free_port()}") as px:
        client = ToxiproxyClient(px.url)
        client.create_proxy("r", f"127.0.0.1:{free_port()}", "127.0.0.1:6379")
        client.add_toxic("r", "latency", {"latency": 100}, name="left_behind")
        client.set_enabled("r", False)
        out = subprocess.run(
            [PYTHON, "-m", "chaosbench.chaos", "reset", "--all", "--proxy", px.url,
             "--ledger", str(tmp_path / "ledger.json")],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert f"ledger {tmp_path / 'ledger.json'}: nothing to revert" in out.stdout
        assert f"fault proxy {px.url}: reset" in out.stdout
        info = client.proxy("r")
        assert info.enabled and info.toxics == ()
    # No proxy there: said, not fatal.
    dead = f"http://127.0.0.1:{free_port()}"
    out = subprocess.run(
        [PYTHON, "-m", "chaosbench.chaos", "reset", "--all", "--proxy", dead,
         "--ledger", str(tmp_path / "l.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0 and f"fault proxy {dead}: not reset" in out.stdout


def test_reset_without_all_leaves_the_proxy_alone(tmp_path: Path) -> None:
    """Without --all, reset touches only what the ledger names; --proxy alone is refused."""
    with EmbeddedProxy(f"127.0.0.1:{free_port()}") as px:
        client = ToxiproxyClient(px.url)
        client.create_proxy("r", f"127.0.0.1:{free_port()}", "127.0.0.1:6379")
        client.add_toxic("r", "latency", {"latency": 100}, name="another_runs")
        env = {**os.environ, "CHAOSBENCH_LEDGER": str(tmp_path / "ledger.json")}
        out = subprocess.run(
            [PYTHON, "-m", "chaosbench.chaos", "reset"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert [t.name for t in client.toxics("r")] == ["another_runs"]
        out = subprocess.run(
            [PYTHON, "-m", "chaosbench.chaos", "reset", "--proxy", px.url],
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert out.returncode == 2 and "--proxy: only with --all" in out.stderr
        assert "Traceback" not in out.stderr
        assert [t.name for t in client.toxics("r")] == ["another_runs"]
