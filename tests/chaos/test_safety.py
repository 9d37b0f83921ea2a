"""Safety: the allowlist, and the kill switch when nothing runs."""

from __future__ import annotations

import subprocess
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


def test_cidr_and_names() -> None:
    allow = Allowlist.parse(["10.1.0.0/16", "fd00::/8", "db.test"])
    assert allow.allows("10.1.200.3:5432") and not allow.allows("10.2.0.1:5432")
    assert allow.allows("[fd00::5]:80") and not allow.allows("[fe80::1]:80")
    assert allow.allows("db.test:5432") and not allow.allows("db.test.evil:5432")
    with pytest.raises(AllowlistError, match=r"faults\[1\]: target 'x.org:1' is not on"):
        allow.check("x.org:1", "faults[1]")
    with pytest.raises(ValueError):
        Allowlist.parse(["not a host"])


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
            [PYTHON, "-m", "chaosbench.chaos", "reset", "--proxy", px.url,
             "--ledger", str(tmp_path / "ledger.json")],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "ledger: nothing to revert" in out.stdout
        assert f"fault proxy {px.url}: reset" in out.stdout
        info = client.proxy("r")
        assert info.enabled and info.toxics == ()
    # No proxy there: said, not fatal.
    dead = f"http://127.0.0.1:{free_port()}"
    out = subprocess.run(
        [PYTHON, "-m", "chaosbench.chaos", "reset", "--proxy", dead,
         "--ledger", str(tmp_path / "l.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0 and f"fault proxy {dead}: not reset" in out.stdout
