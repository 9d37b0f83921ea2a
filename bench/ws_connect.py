"""CPU per WebSocket connect and handshake, three ways interleaved in one process:
websocket-client's own connect (its proxy lookup in the environment, name resolution through
gevent's thread pool, the answer read one byte per ``recv``); WebSocketUser's ``direct_socket``
(the user connects a ``ws://`` URL to an IP address itself) handed to websocket-client's
handshake; and ``open_connection``, what the FeedUser does now: ``direct_socket`` and its own
handshake (``chaosbench.users.wshandshake``: the answer read in chunks).

    python -m bench.ws_connect [--connects 100] [--rounds 12]

A handshake server in a child process (gevent: reads the upgrade request, answers 101 with
the accept key, closes) on a free loopback port; the client process opens ``--connects``
connections per round with each way, the order rotated and reversed from round to round (every
one of the six orders once in six rounds). The figures are the client's CPU time (user +
system, all its threads) per connect and handshake: each way's median over the rounds, and the
median over the rounds of each round's ratio to websocket-client's.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import websocket  # noqa: E402

from bench._figures import Figure, emit, load_average  # noqa: E402
from bench.noise import die_with_parent  # noqa: E402
from chaosbench.users.websocket_user import direct_socket, open_connection  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

SERVER = r"""
from gevent import monkey; monkey.patch_all()
import base64, hashlib
from gevent.server import StreamServer
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
def handle(sock, _addr):
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            return
        head += data
    key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
           if l.lower().startswith(b"sec-websocket-key:")][0]
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    sock.recv(4096)  # until the client closes
srv = StreamServer(("127.0.0.1", 0), handle)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
"""


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def library(url: str) -> None:
    ws = websocket.create_connection(
        url, timeout=5, enable_multithread=True, skip_utf8_validation=True
    )
    ws.shutdown()  # the socket closed at once, no closing handshake


def direct(url: str) -> None:
    ws = websocket.create_connection(
        url,
        timeout=5,
        enable_multithread=True,
        skip_utf8_validation=True,
        socket=direct_socket(url, 5.0),
    )
    ws.shutdown()


def own(url: str) -> None:
    ws, _rest = open_connection(url, 5.0)
    ws.shutdown()


#: the ways, websocket-client's first (the others' ratios are to it)
WAYS: dict[str, Callable[[str], None]] = {
    "websocket-client": library,
    "direct_socket": direct,
    "own handshake": own,
}


def measure(url: str, connects: int, rounds: int) -> dict[str, list[float]]:
    """µs of CPU per connect, per way and round."""
    names = list(WAYS)
    for name in names:  # warm up every way
        WAYS[name](url)
    per: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        if i % 2:
            order.reverse()
        for name in order:
            way = WAYS[name]
            before = _cpu()
            for _ in range(connects):
                way(url)
            per[name].append((_cpu() - before) / connects * 1e6)
    return per


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ws_connect")
    ap.add_argument("--connects", type=int, default=100, help="connects per way and round")
    ap.add_argument("--rounds", type=int, default=12, help="interleaved rounds (>= 6)")
    args = ap.parse_args(argv)
    if args.rounds < 6:
        ap.error("--rounds: at least 6")
    command = f"python -m bench.ws_connect {' '.join(argv)}".strip()
    print(command)
    print(f"load average at start: {load_average()}; {os.cpu_count()} cores")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        per = measure(f"ws://127.0.0.1:{int(server.stdout.readline())}/ws/feed", args.connects,
                      args.rounds)  # fmt: skip
    finally:
        server.kill()
        server.wait(10)
    base_name, *others = WAYS
    base = per[base_name]
    for name, values in per.items():
        print(f"  {name:<16} {statistics.median(values):6.0f} µs per connect "
              f"({min(values):.0f}..{max(values):.0f})")  # fmt: skip
    for name in others:
        ratio = statistics.median(n / o for o, n in zip(base, per[name], strict=True))
        emit(
            Figure(
                bench="ws_connect",
                name=f"CPU per WebSocket connect + handshake: {name} / {base_name}",
                value=f"{ratio:.2f} (median of the rounds' ratios; "
                f"{statistics.median(per[name]):.0f} µs / {statistics.median(base):.0f} µs)",
                target="< 1",
                met=ratio < 1,
                command=command,
                note=f"{args.rounds} interleaved rounds of {args.connects}",
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
