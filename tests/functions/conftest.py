"""Fixtures that start real things for the function tests, and clean up after them.

- The machine's shared Redis (127.0.0.1:6379) and MariaDB (127.0.0.1:3306, root, no
  password) are used with a unique key prefix / a throwaway database per test, and
  only what a test created is deleted: never a flush, never a stop.
- Outages are staged on PRIVATE redis-server / mariadbd processes on free ports, which
  only their own fixture stops and starts.
- Functions run as aiohttp test servers on free ports, wired by URL like in the mesh.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import asyncmy
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from functions.results.app import create_app as create_results
from functions.results.settings import ResultsSettings
from functions.storage.app import create_app as create_storage
from functions.storage.settings import StorageSettings
from functions.vote.app import create_app as create_vote
from functions.vote.settings import VoteSettings
from tests.support.functions_servers import (
    SESSION_TAG,
    SHARED_MYSQL,
    SHARED_REDIS,
    PrivateServer,
    Stack,
    StackFactory,
    base_url,
)
from tests.support.ports import answers, free_port


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions honour HTTP_PROXY (trust_env); tests talk to loopback directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# --- the shared Redis and MariaDB -------------------------------------------------


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own in the shared Redis; its keys are deleted after."""
    prefix = f"voting-test-{SESSION_TAG}-{uuid.uuid4().hex[:8]}:"
    client = aioredis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.fail(f"the shared Redis at {SHARED_REDIS} is not running (make setup): {exc}")
    yield prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def mysql_database() -> AsyncIterator[str]:
    """A throwaway database name in the shared MariaDB, dropped after the test.

    Storage itself creates the database (root may), as it does in a fresh cluster.
    """
    name = f"voting_test_{SESSION_TAG}_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncmy.connect(**SHARED_MYSQL, connect_timeout=2)
    except Exception as exc:
        pytest.fail(f"the shared MariaDB at 127.0.0.1:3306 is not running (make setup): {exc}")
    conn.close()
    yield name
    conn = await asyncmy.connect(**SHARED_MYSQL, connect_timeout=2, autocommit=True)
    async with conn.cursor() as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


@pytest.fixture
def redis_settings(redis_prefix: str) -> StorageSettings:
    """Storage 1.0 on the shared Redis, under this test's prefix."""
    return StorageSettings(
        function_version="1.0", redis_url=SHARED_REDIS, redis_prefix=redis_prefix
    )


@pytest.fixture
def mysql_settings(mysql_database: str) -> StorageSettings:
    """Storage 2.0 on the shared MariaDB, in this test's database."""
    return StorageSettings(
        function_version="2.0",
        mysql_host=SHARED_MYSQL["host"],
        mysql_port=SHARED_MYSQL["port"],
        mysql_user=SHARED_MYSQL["user"],
        mysql_password=SHARED_MYSQL["password"],
        mysql_database=mysql_database,
    )


@pytest.fixture(params=["redis", "mysql"])
def storage_settings(request: pytest.FixtureRequest) -> StorageSettings:
    """Each storage test runs once per backend."""
    return request.getfixturevalue(f"{request.param}_settings")


# --- private database servers that tests may stop ---------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateServer]:
    """A redis-server of this test's own, started; stopped at the end whatever happens."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (make setup)")
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(tmp_path)]
    server = PrivateServer("redis", port, argv, lambda: answers(port), tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_mariadb(tmp_path: Path) -> Iterator[PrivateServer]:
    """A mariadbd of this test's own (fresh datadir, root without password)."""
    for tool in ("mariadb-install-db", "mariadbd"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.fail(f"{tool} is not installed (make setup)")
    datadir = tmp_path / "data"
    install = [
        "mariadb-install-db",
        "--no-defaults",
        f"--datadir={datadir}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    ]
    if os.geteuid() == 0:
        install.append("--user=root")
    subprocess.run(install, check=True, capture_output=True, timeout=60)
    port = free_port()
    mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    argv = [
        mariadbd,
        "--no-defaults",
        f"--datadir={datadir}",
        f"--socket={tmp_path / 's'}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=16M",
    ]
    if os.geteuid() == 0:
        argv.append("--user=root")
    server = PrivateServer("mariadbd", port, argv, lambda: answers(port), tmp_path / "db.log")
    server.start()
    yield server
    server.stop()


# --- functions wired together ------------------------------------------------------


@pytest.fixture
def start_app(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> Callable[[web.Application], Awaitable[str]]:
    """Serve an app on a free port; returns its base URL."""

    async def start(app: web.Application) -> str:
        return base_url(await aiohttp_server(app))

    return start


@pytest.fixture
def stack(
    start_app: Callable[[web.Application], Awaitable[str]],
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    redis_settings: StorageSettings,
) -> StackFactory:
    """Start storage, results and vote wired by URL; vote is returned as a client."""

    async def make(
        vote: VoteSettings | None = None,
        analytics_version: str = "1.1",
        storage: StorageSettings | None = None,
    ) -> Stack:
        storage_url = await start_app(create_storage(storage or redis_settings))
        vote = vote or VoteSettings(function_version="1.0")
        results = ResultsSettings(
            function_version=analytics_version,
            vote1value=vote.vote1value,
            vote2value=vote.vote2value,
            storage_url=storage_url,
        )
        results_url = await start_app(create_results(results))
        vote = replace(vote, analytics_url=results_url, storage_url=storage_url)
        client = await aiohttp_client(create_vote(vote))
        return Stack(vote=client, results_url=results_url, storage_url=storage_url)

    return make


@pytest.fixture
def closed_url() -> str:
    """A URL where nothing listens: an unreachable service."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
async def slow_url(
    start_app: Callable[[web.Application], Awaitable[str]],
) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Start a service that accepts requests and answers only when the test is over."""
    released = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await released.wait()
        return web.json_response({})

    async def start() -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hang)
        return await start_app(app)

    yield start
    released.set()
