"""Waiting on conditions instead of on the clock, and tolerances derived from sample sizes.

A busy 2-core machine makes every fixed sleep a guess: what a sleep was meant to let happen
(requests sent, a scrape taken, a reload done) is waited for instead, with a deadline far
above the usual time, so a slow machine only makes a test slower, never wrong.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2
) -> None:
    """Poll `condition` until it holds; fail with `what` was awaited after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        time.sleep(interval)


async def eventually(
    probe: Callable[[], Awaitable[T | None] | T | None],
    timeout: float,
    what: str,
    interval: float = 0.2,
) -> T:
    """Await `probe` (sync or async) until it gives a truthy value, and return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        await asyncio.sleep(interval)


def binomial_tolerance(p: float, n: int, margin: float, sds: float = 4.0) -> float:
    """How far an observed share of `n` independent draws may lie from `p`.

    `sds` standard deviations of a binomial share (4: a false alarm about once in 15,000
    runs) plus an absolute `margin` for what is not sampling noise (e.g. Prometheus
    extrapolating a rate to the edges of its window).
    """
    assert n > 0, "no sample to judge a share on"
    return sds * math.sqrt(p * (1 - p) / n) + margin
