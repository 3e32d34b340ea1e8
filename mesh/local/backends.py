"""The data stores behind storage 1.0 (Redis) and 2.0 (MySQL/MariaDB) on this machine.

In a cluster they are the `voting-redis` and `voting-mysql` Deployments. Locally the runner uses
the servers it finds; where none answers and the server binaries exist, it starts private ones
in the state directory (and stops only those).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from mesh.local.errors import BackendUnavailable
from mesh.local.lifetime import die_with_parent
from mesh.local.process import ManagedProcess, PidRegistry
from mesh.local.topology import PortAllocator


@dataclass
class RedisTarget:
    url: str


@dataclass
class MySQLTarget:
    host: str
    port: int
    user: str
    password: str
    database: str

    def env(self) -> dict[str, str]:
        return {
            "MYSQL_HOST": self.host,
            "MYSQL_PORT": str(self.port),
            "MYSQL_USER": self.user,
            "MYSQL_PASSWORD": self.password,
            "MYSQL_DATABASE": self.database,
        }


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


async def wait_reachable(host: str, port: int, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if reachable(host, port, 0.2):
            return True
        await asyncio.sleep(0.1)
    return False


class Backends:
    """Finds or starts Redis and MariaDB; remembers the private ones it must stop."""

    def __init__(self, state_dir: Path, ports: PortAllocator, registry: PidRegistry) -> None:
        self.state_dir = state_dir
        self.ports = ports
        self.registry = registry
        self.private: list[ManagedProcess] = []

    async def redis(self, url: str) -> RedisTarget:
        parsed = urlparse(url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
        if reachable(host, port):
            return RedisTarget(url)
        binary = shutil.which("redis-server")
        if binary is None:
            raise BackendUnavailable(
                f"Redis is not reachable at {host}:{port} and redis-server is not installed: "
                "install it (`apt-get install redis-server`) or pass --redis-url"
            )
        port = self.ports.allocate()
        directory = self.state_dir / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        process = ManagedProcess(
            "redis-server",
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",  # acknowledged votes survive a crash (see voting-redis.yaml)
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                str(directory),
            ],
            env={"PATH": "/usr/bin:/bin"},
            log_path=directory / "redis.log",
            registry=self.registry,
        )
        await process.start()
        self.private.append(process)
        if not await wait_reachable("127.0.0.1", port, 10):
            raise BackendUnavailable(
                f"private redis-server did not start (see {directory}/redis.log)"
            )
        return RedisTarget(f"redis://127.0.0.1:{port}/0")

    async def mysql(self, target: MySQLTarget) -> MySQLTarget:
        if reachable(target.host, target.port):
            return target
        binary = shutil.which("mariadbd") or shutil.which("mysqld")
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if binary is None or installer is None:
            raise BackendUnavailable(
                f"MySQL/MariaDB is not reachable at {target.host}:{target.port} and mariadbd is "
                "not installed: install it (`apt-get install mariadb-server`) or pass --mysql-host"
            )
        port = self.ports.allocate()
        directory = self.state_dir / "mariadb"
        data = directory / "data"
        if not data.exists():
            data.mkdir(parents=True)
            proc = await asyncio.create_subprocess_exec(
                installer,
                f"--datadir={data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                preexec_fn=die_with_parent,  # killed with `voting up`, like every child
            )
            if await proc.wait() != 0:
                raise BackendUnavailable("mariadb-install-db failed for the private MariaDB")
        process = ManagedProcess(
            "mariadbd",
            [
                binary,
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={directory}/mysqld.sock",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                f"--pid-file={directory}/mysqld.pid",
            ],
            env={"PATH": "/usr/sbin:/usr/bin:/bin"},
            log_path=directory / "mariadb.log",
            registry=self.registry,
        )
        await process.start()
        self.private.append(process)
        if not await wait_reachable("127.0.0.1", port, 30):
            raise BackendUnavailable(
                f"private mariadbd did not start (see {directory}/mariadb.log)"
            )
        return MySQLTarget("127.0.0.1", port, "root", "", target.database)

    async def stop(self) -> None:
        for process in self.private:
            await process.stop()
        self.private.clear()
