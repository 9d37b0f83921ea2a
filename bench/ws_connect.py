"""CPU per WebSocket connect and handshake: WebSocketUser's ``direct_socket`` (the user connects
a ``ws://`` URL to an IP address itself) against websocket-client's own connect (its proxy
lookup in the environment and name resolution through gevent's thread pool), interleaved in
one process.

    python -m bench.ws_connect [--connects 100] [--rounds 10]

A handshake server in a child process (gevent: reads the upgrade request, answers 101 with
the accept key, closes) on a free loopback port; the client process opens ``--connects``
connections per round with each way, the order reversed every other round (A B, B A, ...). The
figure is the client's CPU time (user + system, all its threads) per connect and handshake:
the median over the rounds of each round's ratio, and each way's median.
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
from pathlib import Path  # noqa: E402

import websocket  # noqa: E402

from bench._figures import Figure, emit, load_average  # noqa: E402
from bench.noise import die_with_parent  # noqa: E402
from chaosbench.users.websocket_user import direct_socket  # noqa: E402

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


def connect(url: str, direct: bool) -> None:
    ws = websocket.create_connection(
        url,
        timeout=5,
        enable_multithread=True,
        skip_utf8_validation=True,
        socket=direct_socket(url, 5.0) if direct else None,
    )
    ws.shutdown()  # the socket closed at once, no closing handshake


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ws_connect")
    ap.add_argument("--connects", type=int, default=100, help="connects per way and round")
    ap.add_argument("--rounds", type=int, default=10, help="interleaved rounds (>= 5)")
    args = ap.parse_args(argv)
    if args.rounds < 5:
        ap.error("--rounds: at least 5")
    command = f"python -m bench.ws_connect {' '.join(argv)}".strip()
    print(command)
    print(f"load average at start: {load_average()}; {os.cpu_count()} cores")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = f"ws://127.0.0.1:{int(server.stdout.readline())}/ws/feed"
        for direct in (False, True):  # warm up both
            connect(url, direct)
        per: dict[bool, list[float]] = {False: [], True: []}
        for i in range(args.rounds):
            for direct in (False, True) if i % 2 == 0 else (True, False):
                before = _cpu()
                for _ in range(args.connects):
                    connect(url, direct)
                per[direct].append((_cpu() - before) / args.connects * 1e6)
    finally:
        server.kill()
        server.wait(10)
    old, new = statistics.median(per[False]), statistics.median(per[True])
    ratio = statistics.median(n / o for o, n in zip(per[False], per[True], strict=True))
    for way, values in (("websocket-client", per[False]), ("direct_socket", per[True])):
        print(f"  {way:<16} {statistics.median(values):6.0f} µs per connect "
              f"({min(values):.0f}..{max(values):.0f})")  # fmt: skip
    emit(
        Figure(
            bench="ws_connect",
            name="CPU per WebSocket connect + handshake: direct_socket / websocket-client",
            value=f"{ratio:.2f} (median of the rounds' ratios; {new:.0f} µs / {old:.0f} µs)",
            target="< 1",
            met=ratio < 1,
            command=command,
            note=f"{args.rounds} interleaved rounds of {args.connects}",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
