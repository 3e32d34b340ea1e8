"""The benchmarks. Each adds its rows (figure, goal, pass/fail) to the report.

1. mesh cost      the same three functions called directly, then through the ingress and
                  STRICT-mTLS sidecars (step 3): saturation (wrk) and a held 200 req/s
2. read cost      results latency with 10^3 vs 10^6 recorded votes, Redis and MySQL
3. local system   `voting up`: time to ready, RSS of every process it runs
4. observer       CPU of the dashboard process over a minute of refreshes
5. durability     vote throughput with Redis `appendfsync everysec` (what `voting up` runs)
                  vs `no` (and `always`), on one Redis switched with CONFIG SET
6. overload       votes offered at 1x, 2x, 3x saturation: goodput, shed share, admitted p99
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from bench import load
from bench.procs import Children, LocalUp, Ports, cpu_seconds, pss_bytes, rss_bytes, total_cpu
from bench.report import Report, Row, at_least, at_most

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
                warmup=1, saturate=1, rate=1, small=10**3, large=10**5, samples=300, observe=5
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


def _measure(ctx: Context, url: str, pids: list[int], vote: bool) -> PathFigures:
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


# ---------------------------------------------------------------------- 1. mesh cost
def mesh_cost(ctx: Context) -> None:
    report = ctx.report
    redis_port = ctx.ports.take()
    ctx.children.redis(redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"

    ctx.log("mesh cost: the functions called directly")
    storage, results, vote = ctx.ports.take(), ctx.ports.take(), ctx.ports.take()
    procs = [
        ctx.children.function("storage", "1.0", storage, {"REDIS_URL": redis_url}),
        ctx.children.function(
            "results", "1.1", results, {"STORAGE_URL": f"http://127.0.0.1:{storage}"}
        ),
        ctx.children.function(
            "vote",
            "1.0",
            vote,
            VOTE_ENV
            | {
                "ANALYTICS_URL": f"http://127.0.0.1:{results}",
                "STORAGE_URL": f"http://127.0.0.1:{storage}",
            },
        ),
    ]
    pids = [p.pid for p in procs]
    url = f"http://127.0.0.1:{vote}/"
    direct_get = _measure(ctx, url, pids, vote=False)
    direct_vote = _measure(ctx, url, pids, vote=True)
    for process in procs:
        ctx.children.stop(process)

    ctx.log("mesh cost: through the ingress and STRICT-mTLS sidecars (step 3)")
    up = LocalUp(ctx.children, ctx.workdir / "mesh-state", ctx.ports.take())
    database = f"voting_bench_{uuid.uuid4().hex[:8]}"
    try:
        up.start(
            step="lock-down",
            redis_url=redis_url,
            database=database,
            telemetry=False,
            ports=ctx.ports,
        )
        mesh_get = _measure(ctx, up.url, up.pids(), vote=False)
        mesh_vote = _measure(ctx, up.url, up.pids(), vote=True)
    finally:
        up.stop()
        _drop_databases([database])

    case = "1 mesh cost"
    for kind, direct, mesh, hops in (
        ("GET /", direct_get, mesh_get, GET_HOPS),
        ("POST / vote", direct_vote, mesh_vote, VOTE_HOPS),
    ):
        note = _errors_note(direct, mesh)
        report.add(
            Row(case, f"{kind} direct, wrk -t2 -c50", direct.saturation.rps, "req/s", note=note)
        )
        report.add(Row(case, f"{kind} mesh, wrk -t2 -c50", mesh.saturation.rps, "req/s"))
        ratio = mesh.saturation.rps / direct.saturation.rps if direct.saturation.rps else None
        report.add(
            Row(case, f"{kind} mesh/direct throughput", ratio, "x", ">= 0.5", at_least(ratio, 0.5))
        )
        for name, fig in (("direct", direct), ("mesh", mesh)):
            s = fig.saturation
            report.add(
                Row(
                    case,
                    f"{kind} {name} p50/p99 at saturation",
                    s.p99_ms,
                    "ms",
                    note=f"p50 {s.p50_ms:.1f} ms, p99 {s.p99_ms:.1f} ms, {s.errors} errors of {s.requests}",
                )
            )
            report.add(
                Row(
                    case,
                    f"{kind} {name} CPU per request",
                    fig.cpu_ms,
                    "ms",
                    note="user+system CPU of every process on the path (not wrk)",
                )
            )
            report.add(
                Row(
                    case,
                    f"{kind} {name} projected on idle cores",
                    fig.idle_machine_rps,
                    "req/s",
                    note="cores / (CPU per request of the path + of wrk): the rate if nothing else ran",
                )
            )
        for name, fig in (("direct", direct), ("mesh", mesh)):
            r = fig.rate
            report.add(
                Row(
                    case,
                    f"{kind} {name} p99 at {RATE:.0f} req/s",
                    r.p99_ms,
                    "ms",
                    note=f"open loop: p50 {r.p50_ms:.1f} ms, held {r.rps:.0f} req/s, {r.errors} errors of {r.requests}",
                )
            )
        for name, fig in (("direct", direct), ("mesh", mesh)):
            r = fig.low
            report.add(
                Row(
                    case,
                    f"{kind} {name} p99 at {LOW_RATE:.0f} req/s",
                    r.p99_ms,
                    "ms",
                    note=f"open loop: p50 {r.p50_ms:.1f} ms, held {r.rps:.0f} req/s, {r.errors} errors of {r.requests}",
                )
            )
        low_added = (mesh.low.p99_ms - direct.low.p99_ms) / hops
        report.add(
            Row(
                case,
                f"{kind} added p99 per hop at {LOW_RATE:.0f} req/s",
                low_added,
                "ms",
                note=f"context for the goal below: (mesh p99 - direct p99) / {hops} Envoy hops",
            )
        )
        added = (mesh.rate.p99_ms - direct.rate.p99_ms) / hops
        report.add(
            Row(
                case,
                f"{kind} added p99 per hop at {RATE:.0f} req/s",
                added,
                "ms",
                "<= 1 ms",
                at_most(added, 1.0),
                note=f"(mesh p99 - direct p99) / {hops} Envoy hops",
            )
        )
    report.add(
        Row(
            case,
            "GET / mesh vs original (no mesh)",
            mesh_get.saturation.rps,
            "req/s",
            f">= {ORIGINAL_GET_RPS}",
            at_least(mesh_get.saturation.rps, ORIGINAL_GET_RPS),
        )
    )
    report.add(
        Row(
            case,
            "GET / direct vs 2x original",
            direct_get.saturation.rps,
            "req/s",
            f">= {2 * ORIGINAL_GET_RPS}",
            at_least(direct_get.saturation.rps, 2 * ORIGINAL_GET_RPS),
        )
    )
    report.add(
        Row(
            case,
            "POST / vote direct (durable, idempotent)",
            direct_vote.saturation.rps,
            "req/s",
            f">= {ORIGINAL_VOTE_RPS:,}",
            at_least(direct_vote.saturation.rps, ORIGINAL_VOTE_RPS),
        )
    )


def _errors_note(direct: PathFigures, mesh: PathFigures) -> str:
    errors = direct.saturation.errors + mesh.saturation.errors
    return f"{errors} failed requests at saturation" if errors else ""


# ---------------------------------------------------------------------- 2. read cost
def read_cost(ctx: Context) -> None:
    d = ctx.durations
    report = ctx.report
    case = "2 read cost"
    sizes = (d.small, d.large)
    redis_port = ctx.ports.take()
    ctx.children.redis(redis_port)
    databases = [f"voting_bench_{uuid.uuid4().hex[:8]}" for _ in sizes]
    try:
        urls: dict[tuple[str, int], str] = {}
        for db_index, size in enumerate(sizes):
            ctx.log(f"read cost: seeding {size:,} votes in Redis and in MySQL")
            seconds = seed_redis(f"redis://127.0.0.1:{redis_port}/{db_index}", size)
            report.add(
                Row(
                    case,
                    f"seed {size:,} votes, Redis (store's Lua script, pipelined)",
                    seconds,
                    "s",
                )
            )
            seconds = asyncio.run(seed_mysql(databases[db_index], size))
            report.add(
                Row(case, f"seed {size:,} votes, MySQL (schema, multi-row inserts)", seconds, "s")
            )
            for store, version, env in (
                ("redis", "1.0", {"REDIS_URL": f"redis://127.0.0.1:{redis_port}/{db_index}"}),
                (
                    "mysql",
                    "2.0",
                    {
                        "MYSQL_HOST": "127.0.0.1",
                        "MYSQL_PORT": "3306",
                        "MYSQL_USER": "root",
                        "MYSQL_PASSWORD": "",
                        "MYSQL_DATABASE": databases[db_index],
                    },
                ),
            ):
                storage = ctx.ports.take()
                ctx.children.function("storage", version, storage, env | {"LOG_LEVEL": "WARNING"})
                results = ctx.ports.take()
                ctx.children.function(
                    "results",
                    "1.1" if store == "redis" else "2.0",
                    results,
                    {"STORAGE_URL": f"http://127.0.0.1:{storage}", "LOG_LEVEL": "WARNING"},
                )
                urls[(store, size)] = f"http://127.0.0.1:{results}/analytics"
        keys = list(urls)
        load.interleaved([urls[k] for k in keys], 30)  # warm pools and caches
        measured = load.interleaved([urls[k] for k in keys], d.samples)
        samples = dict(zip(keys, measured, strict=True))
        for store in ("redis", "mysql"):
            small = sorted(samples[(store, sizes[0])])
            large = sorted(samples[(store, sizes[1])])
            p50s, p50l = statistics.median(small), statistics.median(large)
            for size, values in ((sizes[0], small), (sizes[1], large)):
                report.add(
                    Row(
                        case,
                        f"{store}: GET /analytics p50, {size:,} votes",
                        statistics.median(values),
                        "ms",
                        note=f"p99 {load.percentile(values, 0.99):.2f} ms over {len(values)} requests, one at a time, interleaved",
                    )
                )
            ratio = p50l / p50s
            report.add(
                Row(
                    case,
                    f"{store}: p50 ratio {sizes[1]:,} / {sizes[0]:,} votes",
                    ratio,
                    "x",
                    "<= 1.2",
                    at_most(ratio, 1.2),
                )
            )
    finally:
        _drop_databases(databases)


def seed_redis(url: str, count: int) -> float:
    """`count` votes through storage 1.0's own Lua script (event id + counter), pipelined."""
    import redis

    from functions.storage import redis_store

    started = time.monotonic()
    client = redis.Redis.from_url(url)
    try:
        sha = client.script_load(redis_store._RECORD)
        ttl = 24 * 3600
        batch = 10_000
        for first in range(0, count, batch):
            pipe = client.pipeline(transaction=False)
            for i in range(first, min(count, first + batch)):
                option = "Cats" if i % 3 else "Dogs"
                pipe.evalsha(sha, 2, f"voting:event:seed-{i}", "voting:counts", ttl, "cast", option)
            pipe.execute()
    finally:
        client.close()
    return time.monotonic() - started


async def seed_mysql(database: str, count: int) -> float:
    """`count` votes in storage 2.0's documented schema: an event row each, counter rows."""
    import asyncmy

    from functions.storage.mysql_store import _schema_statements

    started = time.monotonic()
    conn = await asyncmy.connect(**MYSQL, autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{database}`")
            await cur.execute(f"USE `{database}`")
            for statement in _schema_statements():
                await cur.execute(statement)
            batch = 20_000
            for first in range(0, count, batch):
                ids = ",".join(f"('seed-{i}')" for i in range(first, min(count, first + batch)))
                await cur.execute(f"INSERT INTO vote_events (event_id) VALUES {ids}")
            dogs = len(range(0, count, 3))
            await cur.execute(
                "INSERT INTO vote_counts (option_name, votes) VALUES ('Cats', %s), ('Dogs', %s)",
                (count - dogs, dogs),
            )
    finally:
        conn.close()
    return time.monotonic() - started


def _drop_databases(names: list[str]) -> None:
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


# ---------------------------------------------------------------------- 3 + 4. local system, observer
def local_system(ctx: Context) -> None:
    """Time to ready and memory at steps 1 and 4; a full run also measures the previous
    design (one exec'd interpreter per function) in the same run, for the ratio."""
    designs = ["forked"] if ctx.report.quick else ["forked", "exec"]
    for design in designs:
        _local_system_with(ctx, design, with_observer=design == "forked")


_DESIGN_NOTE = {
    "forked": "functions forked from one pre-imported host",
    "exec": "previous design: one exec'd interpreter per function",
}


def _local_system_with(ctx: Context, design: str, with_observer: bool) -> None:
    report = ctx.report
    case = "3 local system"
    label = "" if design == "forked" else f" [{design}]"
    redis_port = ctx.ports.take()
    ctx.children.redis(redis_port)
    telemetry = shutil.which("prometheus") is not None
    up = LocalUp(ctx.children, ctx.workdir / f"up-state-{design}", ctx.ports.take())
    database = f"voting_bench_{uuid.uuid4().hex[:8]}"
    ctx.log(f"local system: voting up --function-processes {design}")
    try:
        up.start(
            step="deploy",
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            database=database,
            telemetry=telemetry,
            ports=ctx.ports,
            function_processes=design,
        )
        note = "with Prometheus" if telemetry else "Prometheus not installed: without telemetry"
        report.add(
            Row(
                case,
                f"voting up: time to ready (step 1){label}",
                up.ready_seconds,
                "s",
                "<= 10 s",
                at_most(up.ready_seconds, 10),
                note=f"{note}; {_DESIGN_NOTE[design]}",
            )
        )
        up.wait_settled()
        _memory_rows(report, case, up, f"step 1{label}")
        if with_observer:
            observer(ctx, up)
        ctx.log("local system: step 4 (canary), the step with the most processes")
        up.step("canary")
        up.wait_settled()
        _memory_rows(report, case, up, f"step 4 (most pods){label}")
    finally:
        up.stop()
        _drop_databases([database])


def _memory_rows(report: Report, case: str, up: LocalUp, when: str) -> None:
    """Summed RSS (the goal's measure) and PSS (shared pages split between their users)."""
    pids = up.pids()
    rss = sum(rss_bytes(pid) for pid in pids) / 1e6
    pss = sum(pss_bytes(pid) for pid in pids) / 1e6
    envoys = sum(1 for name in up.process_names() if "istio" in name or "ingress" in name)
    report.add(
        Row(
            case,
            f"RSS of all processes, {when}",
            rss,
            "MB",
            "<= 600 MB",
            at_most(rss, 600),
            note=f"{len(pids)} processes incl. the supervisor ({envoys} Envoys); shared pages "
            "(the Envoy binary, Python) counted once per process; Redis/MariaDB not included",
        )
    )
    report.add(
        Row(
            case,
            f"PSS of all processes, {when}",
            pss,
            "MB",
            "<= 600 MB",
            at_most(pss, 600),
            note="proportional set size: what the processes really occupy together",
        )
    )


def observer(ctx: Context, up: LocalUp) -> None:
    """CPU of `voting observe` (in tmux, a real terminal) while pages are served."""
    case = "4 observer"
    metric = "dashboard CPU over refreshes"
    if importlib.util.find_spec("observer.app") is None:
        ctx.report.add(
            Row(
                case,
                metric,
                None,
                "%",
                "<= 10% of a core",
                note="not measured yet: observer.app does not exist",
            )
        )
        return
    if shutil.which("tmux") is None:
        ctx.report.add(
            Row(
                case,
                metric,
                None,
                "%",
                "<= 10% of a core",
                note="not measured: tmux is not installed",
            )
        )
        return
    session = f"voting-bench-{uuid.uuid4().hex[:6]}"
    # The dashboard dies with the tmux server, the server with the bench (see bench.procs).
    guard = "setpriv --pdeathsig TERM " if shutil.which("setpriv") else ""
    command = f"exec {guard}{sys.executable} -m voting observe --state-dir {up.state_dir}"
    server = ctx.children.tmux_server()
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}  # also from inside a tmux
    tmux = ["tmux", "-S", str(server)]
    new_session = [*tmux, "new-session", "-d", "-s", session, "-x", "160", "-y", "50", command]
    subprocess.run(new_session, check=True, env=env)
    halt = threading.Event()
    traffic = threading.Thread(target=_light_traffic, args=(up.url, halt), daemon=True)
    traffic.start()
    try:
        pane = subprocess.run(
            [*tmux, "list-panes", "-t", session, "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        pid = int(pane.stdout.split()[0])
        time.sleep(5)  # start-up (imports, first layout) is not what we measure
        before, started = cpu_seconds(pid), time.monotonic()
        time.sleep(ctx.durations.observe)
        used, elapsed = cpu_seconds(pid) - before, time.monotonic() - started
        alive = Path(f"/proc/{pid}").exists()
        screen = subprocess.run(
            [*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True, env=env
        ).stdout
    finally:
        halt.set()
        traffic.join(10)
        subprocess.run([*tmux, "kill-server"], capture_output=True, env=env)
    share = used / elapsed * 100
    note = f"{elapsed:.0f} s of refreshes with 10 req/s of traffic"
    if not alive or not screen.strip():
        note += "; WARNING: the dashboard was not running at the end"
        share_row = Row(case, metric, None, "%", "<= 10% of a core", note=note)
    else:
        share_row = Row(case, metric, share, "% of a core", "<= 10%", at_most(share, 10), note=note)
    ctx.report.add(share_row)


def _light_traffic(url: str, halt: threading.Event) -> None:
    while not halt.is_set():
        with contextlib.suppress(Exception):
            load.open_loop(url, rate=10, duration=2)


# ---------------------------------------------------------------------- 5. durability cost
FSYNC_MODES = ("no", "everysec", "always")


def durability_cost(ctx: Context) -> None:
    """POST / vote at saturation (wrk, vote + storage 1.0 called directly) per fsync policy.

    One Redis with an append-only file, its policy switched with CONFIG SET between runs,
    the runs interleaved (no, everysec, always, and again in a full run): the machine's
    noise falls on every policy alike, so the ratio is what the policy costs.
    """
    import redis

    d = ctx.durations
    case = "5 durability"
    redis_port = ctx.ports.take()
    ctx.children.redis(redis_port, appendfsync="everysec")
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    storage, vote = ctx.ports.take(), ctx.ports.take()
    ctx.log("durability: votes with appendfsync no / everysec / always")
    procs = [
        ctx.children.function(
            "storage", "1.0", storage, {"REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
        ),
        ctx.children.function(
            "vote",
            "1.0",
            vote,
            VOTE_ENV
            | {
                "ANALYTICS_URL": f"http://127.0.0.1:{storage}",  # readiness only: votes skip it
                "STORAGE_URL": f"http://127.0.0.1:{storage}",
                "LOG_LEVEL": "WARNING",
            },
        ),
    ]
    url = f"http://127.0.0.1:{vote}/"
    client = redis.Redis(host="127.0.0.1", port=redis_port)
    rps: dict[str, list[float]] = {mode: [] for mode in FSYNC_MODES}
    errors = 0
    try:
        load.wrk(url, duration=d.warmup, post_form="vote=Cats")
        for round_ in range(2):  # forwards, then backwards: a drift falls on all alike
            for mode in FSYNC_MODES if round_ == 0 else FSYNC_MODES[::-1]:
                client.config_set("appendfsync", mode)
                result = load.wrk(url, duration=d.saturate, post_form="vote=Cats")
                rps[mode].append(result.rps)
                errors += result.errors
    finally:
        client.close()
        for process in procs:
            ctx.children.stop(process)
    mean = {mode: statistics.fmean(values) for mode, values in rps.items()}
    runs = len(rps["no"])
    for mode in FSYNC_MODES:
        note = f"mean of {runs} runs of {d.saturate:g} s, interleaved"
        if mode == "everysec":
            note += "; what `voting up` runs (voting-redis.yaml too)"
        if mode == "no" and errors:
            note += f"; {errors} failed requests over all runs"
        ctx.report.add(
            Row(
                case,
                f"POST / vote direct, appendfsync {mode}, wrk -t2 -c50",
                mean[mode],
                "req/s",
                note=note,
            )
        )
    for mode in ("everysec", "always"):
        ratio = mean[mode] / mean["no"] if mean["no"] else None
        ctx.report.add(
            Row(
                case,
                f"vote throughput appendfsync {mode} / no",
                ratio,
                "x",
                note="the durability cost: 1 = free; acknowledged votes survive a kill -9 "
                "with everysec and always (the AOF is written before Redis answers)",
            )
        )


# ---------------------------------------------------------------------- 6. overload
OVERLOAD_LIMIT = 32  # MAX_IN_FLIGHT for the direct run: small, so 3x saturation sheds visibly
MESH_OVERLOAD_LIMIT = 8  # per pod, enforced by its sidecar (3 voting-app pods)


def overload(ctx: Context) -> None:
    """Votes offered at 1x, 2x, 3x saturation, shed by the function (direct) and by the
    sidecars (mesh): goodput, shed share, admitted p99 (bench.overload)."""
    from bench import overload as ov

    redis_port = ctx.ports.take()
    redis_proc = ctx.children.redis(redis_port, appendfsync="everysec")
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    storage, vote = ctx.ports.take(), ctx.ports.take()
    limit = {"MAX_IN_FLIGHT": str(OVERLOAD_LIMIT), "LOG_LEVEL": "WARNING"}
    ctx.log(f"overload: direct votes at 1x, 2x, 3x saturation (MAX_IN_FLIGHT={OVERLOAD_LIMIT})")
    server = [
        redis_proc,
        ctx.children.function("storage", "1.0", storage, limit | {"REDIS_URL": redis_url}),
        ctx.children.function(
            "vote",
            "1.0",
            vote,
            VOTE_ENV
            | limit
            | {
                "ANALYTICS_URL": f"http://127.0.0.1:{storage}",  # readiness only
                "STORAGE_URL": f"http://127.0.0.1:{storage}",
            },
        ),
    ]
    try:
        saturation, runs = _overload_runs(ctx, f"http://127.0.0.1:{vote}/", [p.pid for p in server])
    finally:
        for process in reversed(server[1:]):
            ctx.children.stop(process)
    for row in ov.rows("6 overload direct", saturation, runs, OVERLOAD_LIMIT, "function"):
        ctx.report.add(row)

    ctx.log(f"overload: through the mesh, sidecars admitting {MESH_OVERLOAD_LIMIT} per pod")
    up = LocalUp(ctx.children, ctx.workdir / "overload-state", ctx.ports.take())
    database = f"voting_bench_{uuid.uuid4().hex[:8]}"
    try:
        up.start(
            step="deploy", redis_url=redis_url, database=database, telemetry=False, ports=ctx.ports
        )
        _limit_mesh(up, MESH_OVERLOAD_LIMIT)
        saturation, runs = _overload_runs(ctx, up.url, up.pids())
    finally:
        up.stop()
        ctx.children.stop(redis_proc)
        _drop_databases([database])
    for row in ov.rows(
        "6 overload mesh", saturation, runs, MESH_OVERLOAD_LIMIT, "sidecar, per pod"
    ):
        ctx.report.add(row)


def _limit_mesh(up: LocalUp, limit: int) -> None:
    """Give the running step's function Deployments MAX_IN_FLIGHT=limit (their sidecars too)."""
    from mesh.local.control import ControlClient

    client = ControlClient(up.state_dir)
    current = asyncio.run(client.documents())
    documents = current["documents"]
    for doc in documents:
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"].startswith("voting-"):
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["env"] = [
                *(e for e in container.get("env", []) if e.get("name") != "MAX_IN_FLIGHT"),
                {"name": "MAX_IN_FLIGHT", "value": str(limit)},
            ]
    asyncio.run(client.apply(current["step"]["name"], documents))


def _overload_runs(ctx: Context, url: str, server_pids: list[int]) -> tuple[float, dict]:
    """Saturation (wrk), then the open loop at each multiple; the server on one core."""
    from bench import overload as ov

    d = ctx.durations
    own = os.sched_getaffinity(0)
    try:
        for pid in server_pids:
            with contextlib.suppress(OSError):
                ov.pin(pid, ov.SERVER_CORE)
        ov.pin(0, ov.CLIENT_CORE)  # wrk and the open loop run beside, not on, the server
        load.wrk(url, duration=d.warmup, threads=1, connections=16, post_form="vote=Cats")
        measured = load.wrk(
            url, duration=d.saturate, threads=1, connections=16, post_form="vote=Cats"
        )
        # acknowledged votes only: a shed answer (503) is not throughput
        saturation = max(1.0, (measured.requests - measured.errors) / measured.seconds)
        return saturation, {m: ov.offer(url, saturation * m, d.saturate) for m in ov.MULTIPLES}
    finally:
        os.sched_setaffinity(0, own)
