"""The feed hub's bookkeeping, in process: restore, leases, gap notices, subscribe snapshots."""

from __future__ import annotations

from chaosbench.sut.feed.hub import GAP_BUFFER, GAP_RESTART, LEASE_MIN, FeedHub, FeedMessage


def stored(*seqs: int) -> list[str]:
    return [FeedMessage(s, "quote", "{}").stored() for s in seqs]


def test_restore_keeps_the_newest_contiguous_run_and_continues_above_the_lease() -> None:
    hub = FeedHub(replay_size=100, queue_limit=10)
    hub.restore(stored(1, 2, 5, 6, 6, 7), leased=1007)
    assert [m.seq for m in hub.buffer] == [5, 6, 7]
    assert hub.seq == 1007 and hub.restart_hole == (8, 1007)
    assert hub.publish("quote", {}).seq == 1008


def test_clean_restart_has_no_hole() -> None:
    hub = FeedHub(replay_size=100, queue_limit=10)
    hub.restore(stored(3, 4, 5), leased=5)
    assert hub.seq == 5 and hub.restart_hole is None


def test_leases_stay_ahead_of_publication_and_scale_with_the_rate() -> None:
    leases: list[int] = []
    hub = FeedHub(replay_size=10, queue_limit=10, lease=leases.append)
    for _ in range(2000):  # a burst: far more than LEASE_MIN messages within one second
        msg = hub.publish("quote", {"i": 1})
        assert leases and leases[-1] > msg.seq  # the stored lease is always above what is sent
    assert leases == sorted(leases)
    # the step grows with the rate, so a burst does not cost one Redis write per message...
    assert len(leases) < 2000 / 5
    # ...and a quiet feed keeps the hole a restart can leave small
    quiet = FeedHub(replay_size=10, queue_limit=10, lease=leases.append)
    quiet.publish("quote", {})
    assert leases[-1] - quiet.seq == LEASE_MIN


def test_subscribe_snapshot_and_gap_notices() -> None:
    hub = FeedHub(replay_size=5, queue_limit=100)
    for _ in range(12):
        hub.publish("quote", {})
    sub, check, backlog = hub.subscribe(since=2)
    assert [m.seq for m in backlog] == [8, 9, 10, 11, 12]
    gap, send = check.admit(backlog[0])
    assert send and gap is not None and (gap.first, gap.last, gap.reason) == (3, 7, GAP_BUFFER)
    assert check.admit(backlog[1]) == (None, True)
    assert check.admit(backlog[0]) == (None, False)  # never a duplicate
    live = hub.publish("quote", {})
    assert sub.take() == [live]
    _, check2, backlog2 = hub.subscribe(since=13)
    assert backlog2 == [] and check2.expected == 14


def test_gap_reason_names_the_restart_hole() -> None:
    hub = FeedHub(replay_size=10, queue_limit=10)
    hub.restore(stored(1, 2, 3), leased=500)
    _, check, backlog = hub.subscribe(since=1)
    assert [m.seq for m in backlog] == [2, 3]
    for m in backlog:
        assert check.admit(m) == (None, True)
    gap, send = check.admit(hub.publish("quote", {}))
    assert send and gap is not None and (gap.first, gap.last, gap.reason) == (4, 500, GAP_RESTART)


def test_overflow_calls_back_once_and_stops_queueing() -> None:
    hub = FeedHub(replay_size=10, queue_limit=3)
    calls: list[int] = []
    sub, _, _ = hub.subscribe(None)
    sub.on_overflow = lambda: calls.append(1)
    for _ in range(10):
        hub.publish("quote", {})
    assert sub.overflowed and calls == [1] and len(sub.queue) == 0


def test_backlog_across_the_restart_hole_is_found_by_number() -> None:
    hub = FeedHub(replay_size=100, queue_limit=10)
    hub.restore(stored(1, 2, 3, 4), leased=1000)
    for _ in range(3):
        hub.publish("quote", {})
    _, check, backlog = hub.subscribe(since=3)
    assert [m.seq for m in backlog] == [4, 1001, 1002, 1003]
    assert check.admit(backlog[0]) == (None, True)
    gap, _ = check.admit(backlog[1])
    assert gap is not None and (gap.first, gap.last, gap.reason) == (5, 1000, GAP_RESTART)


def test_since_beyond_the_feed_starts_the_live_stream() -> None:
    hub = FeedHub(replay_size=10, queue_limit=10)
    for _ in range(3):
        hub.publish("quote", {})
    _, check, backlog = hub.subscribe(since=500)  # e.g. the SUT lost its Redis state
    assert backlog == []
    assert check.admit(hub.publish("quote", {})) == (None, True)
