"""packet_loss as TCP makes it: a lost chunk arrives after a retransmission timeout that doubles
on consecutive losses up to a cap, nothing is dropped or reordered, TCP gives up after its
retries, and removing the toxic releases a held chunk at once."""

from __future__ import annotations

import time

from chaosbench.proxy import ToxiproxyClient
from chaosbench.proxy.toxics.base import Envelope
from chaosbench.proxy.toxics.packet_loss import (
    MAX_RETRIES,
    PacketLoss,
    PacketLossAttributes,
    retransmission_waits,
)
from tests.proxy.conftest import connect, recv_exactly
from tests.proxy.servers import TcpServer

BACKOFF = [200, 400, 800, 1600, 3200]


def test_rto_doubles_on_consecutive_losses_up_to_the_cap() -> None:
    always, never = (lambda: True), (lambda: False)
    assert retransmission_waits(never, 200, 3200, MAX_RETRIES) == []
    every = retransmission_waits(always, 200, 3200, MAX_RETRIES)
    assert every == BACKOFF + [3200] * (MAX_RETRIES + 1 - len(BACKOFF))  # then TCP gives up
    assert retransmission_waits(always, 200, 1000, 4) == [200, 400, 800, 1000, 1000]
    assert retransmission_waits(always, 300, 300, 2) == [300, 300, 300]


def test_seeded_losses_are_consecutive_backoffs_with_geometric_counts() -> None:
    """With loss 0.5 from a seeded toxic: each chunk waits a prefix of the backoff sequence, the
    share of chunks lost at least k times is 0.5**k (binomial, 4 sigma), and the seed repeats it."""

    def draws(seed: int) -> list[list[int]]:
        toxic = PacketLoss(Envelope("pl", "packet_loss"), PacketLossAttributes(loss=0.5, seed=seed))
        return [
            retransmission_waits(lambda: toxic.chance(0.5), 200, 3200, MAX_RETRIES)
            for _ in range(4000)
        ]

    chunks = draws(11)
    full = BACKOFF + [3200] * MAX_RETRIES
    assert all(w == full[: len(w)] for w in chunks)
    n = len(chunks)
    for k in range(1, 6):
        p = 0.5**k
        hits = sum(1 for w in chunks if len(w) >= k)
        assert abs(hits - n * p) <= 4 * (n * p * (1 - p)) ** 0.5, (k, hits)
    assert max(len(w) for w in chunks) >= 6  # the cap was reached (3200 ms, twice)
    assert draws(11) == chunks and draws(12) != chunks


def test_lost_chunks_arrive_complete_and_in_order(
    client: ToxiproxyClient, echo_server: TcpServer
) -> None:
    """Half the chunks lost (short RTOs for the test): every byte comes back, in order."""
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    client.add_toxic("echo", "packet_loss", {"loss": 0.5, "rto": 20, "max_rto": 80, "seed": 3})
    s = connect(info.listen, timeout=20.0)
    sent = b""
    t0 = time.perf_counter()
    for i in range(60):
        msg = f"<{i:04d}>".encode()
        s.sendall(msg)
        sent += msg
        time.sleep(0.002)  # separate chunks
    assert recv_exactly(s, len(sent)) == sent
    assert time.perf_counter() - t0 >= 0.02  # some chunk was held one RTO at least
    s.close()


def test_removal_releases_a_held_chunk_and_the_ones_behind_it(
    client: ToxiproxyClient, echo_server: TcpServer
) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    s = connect(info.listen)
    s.sendall(b"warm")
    assert recv_exactly(s, 4) == b"warm"
    client.add_toxic("echo", "packet_loss", {"loss": 1.0, "rto": 30_000, "max_rto": 30_000})
    t = time.perf_counter()
    s.sendall(b"held")
    time.sleep(0.1)
    s.sendall(b"next")
    time.sleep(0.1)
    client.remove_toxic("echo", "packet_loss_downstream")
    assert recv_exactly(s, 8) == b"heldnext"
    assert time.perf_counter() - t < 5.0  # not after the 30 s RTO
    s.close()


def test_tcp_gives_up_after_max_retries(client: ToxiproxyClient, echo_server: TcpServer) -> None:
    """Every transmission lost: after max_retries retransmissions the connection is closed."""
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    attrs = {"loss": 1.0, "rto": 50, "max_rto": 50, "max_retries": 2}
    client.add_toxic("echo", "packet_loss", attrs)
    s = connect(info.listen)
    t = time.perf_counter()
    s.sendall(b"lost")
    try:
        data = s.recv(16)
    except (TimeoutError, ConnectionResetError) as exc:
        raise AssertionError(f"expected a close, got {exc!r}") from None
    elapsed = time.perf_counter() - t
    assert data == b""  # closed, the chunk never delivered
    assert elapsed >= 0.14, elapsed  # three timeouts of 50 ms first
    s.close()
