"""Conformance: ``toxiproxy-node-client`` (npm), an outside Toxiproxy client, drives every endpoint
of the embedded proxy, including populate's all-or-nothing and PATCH.

The package is installed once into ``.ci/.npm`` (where ``.ci/run`` puts it too); if it cannot be
installed the test fails with one line. A script written by the test runs under Node against an
embedded proxy on free ports; traffic goes through the proxy to echo servers on loopback, with a
``limit_data`` toxic whose effect (how many bytes come back) shows which settings are live.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosbench.proxy import EmbeddedProxy, ToxiproxyClient
from tests.conftest import free_port
from tests.proxy.servers import TcpServer, echo

ROOT = Path(__file__).resolve().parents[2]
NPM_DIR = ROOT / ".ci" / ".npm"
PACKAGE = "toxiproxy-node-client@4"
MODULE = NPM_DIR / "node_modules" / "toxiproxy-node-client"


@pytest.fixture(scope="session")
def node_client() -> Path:
    """The installed package's folder (installed here if it is not yet)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(f"node and npm are needed to install {PACKAGE} (not on PATH)", pytrace=False)
    if not (MODULE / "package.json").exists():
        cmd = [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
            str(NPM_DIR),
        ]
        try:
            out = subprocess.run(
                [*cmd, PACKAGE], capture_output=True, text=True, timeout=300, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"npm could not install {PACKAGE}: no answer in 300 s", pytrace=False)
        if out.returncode != 0 or not (MODULE / "package.json").exists():
            lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
            why = next((ln for ln in lines if "error" in ln.lower()), f"exit {out.returncode}")
            pytest.fail(f"npm could not install {PACKAGE}: {why.strip()}", pytrace=False)
    return MODULE


@pytest.fixture
def echo_pair() -> Iterator[tuple[TcpServer, TcpServer]]:
    one, two = TcpServer(echo), TcpServer(echo)
    yield one, two
    one.close()
    two.close()


SCRIPT = r"""
const net = require("net");
const { Toxiproxy } = require(process.env.MODULE);
const cfg = JSON.parse(process.env.CFG);
const api = cfg.api;
const tp = new Toxiproxy(api);
const http = tp.getApi();
const out = {};

function echo(port, text) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let got = "";
    let done = false;
    const finish = (v) => { if (!done) { done = true; s.destroy(); resolve(v); } };
    s.setTimeout(5000, () => finish("timeout:" + got));
    s.on("connect", () => s.write(text));
    s.on("data", (d) => { got += d.toString(); if (got.length >= text.length) finish(got); });
    s.on("end", () => finish(got));
    s.on("close", () => finish(got));
    s.on("error", (e) => finish("error:" + e.code));
  });
}
async function fails(promise) {
  try { await promise; return "no error"; } catch (e) { return e.message; }
}
const port = (listen) => Number(listen.split(":").pop());
const MSG = "hello world";

(async () => {
  out.version = JSON.parse(await tp.getVersion()).version;

  const a = await tp.createProxy({ name: "node_a", listen: cfg.listen_a, upstream: cfg.echo1 });
  out.created = a.toJson();
  out.echo_plain = await echo(port(a.listen), MSG);
  out.all = Object.keys(await tp.getAll()).sort();
  out.get = (await tp.get("node_a")).toJson();
  out.get_missing = await fails(tp.get("nope"));
  out.create_again = await fails(
    tp.createProxy({ name: "node_a", listen: "127.0.0.1:0", upstream: cfg.echo1 }));

  const cut = await a.addToxic({
    type: "limit_data", name: "cut", stream: "downstream", toxicity: 1, attributes: { bytes: 4 },
  });
  out.toxic_added = cut.toJson();
  out.echo_cut4 = await echo(port(a.listen), MSG);
  out.toxic_get = (await a.getToxic("cut")).toJson();
  out.toxic_post_update = (await cut.update({ attributes: { bytes: 6 }, toxicity: 1 })).toJson();
  out.echo_cut6 = await echo(port(a.listen), MSG);
  const cutPath = `${api}/proxies/node_a/toxics/cut`;
  out.toxic_patch = (await http.request("PATCH", cutPath, { attributes: { bytes: 8 } })).data;
  out.echo_cut8 = await echo(port(a.listen), MSG);
  await a.addToxic({ type: "latency", name: "up", stream: "upstream", attributes: { latency: 0 } });
  out.toxic_list = (await http.get(`${api}/proxies/node_a/toxics`)).data.map((t) => t.name);

  const down = { enabled: false, listen: a.listen, upstream: a.upstream };
  out.proxy_post_update = (await a.update(down)).toJson();
  out.echo_disabled = await echo(port(a.listen), MSG);
  const up = await http.request("PATCH", `${api}/proxies/node_a`, { enabled: true });
  out.proxy_patch = up.data.enabled;
  out.echo_enabled = await echo(port(a.listen), MSG);

  const replaceA = { name: "node_a", listen: a.listen, upstream: cfg.echo2 };
  const noUpstream = { name: "node_c", listen: "127.0.0.1:0" };
  out.populate_invalid = await fails(tp.populate([replaceA, noUpstream]));
  out.after_invalid = (await tp.get("node_a")).toJson();
  const toxicNames = async () =>
    (await http.get(`${api}/proxies/node_a/toxics`)).data.map((t) => t.name);
  out.after_invalid_toxics = await toxicNames();
  const busy = { name: "node_c", listen: cfg.busy, upstream: cfg.echo2 };
  out.populate_busy = await fails(tp.populate([replaceA, busy]));
  out.after_busy = Object.keys(await tp.getAll()).sort();
  out.echo_after_failed_populates = await echo(port(a.listen), MSG);

  const populated = await tp.populate([
    { name: "node_a", listen: a.listen, upstream: cfg.echo1 },
    { name: "node_b", listen: cfg.listen_b, upstream: cfg.echo2 },
  ]);
  out.populated = Object.keys(populated).sort();
  out.echo_b = await echo(port(populated.node_b.listen), MSG);
  out.echo_a_kept = await echo(port(a.listen), MSG);

  await cut.remove();
  out.toxic_removed = await fails(a.getToxic("cut"));
  out.echo_uncut = await echo(port(a.listen), MSG);
  await a.addToxic({ type: "limit_data", name: "again", attributes: { bytes: 2 } });
  await tp.reset();
  out.after_reset = (await http.get(`${api}/proxies/node_a/toxics`)).data;
  out.echo_after_reset = await echo(port(a.listen), MSG);
  await populated.node_b.remove();
  out.final = Object.keys(await tp.getAll()).sort();
  console.log(JSON.stringify(out));
})().catch((e) => { console.error("script failed: " + e.message); process.exit(1); });
"""


def run_script(node_client: Path, tmp_path: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    script = tmp_path / "drive.js"
    script.write_text(SCRIPT)
    env = {**os.environ, "MODULE": str(node_client), "CFG": json.dumps(cfg)}
    node = shutil.which("node") or "node"
    out = subprocess.run(
        [node, str(script)], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_node_client_drives_every_endpoint(
    node_client: Path,
    embedded: EmbeddedProxy,
    echo_pair: tuple[TcpServer, TcpServer],
    tmp_path: Path,
) -> None:
    one, two = echo_pair
    listen_a, listen_b = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        cfg = {
            "api": embedded.url,
            "echo1": one.addr,
            "echo2": two.addr,
            "listen_a": listen_a,
            "listen_b": listen_b,
            "busy": f"127.0.0.1:{busy.getsockname()[1]}",
        }
        r = run_script(node_client, tmp_path, cfg)

    assert r["version"].startswith("2.")
    assert r["created"] == {
        "enabled": True,
        "listen": listen_a,
        "name": "node_a",
        "upstream": one.addr,
    }
    assert r["echo_plain"] == "hello world"
    assert r["all"] == ["node_a"] and r["get"] == r["created"]
    assert r["get_missing"] == "Request failed with status code 404"
    assert r["create_again"] == "Request failed with status code 409"

    assert r["toxic_added"] == {
        "attributes": {"bytes": 4},
        "name": "cut",
        "stream": "downstream",
        "toxicity": 1,
        "type": "limit_data",
    }
    assert r["toxic_get"] == r["toxic_added"]
    assert r["echo_cut4"] == "hell"
    assert r["toxic_post_update"]["attributes"] == {"bytes": 6} and r["echo_cut6"] == "hello "
    assert r["toxic_patch"]["attributes"] == {"bytes": 8} and r["echo_cut8"] == "hello wo"
    assert r["toxic_list"] == ["up", "cut"]  # Toxiproxy's order: upstream first

    assert r["proxy_post_update"]["enabled"] is False
    assert r["echo_disabled"] == "error:ECONNREFUSED"
    assert r["proxy_patch"] is True and r["echo_enabled"] == "hello wo"

    # populate is all or nothing: a later invalid item, a later busy port
    assert r["populate_invalid"] == "Request failed with status code 400"
    assert r["after_invalid"]["upstream"] == one.addr and r["after_invalid"]["enabled"] is True
    assert r["after_invalid_toxics"] == ["up", "cut"]
    assert r["populate_busy"] == "Request failed with status code 500"
    assert r["after_busy"] == ["node_a"]
    assert r["echo_after_failed_populates"] == "hello wo"  # same upstream, toxic still live

    assert r["populated"] == ["node_a", "node_b"]
    assert r["echo_b"] == "hello world"
    assert r["echo_a_kept"] == "hello wo"  # the same item: proxy and toxics kept

    assert r["toxic_removed"] == "Request failed with status code 404"
    assert r["echo_uncut"] == "hello world"
    assert r["after_reset"] == [] and r["echo_after_reset"] == "hello world"
    assert r["final"] == ["node_a"]

    # and the proxy's own state agrees
    info = ToxiproxyClient(embedded.url).proxies()
    assert list(info) == ["node_a"]
    assert info["node_a"].enabled and info["node_a"].upstream == one.addr
    assert info["node_a"].listen == listen_a and info["node_a"].toxics == ()
