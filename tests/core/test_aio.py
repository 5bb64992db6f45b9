"""gather_limited: bounded, ordered, and a failure stops the rest without being wrapped."""

from __future__ import annotations

import asyncio

import pytest

from orion_cli.core.aio import all_of, all_or_none, gather_limited
from orion_cli.core.errors import VenueUnavailable


class Probe:
    """Counts the calls running at once; each waits a few loop turns so that calls can overlap."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.started: list[int] = []
        self.finished: list[int] = []

    async def __call__(self, item: int) -> int:
        self.started.append(item)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            for _ in range(3 + item % 3):  # uneven lengths: finishing order differs from item order
                await asyncio.sleep(0)
            if item == 13:
                raise VenueUnavailable("kalshi", "connection refused")
            return item * 10
        finally:
            self.running -= 1
            self.finished.append(item)


def test_results_come_in_the_items_order_with_at_most_limit_running() -> None:
    probe = Probe()
    assert asyncio.run(gather_limited(probe, range(10), limit=3)) == [i * 10 for i in range(10)]
    assert probe.most == 3
    assert probe.finished != sorted(probe.finished)  # they did overlap and finish out of order
    assert asyncio.run(gather_limited(probe, [], limit=3)) == []


def test_the_first_failure_is_raised_as_is_and_the_rest_are_cancelled_or_never_started() -> None:
    probe = Probe()
    with pytest.raises(VenueUnavailable, match="connection refused"):  # not an ExceptionGroup
        asyncio.run(gather_limited(probe, range(10, 40), limit=4))
    assert probe.running == 0  # nothing left running behind the caller's back
    assert 13 in probe.started and len(probe.started) < 30  # later items were never started


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        asyncio.run(gather_limited(Probe(), range(3), limit=0))


def test_all_of_runs_two_calls_at_once_and_returns_their_results_in_order() -> None:
    async def main() -> tuple[str, int]:
        gate = asyncio.Event()

        async def first() -> str:
            await asyncio.wait_for(gate.wait(), timeout=5)  # only the second can open it: run together
            return "a"

        async def second() -> int:
            gate.set()
            return 2

        return await all_of(first(), second())

    assert asyncio.run(main()) == ("a", 2)


def test_all_of_raises_the_first_failure_as_is_and_cancels_the_other() -> None:
    cancelled = []

    async def main() -> None:
        async def slow() -> None:
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        async def fails() -> None:
            raise VenueUnavailable("kalshi", "down")

        await all_of(slow(), fails())

    with pytest.raises(VenueUnavailable):
        asyncio.run(main())
    assert cancelled == [True]


def test_all_or_none_cancels_every_other_call_on_the_first_failure_and_keeps_the_order() -> None:
    cancelled: list[int] = []

    async def slow(i: int) -> int:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i  # pragma: no cover - always cancelled

    async def fails() -> int:
        raise VenueUnavailable("kalshi", "down")

    async def instant(i: int) -> int:
        return i

    async def main() -> list[int]:
        with pytest.raises(VenueUnavailable):
            await all_or_none([slow(1), fails(), slow(2)])
        return sorted(cancelled)  # before the event loop's own clean-up could cancel them

    assert asyncio.run(all_or_none(instant(i) for i in (3, 1, 2))) == [3, 1, 2]
    assert asyncio.run(main()) == [1, 2]
