"""What several benchmark cases share: the original's figures and the rates and hop counts
the goals are stated in, the run's Durations and Context, one path's figures (PathFigures,
measure) and dropping the MySQL databases a case created. Kept apart so that each case
module holds only its own case.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from bench import load
from bench.procs import Children, Ports, total_cpu
from bench.report import Report

ORIGINAL_GET_RPS = 690  # the original's lower figure for 1.0 GET / (no mesh), 2 cores
ORIGINAL_VOTE_RPS = 3750  # the original's POST / (acknowledged before the INCR completed)
RATE = 200.0  # the fixed, moderate rate
LOW_RATE = 50.0  # a rate the mesh holds on a busy 2-core machine: latency without queueing
GET_HOPS = 6  # Envoys a page crosses: ingress, app in/out, analytics in/out, storage in
VOTE_HOPS = 4  # Envoys a vote crosses: ingress, app in/out, storage in
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
VOTE_ENV = {
    "TITLE": "AKS Voting App",
    "VOTE1VALUE": "Cats",
    "VOTE2VALUE": "Dogs",
    "SHOWDETAILS": "true",
    "FEATUREFLAG": "false",
}


@dataclass
class Durations:
    warmup: float
    saturate: float
    rate: float
    small: int
    large: int
    samples: int
    observe: float

    @classmethod
    def for_run(cls, quick: bool) -> Durations:
        if quick:
            # a smoke run (CI): every case and row, each load for the shortest wrk allows
            return cls(
                warmup=1, saturate=1, rate=1, small=10**3, large=2 * 10**4, samples=300, observe=5
            )
        return cls(
            warmup=5, saturate=10, rate=10, small=10**3, large=10**6, samples=2000, observe=60
        )


@dataclass
class Context:
    report: Report
    children: Children
    ports: Ports
    durations: Durations
    workdir: Path

    def log(self, message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class PathFigures:
    """What one path (direct or mesh) achieved for one request kind."""

    rate: load.LoadResult
    saturation: load.LoadResult
    cpu_ms: float  # CPU of every process on the path per request, at saturation
    low: load.LoadResult  # open loop at LOW_RATE

    @property
    def idle_machine_rps(self) -> float:
        """What the cores could serve if nothing else ran: cores / (CPU per request incl. wrk)."""
        s = self.saturation
        per_request = self.cpu_ms / 1000 + s.client_cpu_s / max(s.requests, 1)
        return (os.cpu_count() or 1) / per_request if per_request > 0 else 0.0


def measure(ctx: Context, url: str, pids: list[int], vote: bool) -> PathFigures:
    d = ctx.durations
    form = "vote=Cats" if vote else None
    load.wrk(url, duration=d.warmup, post_form=form)
    vote_form = {"vote": "Cats"} if vote else None
    low = load.open_loop(url, rate=LOW_RATE, duration=d.rate, post_form=vote_form)
    rate = load.open_loop(url, rate=RATE, duration=d.rate, post_form=vote_form)
    time.sleep(1)  # let a backlog from an overloaded rate drain before measuring capacity
    before = total_cpu(pids)
    saturation = load.wrk(url, duration=d.saturate, post_form=form)
    cpu = total_cpu(pids) - before
    return PathFigures(rate, saturation, cpu * 1000 / max(saturation.requests, 1), low)


def drop_databases(names: list[str]) -> None:
    async def drop() -> None:
        import asyncmy

        conn = await asyncmy.connect(**MYSQL, autocommit=True)
        try:
            async with conn.cursor() as cur:
                for name in names:
                    await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()

    with contextlib.suppress(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Can't drop database ...": never created, fine
        asyncio.run(drop())
