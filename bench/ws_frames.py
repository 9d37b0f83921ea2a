"""CPU per WebSocket frame received: WebSocketUser's FrameReader against websocket-client's own
``recv_data`` (what the user read with before), interleaved A B A B in one process.

    python -m bench.ws_frames [--frames 20000] [--rounds 5]

A greenlet writes server frames (a feed quote, unmasked, as the reference system sends them)
into one end of a loopback socket pair under gevent; the other end reads them with each reader.
``burst 1`` writes one frame per send (a quiet feed: one frame per ``recv``), ``burst 10`` ten
(a busy one). The figure is the reading process's CPU time per frame (writer included, the same
for both), the best of the rounds.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import websocket  # noqa: E402
from websocket import ABNF  # noqa: E402

from bench._figures import Figure, emit, load_average  # noqa: E402
from chaosbench.users.websocket_user import FrameReader  # noqa: E402

MESSAGE = (
    '{"seq":123456,"type":"quote","server_time":1796181556.123456,'
    '"data":{"symbol":"BTCUSD","bid":65000.12,"ask":65001.5,"size":3}}'
)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _wire() -> bytes:
    frame = ABNF.create_frame(MESSAGE, ABNF.OPCODE_TEXT)
    frame.mask_value = 0  # a server's frames are not masked
    return bytes(frame.format())


def read_frames(kind: str, frames: int, burst: int) -> float:
    """CPU µs per frame for ``frames`` frames written ``burst`` at a time, read by ``kind``."""
    wire = _wire()
    writer_end, reader_end = socket.socketpair()
    reader_end.settimeout(10)

    def write() -> None:
        for _ in range(0, frames, burst):
            writer_end.sendall(wire * burst)
            gevent.sleep(0)

    g = gevent.spawn(write)
    start = _cpu()
    try:
        if kind == "FrameReader":
            reader = FrameReader(reader_end)
            for _ in range(frames):
                reader.next()
        else:
            ws = websocket.WebSocket(skip_utf8_validation=True)
            ws.sock, ws.connected = reader_end, True
            for _ in range(frames):
                ws.recv_data(control_frame=True)
        spent = _cpu() - start
    finally:
        g.kill()
        writer_end.close()
        reader_end.close()
    return spent / frames * 1e6


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ws_frames", description=__doc__)
    p.add_argument("--frames", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    command = "python -m bench.ws_frames " + " ".join(argv)
    print(f"bench.ws_frames: {args.frames} frames x {args.rounds} rounds; load {load_average()}")
    for burst in (1, 10):
        runs: dict[str, list[float]] = {"websocket-client": [], "FrameReader": []}
        for _ in range(args.rounds):  # A B A B ...
            for kind in runs:
                runs[kind].append(read_frames(kind, args.frames, burst))
        for kind, values in runs.items():
            print(f"  burst {burst}, {kind}: " + " ".join(f"{v:.1f}" for v in values) + " µs")
        a, b = min(runs["websocket-client"]), min(runs["FrameReader"])
        emit(
            Figure(
                bench="ws_frames",
                name=f"CPU per WebSocket frame, {burst} per send: FrameReader / websocket-client",
                value=f"{b:.1f} µs / {a:.1f} µs = {b / a:.2f}",
                target="< 1",
                met=b < a,
                command=command.strip(),
                note=f"best of {args.rounds}, interleaved",
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
