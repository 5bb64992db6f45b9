"""Bounded concurrency for venue calls that do not depend on each other.

Why not ``asyncio.gather`` alone: a kill switch cancelling fifty orders, or a reconcile asking about
thirty settled markets, should not open fifty requests at once (the venues' rate limits) nor wait
for each in turn (a trader waiting on a halt). Why not ``asyncio.TaskGroup``: it wraps a failure in
an ``ExceptionGroup``, and callers here catch orion's own errors by type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, overload

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
T = TypeVar("T")


async def gather_limited(fn: Callable[[A], Awaitable[T]], items: Iterable[A], *, limit: int) -> list[T]:
    """``fn`` of every item, at most ``limit`` at a time; the results in the items' order.

    The first failure cancels the calls still running or waiting, waits for them to finish, and is
    raised as it was (never wrapped). Calls not yet started are never started.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    slots = asyncio.Semaphore(limit)

    async def one(item: A) -> T:
        async with slots:
            return await fn(item)

    return await all_or_none(one(item) for item in items)


@overload
async def all_of(first: Awaitable[A], second: Awaitable[B], /) -> tuple[A, B]: ...
@overload
async def all_of(first: Awaitable[A], second: Awaitable[B], third: Awaitable[C], /) -> tuple[A, B, C]: ...
async def all_of(*calls: Awaitable[Any]) -> tuple[Any, ...]:
    """A few different calls at once, as :func:`gather_limited` runs one call over many items: the
    first failure cancels the others, waits for them, and is raised as it was."""
    return tuple(await all_or_none(calls))


async def all_or_none(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Every call at once, the results in order; on the first failure the others are cancelled and
    waited for, and the failure is raised unwrapped (so nothing keeps running behind the caller's
    back, as it would under a plain ``asyncio.gather``)."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
