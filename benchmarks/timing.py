"""One way to time calls, so that a p50 or a rate means the same thing in every benchmark.

Percentiles interpolate between samples (numpy's default); the rate divides calls by the wall time of the
whole run, which for concurrent callers is shorter than the sum of their latencies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    seconds: tuple[float, ...]  # one per timed call
    wall: float  # seconds from the first timed call's start to the last one's end

    @property
    def calls(self) -> int:
        return len(self.seconds)

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.seconds, q)) * 1000 if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p95_ms(self) -> float:
        return self.percentile_ms(95)

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.seconds)) * 1000 if self.seconds else 0.0

    @property
    def max_ms(self) -> float:
        return max(self.seconds, default=0.0) * 1000

    @property
    def rate(self) -> float:
        return self.calls / self.wall if self.wall > 0 else 0.0

    def summary(self) -> dict[str, float]:
        """The figures the benchmarks' JSON files keep."""
        return {"p50_ms": round(self.p50_ms, 1), "p95_ms": round(self.p95_ms, 1)}


def time_calls(fn: Callable[[T], Any], inputs: Iterable[T], *, rounds: int = 1, warmup: int = 0) -> Timing:
    """`fn` over `inputs`, `rounds` times, after `warmup` untimed calls that fill caches and lazy imports."""
    inputs = list(inputs)
    for item in inputs[:warmup]:
        fn(item)
    seconds = []
    started = time.perf_counter()
    for _ in range(rounds):
        for item in inputs:
            start = time.perf_counter()
            fn(item)
            seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds), time.perf_counter() - started)


async def time_lanes(fn: Callable[[T], Awaitable[Any]], lanes: Sequence[Sequence[T]]) -> Timing:
    """Lanes run concurrently, each awaiting one call before starting its next, as a person waits for a reply."""
    seconds: list[float] = []

    async def lane(items: Sequence[T]) -> None:
        for item in items:
            start = time.perf_counter()
            await fn(item)
            seconds.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(lane(items) for items in lanes))
    return Timing(tuple(seconds), time.perf_counter() - started)
