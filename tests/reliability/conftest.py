"""One real local system for the whole reliability suite, on private Redis and MariaDB.

Starting `voting up` costs seconds on two cores, so the suite shares one (session scope);
every test applies the step it needs first. Its Redis and MariaDB are private servers on
this suite's ports, so outage tests can stop them and counts can be read at the source
without touching the machine's shared servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.e2e.local_system import LocalSystem, start_local_system, stop_processes
from tests.reliability.servers import (
    PrivateMariaDB,
    PrivateServer,
    create_user,
    free_ports,
    private_mariadb,
    private_redis,
)

MESH_BASE = 12000  # `voting up` takes ports 12001.. (ingress, prometheus, control, pods), below the ephemeral range


@dataclass
class Backends:
    redis: PrivateServer
    mariadb: PrivateMariaDB

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis.port}/0"

    def redis_client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.redis.port, db=0, decode_responses=True)


@dataclass
class Mesh:
    """The running system plus the private backends it stores votes in."""

    system: LocalSystem
    backends: Backends

    @property
    def url(self) -> str:
        return self.system.url

    def redis_counts(self) -> dict[str, int]:
        client = self.backends.redis_client()
        try:
            return {k: int(v) for k, v in client.hgetall("voting:counts").items()}
        finally:
            client.close()

    def mysql_counts(self) -> dict[str, int]:
        return asyncio.run(self._mysql_counts())

    async def _mysql_counts(self) -> dict[str, int]:
        import asyncmy

        conn = await asyncmy.connect(
            host="127.0.0.1",
            port=self.backends.mariadb.port,
            user="root",
            password="",
            db=self.system.mysql_database,
        )
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT option_name, votes FROM vote_counts")
                return {str(k): int(v) for k, v in await cur.fetchall()}
        finally:
            conn.close()

    def pid_of(self, process_name: str) -> int:
        import json

        pids = json.loads((self.system.state_dir / "pids.json").read_text())
        return int(pids[process_name])


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    directory = tmp_path_factory.mktemp("backends")
    redis_server = private_redis(directory / "redis", free_ports(1, 14800))
    mariadb = private_mariadb(directory / "mariadb", free_ports(1, redis_server.port + 1))
    redis_server.start()
    try:
        mariadb.start(timeout=60)
        asyncio.run(create_user(mariadb))
        yield Backends(redis_server, mariadb)
    finally:
        mariadb.stop()
        redis_server.stop()


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory, backends: Backends) -> Iterator[Mesh]:
    """`voting up` at step 1 on our ports, storing in the private Redis and MariaDB."""
    base = free_ports(200, MESH_BASE)
    db = backends.mariadb
    extra = (
        "--redis-url",
        backends.redis_url,
        "--mysql-host",
        "127.0.0.1",
        "--mysql-port",
        str(db.port),
        "--mysql-user",
        db.user,
    )
    env = {"MYSQL_PASSWORD": db.password}  # never on a command line
    try:
        system = start_local_system(tmp_path_factory.mktemp("mesh"), base, extra, env=env)
    except pytest.fail.Exception:
        # Our ports lie in the kernel's ephemeral range: one checked free can be taken by an
        # outgoing connection before Envoy binds it. Once, on other ports.
        base = free_ports(200, base + 200)
        system = start_local_system(tmp_path_factory.mktemp("mesh"), base, extra, env=env)
    try:
        yield Mesh(system, backends)
    finally:
        stop_private_system(system)


def stop_private_system(system: LocalSystem) -> None:
    """Like Ctrl-C; then kill any leftover (ours only, found by our state dir).

    Unlike tests/e2e's stop, nothing is deleted from the shared Redis or MariaDB: this
    system never wrote there (its data lives in the private servers, removed with them).
    """
    leftovers = stop_processes(system)
    assert not leftovers, f"processes survived `voting up`'s shutdown: {leftovers}"


def logs_text(state_dir: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace") for p in sorted((state_dir / "logs").glob("*.log"))
    )
