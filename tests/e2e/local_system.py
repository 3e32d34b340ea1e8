"""Start and stop a real local system (`voting up`) for end-to-end tests.

Each system gets its own state directory, ports, Redis database number and MySQL database,
so it never disturbs a user's `voting up` or another test; teardown stops every process it
started (checked) and deletes only the data it created.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncmy
import pytest
import redis

from mesh.local.control import ControlClient
from tests.support.processes import die_with_test_run
from tests.support.waiting import wait_until

RESULTS = re.compile(r'<div id="results"> (.*?) </div>')
COOKIE_ON = "featureflag=on"
APP_VERSION = re.compile(r'<span id="app-version">(.*?)</span>')
STORE = re.compile(r'<span id="store">(.*?)</span>')


@dataclass
class Page:
    status: int
    results: str | None
    app_version: str | None
    store: str | None


@dataclass
class LocalSystem:
    """Handle on a running `voting up`: its URLs, its control API, and page helpers."""

    state_dir: Path
    port: int
    prometheus_port: int
    redis_db: int
    mysql_database: str
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def control(self) -> ControlClient:
        return ControlClient(self.state_dir)

    def status(self) -> dict[str, Any]:
        return asyncio.run(self.control.status())

    def step(self, step: str | int) -> dict[str, Any]:
        return asyncio.run(self.control.step(str(step)))

    def apply(self, step: str | int, documents: list[dict[str, Any]]) -> dict[str, Any]:
        return asyncio.run(self.control.apply(str(step), documents))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "voting", *args, "--state-dir", str(self.state_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def page(self, cookie: str | None = None) -> Page:
        return asyncio.run(fetch_page(self.url, cookie))

    def vote(self, option: str, cookie: str | None = None, times: int = 1) -> None:
        asyncio.run(post_votes(self.url, option, cookie, times))


async def fetch_page(url: str, cookie: str | None = None) -> Page:
    headers = {"Cookie": cookie} if cookie else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        text = await response.text()

    def first(pattern: re.Pattern[str]) -> str | None:
        match = pattern.search(text)
        return match.group(1) if match else None

    return Page(response.status, first(RESULTS), first(APP_VERSION), first(STORE))


async def post_votes(url: str, option: str, cookie: str | None, times: int) -> None:
    headers = {"Cookie": cookie} if cookie else {}
    async with aiohttp.ClientSession() as session:
        for _ in range(times):
            async with session.post(
                url, data={"vote": option}, headers=headers, allow_redirects=False
            ) as response:
                assert response.status == 303, f"vote {option} answered {response.status}"


def _wait_ready(system: LocalSystem, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if system.process.poll() is not None:
            log = (system.state_dir / "up.log").read_text()[-3000:]
            pytest.fail(f"`voting up` exited with {system.process.returncode}:\n{log}")
        try:
            if system.status().get("step"):
                return
        except Exception:  # not serving its control API yet
            pass
        time.sleep(0.2)
    pytest.fail(f"`voting up` not ready after {timeout:.0f}s")


def our_processes(state_dir: Path) -> list[int]:
    """Pids of processes of this system: named in their command line or environment."""
    found = []
    marker = str(state_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in cmdline or b"VOTING_STATE_DIR=" + marker + b"\0" in environ + b"\0":
            found.append(int(entry.name))
    return found


async def _drop_database(name: str) -> None:
    connection = await asyncmy.connect(
        host="127.0.0.1", port=3306, user="root", password="", autocommit=True
    )
    async with connection.cursor() as cursor:
        await cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    connection.close()


def module_ports_base(module_name: str) -> int:
    """A distinct port range per test module (modules run one after another)."""
    return 24000 + sum(map(ord, module_name)) % 16 * 500  # below the ephemeral range (32768+)


def canary_system_with_telemetry(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, name: str
) -> Iterator[LocalSystem]:
    """A test module's own `voting up --step canary` with Prometheus, on the module's port
    range; stopped (checked) when the module is done: `yield from` it in a module fixture."""
    started = start_local_system(
        tmp_path_factory.mktemp(name),
        module_ports_base(request.module.__name__),
        extra=("--step", "canary"),
        telemetry=True,
    )
    try:
        yield started
    finally:
        stop_local_system(started)


def cli_rollout(system: LocalSystem, tmp_path: Path, spec_yaml: str) -> subprocess.Popen[str]:
    """`voting rollout --spec` as a real process on `system`; its output in rollout.log."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_yaml)
    argv = [sys.executable, "-m", "voting", "rollout", "--spec", str(spec)]
    with open(tmp_path / "rollout.log", "w") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [*argv, "--state-dir", str(system.state_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )


def start_local_system(
    tmp_path: Path,
    base: int,
    extra: tuple[str, ...] = (),
    telemetry: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> LocalSystem:
    """`voting up --no-ui` in the foreground of a child process, on ports from `base` up."""
    redis_db = 9 + base // 500 % 6
    state_dir = tmp_path / "state"
    state_dir.mkdir(parents=True)
    argv = [
        sys.executable,
        "-m",
        "voting",
        "up",
        "--no-ui",
        "--state-dir",
        str(state_dir),
        "--port",
        str(base + 1),
        "--control-port",
        str(base + 3),
        "--base-port",
        str(base + 10),
        "--prometheus-port",
        str(base + 2),
        "--redis-url",
        f"redis://127.0.0.1:6379/{redis_db}",
        *extra,
    ]
    database = f"voting_e2e_{uuid.uuid4().hex[:8]}"
    argv += ["--mysql-database", database]
    if not telemetry:
        argv.append("--no-telemetry")
    with open(state_dir / "up.log", "wb") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            preexec_fn=die_with_test_run(),  # dies with the test run, even a SIGKILLed one
        )
    system = LocalSystem(state_dir, base + 1, base + 2, redis_db, database, process)
    try:
        _wait_ready(system, timeout=60)
    except BaseException:
        stop_local_system(system)
        raise
    return system


def stop_processes(system: LocalSystem) -> list[int]:
    """Stop `voting up` like Ctrl-C would, then kill whatever of it survived (returned)."""
    if system.process.poll() is None:
        system.process.send_signal(signal.SIGINT)
        try:
            system.process.wait(30)
        except subprocess.TimeoutExpired:
            system.process.kill()
            system.process.wait()
    # The function host and multiprocessing's resource tracker exit when they read EOF from
    # the supervisor's pipes, a moment after it: a survivor is one still there after that.
    deadline = time.monotonic() + 10
    while (leftovers := our_processes(system.state_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return leftovers


def stop_local_system(system: LocalSystem) -> None:
    """Stop `voting up` and everything it started; delete only the data it created."""
    leftovers = stop_processes(system)
    client = redis.Redis(host="127.0.0.1", port=6379, db=system.redis_db)
    keys = list(client.scan_iter(match="voting:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    asyncio.run(_drop_database(system.mysql_database))
    assert not leftovers, f"processes survived `voting up`'s shutdown: {leftovers}"


class SteadyLoad(threading.Thread):
    """Page views and votes at a light, steady rate until stopped; counts every outcome.

    One request at a time, so a slow machine sends fewer per second: a test that needs a
    number of requests waits for them (`wait_for_completed`), never for a number of seconds.
    """

    def __init__(self, url: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.rate = url, rate
        self.outcomes: Counter[str] = Counter()
        self.completed = 0  # requests answered or failed so far (read from other threads)
        self._halt = threading.Event()

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            n = 0
            start = time.monotonic()
            while not self._halt.is_set():
                n += 1
                try:
                    if n % 4 == 0:
                        request = session.post(
                            self.url, data={"vote": "Cats"}, allow_redirects=False
                        )
                    else:
                        request = session.get(
                            self.url, headers={"Cookie": COOKIE_ON} if n % 3 == 0 else {}
                        )
                    async with request as response:
                        await response.read()
                        self.outcomes[str(response.status)] += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    self.outcomes[type(exc).__name__] += 1
                self.completed += 1
                await asyncio.sleep(max(0.0, start + n / self.rate - time.monotonic()))

    def wait_for_completed(self, count: int, timeout: float = 60) -> None:
        """Block until `count` requests in all have completed (any outcome); fail if not."""
        wait_until(
            lambda: self.completed >= count or not self.is_alive(),
            timeout,
            f"{count} requests of the steady load (completed {self.completed})",
        )
        assert self.completed >= count, f"the steady load stopped after {self.completed}"

    def stop(self) -> Counter[str]:
        self._halt.set()
        self.join(10)
        assert not self.is_alive(), "the steady load did not stop"
        return Counter(self.outcomes)


def plaintext_answers(port: int) -> bool:
    """True when an HTTP request without TLS gets an HTTP answer from a sidecar."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/")
    except OSError:
        return False
