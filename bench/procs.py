"""Processes the bench starts, and what they cost: CPU ticks and resident memory.

`Children` owns every process it starts and stops them all (TERM, then KILL) on exit,
whatever happened; only those, by pid. Ports come from the bench's own range.

Nothing outlives the bench, even a SIGKILL of it: every process it starts directly gets
PR_SET_PDEATHSIG (SIGTERM when the bench dies; `voting up` then stops its own children,
which carry the same signal), and the dashboard's tmux server is a child of the bench too
(`tmux -D` on a socket of its own), whose pane runs under `setpriv --pdeathsig`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh.local.topology import port_is_free

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
_PR_SET_PDEATHSIG = 1


def die_with_bench() -> Any:
    """A preexec_fn: the child gets SIGTERM when the bench (its parent) dies, however."""
    parent = os.getpid()

    def preexec() -> None:  # in the child, between fork and exec
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the bench died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class BenchError(RuntimeError):
    """Something the bench needs did not start or answer."""


class Ports:
    """Free loopback ports from `base` upwards, each handed out once."""

    def __init__(self, base: int, limit: int) -> None:
        self.next, self.limit = base, limit

    def take(self, count: int = 1) -> int:
        """The first port of `count` consecutive free ports."""
        while self.next + count <= self.limit:
            first = self.next
            self.next += count
            if all(port_is_free(p) for p in range(first, first + count)):
                return first
        raise BenchError("no free port left in the bench's range")


def cpu_seconds(pid: int) -> float:
    """user + system CPU time a process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size: private pages plus a share of each shared page."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def total_cpu(pids: Iterable[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def wait_for(
    check: Any, timeout: float, what: str, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process is not None and process.poll() is not None:
            raise BenchError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(0.05)


@dataclass
class Children:
    """Every process this bench run started; `close()` stops each of them, by pid."""

    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_bench(),
            )
        self.processes.append(process)
        return process

    def stop(
        self, process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 30
    ) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        with contextlib.suppress(ValueError):
            self.processes.remove(process)

    def close(self) -> None:
        for process in reversed(list(self.processes)):
            self.stop(process, grace=10)

    # -------------------------------------------------------------- the things we start
    def tmux_server(self) -> Path:
        """A tmux server of the bench's own, on its own socket, as the bench's child.

        `tmux -D` stays in the foreground, so it gets PR_SET_PDEATHSIG like any child and
        dies with the bench even on SIGKILL (a daemonized server would be nobody's child).
        """
        if shutil.which("tmux") is None:
            raise BenchError("tmux is not installed")
        path = self.workdir / "tmux"
        process = self.start("tmux-server", ["tmux", "-S", str(path), "-D", "-f", "/dev/null"])
        wait_for(path.exists, 10, "tmux server", process)
        return path

    def function(
        self, name: str, version: str, port: int, env: dict[str, str], label: str | None = None
    ) -> subprocess.Popen[bytes]:
        """`voting function NAME --version V` on 127.0.0.1:port, without any proxy."""
        clean = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        clean.update(env)
        clean.setdefault("LOG_LEVEL", "INFO")
        argv = [sys.executable, "-m", "voting", "function", name, "--version", version]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        process = self.start(label or f"{name}-{version}-{port}", argv, clean)
        wait_for(
            lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 30, f"{name} {version}", process
        )
        return process

    def redis(self, port: int, appendfsync: str | None = None) -> subprocess.Popen[bytes]:
        """A private redis-server on `port`, in the bench's work dir.

        No persistence, or with `appendfsync` (everysec, always, no) an append-only file.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise BenchError("redis-server is not installed (make setup)")
        directory = self.workdir / f"redis-{port}"
        directory.mkdir(exist_ok=True)
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        if appendfsync is None:
            argv += ["--appendonly", "no"]
        else:
            argv += ["--appendonly", "yes", "--appendfsync", appendfsync]
        argv += ["--dir", str(directory)]
        process = self.start(f"redis-{port}", argv)

        def answers() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return True
            return False

        wait_for(answers, 10, "private redis-server", process)
        return process


@dataclass
class LocalUp:
    """A `voting up --no-ui` of the bench's own (own state dir, ports, Redis, database)."""

    children: Children
    state_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    ready_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(
        self,
        *,
        step: str,
        redis_url: str,
        database: str,
        telemetry: bool,
        ports: Ports,
        function_processes: str = "forked",
        retry: int = 1,
    ) -> None:
        base = ports.take(60)
        argv = [sys.executable, "-m", "voting", "up", "--no-ui", "--step", step]
        argv += ["--function-processes", function_processes]
        argv += ["--state-dir", str(self.state_dir), "--port", str(self.port)]
        argv += ["--control-port", str(base), "--prometheus-port", str(base + 1)]
        argv += ["--base-port", str(base + 2), "--redis-url", redis_url]
        argv += ["--mysql-database", database]
        if not telemetry:
            argv.append("--no-telemetry")
        started = time.monotonic()
        self.process = self.children.start("voting-up", argv)
        try:
            wait_for(self._ready, 120, "voting up", self.process)
        except BenchError:
            if retry <= 0:
                raise
            # A port checked free can be taken before Envoy binds it when it lies in the
            # kernel's ephemeral range (the bench's default range does): try new ports once.
            self.stop()
            self.port = ports.take()
            self.start(
                step=step,
                redis_url=redis_url,
                database=database,
                telemetry=telemetry,
                ports=ports,
                function_processes=function_processes,
                retry=retry - 1,
            )
            return
        self.ready_seconds = time.monotonic() - started

    def _ready(self) -> bool:
        try:
            return bool(self.status().get("step"))
        except Exception:
            return False

    def status(self) -> dict[str, Any]:
        from mesh.local.control import ControlClient

        return asyncio.run(ControlClient(self.state_dir).status())

    def step(self, step: str) -> dict[str, Any]:
        from mesh.local.control import ControlClient

        return asyncio.run(ControlClient(self.state_dir).step(step))

    def wait_settled(self, quiet: float = 2.0, timeout: float = 30.0) -> None:
        """Until the set of processes has not changed for `quiet` s: a step change drains
        and stops the old pods only after the new ones are ready, and memory is measured
        on the step, not on the hand-over."""
        deadline = time.monotonic() + timeout
        last, since = self.pids(), time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < quiet:
            time.sleep(0.2)
            now = self.pids()
            if now != last:
                last, since = now, time.monotonic()

    def process_names(self) -> list[str]:
        try:
            return list(json.loads((self.state_dir / "pids.json").read_text()))
        except (OSError, ValueError):
            return []

    def pids(self) -> list[int]:
        """The supervisor and every process it runs now (from its pid registry)."""
        try:
            children = json.loads((self.state_dir / "pids.json").read_text())
        except (OSError, ValueError):
            children = {}
        own = [self.process.pid] if self.process is not None else []
        return own + [int(p) for p in children.values()]

    def stop(self) -> None:
        if self.process is not None:
            self.children.stop(self.process, signal.SIGINT, grace=40)
            self.process = None
