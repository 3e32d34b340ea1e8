"""Case 2, read cost: results latency with 10^3 vs 10^6 recorded votes, for Redis
(storage 1.0) and MySQL (storage 2.0). It checks that reading the counts does not grow with
the number of votes recorded; the stores are seeded through their own script and schema.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

from bench import load
from bench.cases.common import MYSQL, Context, drop_databases
from bench.report import Row, at_most


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
        drop_databases(databases)


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
