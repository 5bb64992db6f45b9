"""Bounded concurrency for venue calls that do not depend on each other.

Why not ``asyncio.gather`` alone: a kill switch cancelling fifty orders, or a reconcile asking about
thirty settled markets, should not open fifty requests at once (the venues' rate limits) nor wait
for each in turn (a trader waiting on a halt). Why not ``asyncio.TaskGroup``: it wraps a failure in
an ``ExceptionGroup``, and callers here catch orion's own errors by type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

A = TypeVar("A")
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

    return await _all_or_none([asyncio.ensure_future(one(item)) for item in items])


async def both(first: Awaitable[A], second: Awaitable[T]) -> tuple[A, T]:
    """Two different calls at once, as :func:`gather_limited` runs one call over many items: the
    first failure cancels the other, waits for it, and is raised as it was."""
    task_a, task_b = asyncio.ensure_future(first), asyncio.ensure_future(second)
    await _all_or_none([task_a, task_b])
    return task_a.result(), task_b.result()


async def _all_or_none(tasks: list[asyncio.Future[Any]]) -> list[Any]:
    """The tasks' results in order; on the first failure the others are cancelled and waited for,
    and the failure is raised unwrapped (so nothing keeps running behind the caller's back)."""
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
