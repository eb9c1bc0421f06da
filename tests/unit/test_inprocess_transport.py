"""The in-process transport's bounds: events, changes in them, and a batch's apply time."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

from relmig.source.changes import ChangeStream, Heartbeat, Transaction
from relmig.transport import inprocess
from relmig.transport.inprocess import BatchBudget, InProcessTransport

NOW = dt.datetime.now(dt.UTC)


class Fixed(ChangeStream):
    """Transactions of the given sizes, then idle heartbeats."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.read = 0
        self.keepalives = 0

    def events(self, idle_seconds: float = 1.0) -> Iterator[Transaction | Heartbeat]:
        for n, size in enumerate(self.sizes):
            self.read = n + 1
            yield Transaction(str(n), NOW, [None] * size)  # type: ignore[list-item]
        while True:
            time.sleep(0.05)
            yield Heartbeat("end", NOW)

    def confirm(self, position: str) -> None:
        pass

    def keepalive(self) -> None:
        self.keepalives += 1

    def close(self) -> None:
        pass


def queued_positions(transport: InProcessTransport) -> list[str]:
    return [e.position for e in list(transport._queue.queue)]  # type: ignore[union-attr]


def wait_until(predicate, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_run_of_large_transactions_waits_for_room() -> None:
    stream = Fixed([30_000, 30_000, 30_000])
    transport = InProcessTransport(stream, max_changes=50_000)
    try:
        wait_until(lambda: stream.read == 2)
        time.sleep(0.3)
        assert queued_positions(transport) == ["0"]  # the second does not fit beside it
        batches = transport.batches()
        assert [e.position for e in next(batches)] == ["0"]
        wait_until(lambda: queued_positions(transport)[:1] == ["1"])
        time.sleep(0.3)
        assert queued_positions(transport) == ["1"]
    finally:
        transport.close()


def test_one_transaction_larger_than_the_bound_passes_alone() -> None:
    stream = Fixed([10, 200_000, 10])
    transport = InProcessTransport(stream, max_changes=50_000)
    try:
        batches = transport.batches()
        seen: list[str] = []
        while len(seen) < 3:
            seen += [e.position for e in next(batches) if isinstance(e, Transaction)]
        assert seen == ["0", "1", "2"]
    finally:
        transport.close()


def test_a_batch_is_what_queued_without_waiting_for_more() -> None:
    stream = Fixed([5])
    transport = InProcessTransport(stream)
    try:
        wait_until(lambda: stream.read == 1)
        started = time.monotonic()
        batch = next(transport.batches())
        assert [e.position for e in batch] == ["0"]
        assert time.monotonic() - started < 0.01  # no fixed wait between a commit and its apply
    finally:
        transport.close()


def test_a_batch_stops_at_the_budget_and_keeps_order() -> None:
    stream = Fixed([40] * 10)
    transport = InProcessTransport(stream)
    try:
        wait_until(lambda: len(queued_positions(transport)) == 10)
        budget = BatchBudget(first=100)
        batches = transport.batches(budget)
        sizes, seen = [], []
        while len(seen) < 10:
            txns = [e for e in next(batches) if isinstance(e, Transaction)]
            sizes.append(sum(len(t.changes) for t in txns))
            seen += [t.position for t in txns]
        assert seen == [str(n) for n in range(10)]
        assert max(sizes) <= 100
    finally:
        transport.close()


def test_a_reader_blocked_by_a_busy_applier_keeps_the_stream_alive(monkeypatch) -> None:
    monkeypatch.setattr(inprocess, "KEEPALIVE_SECONDS", 0.05)
    stream = Fixed([30_000, 30_000])
    transport = InProcessTransport(stream, max_changes=50_000)
    try:
        wait_until(lambda: stream.keepalives >= 3)  # one per KEEPALIVE_SECONDS while blocked
        assert queued_positions(transport) == ["0"]
    finally:
        transport.close()


def test_the_budget_follows_the_apply_rate() -> None:
    budget = BatchBudget(seconds=1.0, first=200, most=20_000)
    budget.record(200, 0.01)  # fast: grows, at most doubling per batch
    assert budget.limit == 400
    for _ in range(10):
        budget.record(budget.limit, 0.01)
    assert budget.limit == 20_000
    budget.record(20_000, 10.0)  # a batch took ten times its budget: shrinks at once
    assert budget.limit == 2_000
    budget.record(5, 0.001)  # a lone small commit says nothing about the rate
    assert budget.limit == 2_000
