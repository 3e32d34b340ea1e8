"""The reliability suite's running system: `voting up` on private Redis and MariaDB.

`Backends` are the private servers (tests/reliability/servers.py) the system stores votes
in; `Mesh` is the running system plus those backends, with the counts read at the source.
Here, not in tests/reliability/conftest.py, because the tests import these classes and
helpers by name, and test modules never import from a conftest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.e2e.local_system import LocalSystem, stop_processes
from tests.reliability.servers import PrivateMariaDB, PrivateServer

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
