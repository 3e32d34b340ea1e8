"""Load generators: `wrk` at saturation, and an open-loop client that holds a fixed rate.

wrk is closed-loop (each connection waits for its answer), so it measures capacity; it
cannot hold a rate. The open-loop client schedules request i at start + i/rate whether or
not earlier ones have answered, and measures latency from the *scheduled* time, so a
stall shows up in the percentiles instead of silently lowering the rate (no coordinated
omission, as wrk2 does it).
"""

from __future__ import annotations

import asyncio
import math
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.procs import die_with_bench

FORM = "application/x-www-form-urlencoded"
# A page served without its results (analytics missed its deadline) counts as a failure.
DEGRADED = b"results unavailable"


@dataclass
class LoadResult:
    """What one load run achieved."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # transport errors, timeouts, 4xx/5xx answers (open loop: degraded pages)
    client_cpu_s: float = 0.0  # CPU the load generator itself used (wrk only)

    @property
    def error_share(self) -> float:
        return self.errors / self.requests if self.requests else 1.0


class LoadError(RuntimeError):
    """The load generator could not run."""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise LoadError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> LoadResult:
    """The figures of `wrk --latency` output."""
    try:
        requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", output).group(1))  # type: ignore[union-attr]
        seconds = float(re.search(r"requests in ([\d.]+)s", output).group(1))  # type: ignore[union-attr]
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
        p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
        p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    except AttributeError as exc:
        raise LoadError(f"could not read wrk's output:\n{output[-800:]}") from exc
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        errors += sum(int(x) for x in sockets.groups())
    return LoadResult(requests, seconds, rps, p50, p99, errors)


def wrk(
    url: str,
    *,
    duration: float,
    threads: int = 2,
    connections: int = 50,
    post_form: str | None = None,
    timeout_s: float = 5.0,
) -> LoadResult:
    """`wrk -t -c -d --latency` against `url` (a POST of `post_form` when given)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise LoadError("wrk is not installed (make setup installs it from Debian)")
    if not url.startswith("http://127.0.0.1:"):
        raise LoadError("the bench only loads 127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="voting-bench-wrk-") as tmp:
        argv = [
            binary,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            f"--timeout={timeout_s:g}s",
            "--latency",
        ]
        if post_form is not None:
            script = Path(tmp) / "post.lua"
            script.write_text(
                'wrk.method = "POST"\n'
                f'wrk.body = "{post_form}"\n'
                f'wrk.headers["Content-Type"] = "{FORM}"\n'
            )
            argv += ["-s", str(script)]
        argv.append(url)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=duration + timeout_s + 30,
            preexec_fn=die_with_bench(),
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise LoadError(f"wrk failed: {result.stderr.strip() or result.stdout[-500:]}")
    figures = parse_wrk(result.stdout)
    figures.client_cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return figures


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(share * len(sorted_values)) - 1))
    return sorted_values[index]


async def schedule(
    rate: float, total: int, one: Callable[[float], Awaitable[None]]
) -> tuple[float, float]:
    """Start `one(scheduled_time)` `total` times at `rate`/s, whatever answers take (an open
    loop); return the seconds until the last answered and until the last was sent."""
    start = time.perf_counter() + 0.05  # uvloop's loop.time() ticks in whole ms
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    sent = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return time.perf_counter() - start, sent


async def _open_loop(
    url: str,
    rate: float,
    duration: float,
    post_form: dict[str, str] | None,
    timeout_s: float,
    max_in_flight: int,
) -> LoadResult:
    total = max(1, round(rate * duration))
    latencies: list[float] = []
    errors = 0
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    gate = asyncio.Semaphore(max_in_flight)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def one(scheduled: float) -> None:
            nonlocal errors
            try:
                async with gate:
                    if post_form is None:
                        request = session.get(url)
                    else:
                        request = session.post(url, data=post_form, allow_redirects=False)
                    async with request as response:
                        body = await response.read()
                        if response.status >= 400 or DEGRADED in body:
                            errors += 1
                            return
            except (aiohttp.ClientError, TimeoutError, OSError):
                errors += 1
                return
            latencies.append((time.perf_counter() - scheduled) * 1000)

        elapsed, _ = await schedule(rate, total, one)
    latencies.sort()
    return LoadResult(
        requests=total,
        seconds=elapsed,
        rps=len(latencies) / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        errors=errors,
    )


def open_loop(
    url: str,
    *,
    rate: float,
    duration: float,
    post_form: dict[str, str] | None = None,
    timeout_s: float = 5.0,
    max_in_flight: int = 256,
) -> LoadResult:
    """Hold `rate` requests/s for `duration` s; latency counted from each scheduled time."""
    if not url.startswith("http://127.0.0.1:"):
        raise LoadError("the bench only loads 127.0.0.1")
    return _run(_open_loop(url, rate, duration, post_form, timeout_s, max_in_flight))


async def _interleaved(urls: list[str], rounds: int, timeout_s: float) -> list[list[float]]:
    latencies: list[list[float]] = [[] for _ in urls]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        for _ in range(rounds):
            for index, url in enumerate(urls):
                started = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        raise LoadError(f"GET {url} answered {response.status}")
                latencies[index].append((time.perf_counter() - started) * 1000)
    return latencies


def interleaved(urls: list[str], rounds: int, timeout_s: float = 5.0) -> list[list[float]]:
    """Latencies (ms) of GETs one at a time, taking the URLs in turn for `rounds` rounds.

    Taking them in turn, request by request, spreads the machine's noise over every URL
    alike, so their ratio is meaningful even on a busy machine.
    """
    return _run(_interleaved(urls, rounds, timeout_s))


def _run(coro):  # type: ignore[no-untyped-def]
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
