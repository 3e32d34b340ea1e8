"""Private Redis and MariaDB servers for the reliability tests: ours to stop and restart.

Outage tests stop these, never the machine's shared Redis (6379) or MariaDB (3306). Both
keep their data across a restart (Redis with an fsync'ed append-only file, MariaDB with
InnoDB), so "no acknowledged vote lost" is a property of the system under test.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.ports import answers
from tests.support.processes import die_with_test_run

# Ports for everything the reliability tests start (the range this suite may use): pass
# PORTS.stop to tests.support.ports.free_port_block.
PORTS = range(14000, 16000)  # below the kernel ephemeral range (32768+)


@dataclass
class PrivateServer:
    """One server process of our own; start/stop/restart on the same port and data."""

    name: str
    port: int
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 30.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_test_run(),
            )
        deadline = time.monotonic() + timeout
        while not answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"private {self.name} did not start; see {self.log}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop this server (only this one, by pid) and wait until it has exited."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections open, nothing answers, like a hung host."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def private_redis(directory: Path, port: int) -> PrivateServer:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (make setup)")
    directory.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(directory)]
    return PrivateServer("redis-server", port, argv, directory / "redis.log")


@dataclass
class PrivateMariaDB(PrivateServer):
    """mariadbd with root (no password, local admin) and `voter` with a real password."""

    user: str = "voter"
    password: str = ""


def private_mariadb(directory: Path, port: int) -> PrivateMariaDB:
    for tool in ("mariadb-install-db", "mariadbd"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.fail(f"{tool} is not installed (make setup)")
    datadir = directory / "data"
    install = [
        "mariadb-install-db",
        "--no-defaults",
        f"--datadir={datadir}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    ]
    if os.geteuid() == 0:
        install.append("--user=root")
    subprocess.run(install, check=True, capture_output=True, timeout=120)
    argv = [
        shutil.which("mariadbd") or "/usr/sbin/mariadbd",
        "--no-defaults",
        f"--datadir={datadir}",
        f"--socket={directory / 'mysqld.sock'}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=32M",
        "--max-connections=200",
    ]
    if os.geteuid() == 0:
        argv.append("--user=root")
    # A password shaped like a real secret, so a leak of it is unmistakable in any log.
    password = "S3cret-" + secrets.token_hex(12)
    return PrivateMariaDB("mariadbd", port, argv, directory / "mariadb.log", password=password)


async def create_user(server: PrivateMariaDB) -> None:
    """The application user, with a password, allowed to create its database."""
    import asyncmy

    conn = await asyncmy.connect(host="127.0.0.1", port=server.port, user="root", password="")
    try:
        async with conn.cursor() as cur:
            for host in ("127.0.0.1", "localhost"):
                await cur.execute(
                    f"CREATE USER IF NOT EXISTS '{server.user}'@'{host}' IDENTIFIED BY %s",
                    (server.password,),
                )
                await cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{server.user}'@'{host}'")
        await conn.commit()
    finally:
        conn.close()
