"""One real local system for the whole reliability suite, on private Redis and MariaDB.

Starting `voting up` costs seconds on two cores, so the suite shares one (session scope);
every test applies the step it needs first. Its Redis and MariaDB are private servers on
this suite's ports, so outage tests can stop them and counts can be read at the source
without touching the machine's shared servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.e2e.local_system import start_local_system
from tests.reliability.servers import PORTS, create_user, private_mariadb, private_redis
from tests.support.ports import free_port_block
from tests.support.reliability_mesh import MESH_BASE, Backends, Mesh, stop_private_system


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    directory = tmp_path_factory.mktemp("backends")
    redis_server = private_redis(directory / "redis", free_port_block(1, 14800, PORTS.stop))
    mariadb = private_mariadb(
        directory / "mariadb", free_port_block(1, redis_server.port + 1, PORTS.stop)
    )
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
    base = free_port_block(200, MESH_BASE, PORTS.stop)
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
        base = free_port_block(200, base + 200, PORTS.stop)
        system = start_local_system(tmp_path_factory.mktemp("mesh"), base, extra, env=env)
    try:
        yield Mesh(system, backends)
    finally:
        stop_private_system(system)
