"""Child processes of the local system, restarted like a ReplicaSet restarts a pod.

Every child gets PR_SET_PDEATHSIG, so it dies with the supervisor even after a crash, and its
pid is recorded in the state directory so that the next `voting up` or `voting down` can clean
up anything a killed supervisor left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from mesh.local.function_host import ForkedProcess, fork_command, host_pids
from mesh.local.lifetime import die_with_parent

log = logging.getLogger("voting.mesh")


class PidRegistry:
    """The pids of all live children, in `<state>/pids.json`, for crash clean-up."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pids: dict[str, int] = {}

    def set(self, name: str, pid: int | None) -> None:
        if pid is None:
            self._pids.pop(name, None)
        else:
            self._pids[name] = pid
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._pids))
        os.replace(tmp, self.path)

    @staticmethod
    def kill_leftovers(path: Path) -> int:
        """Kill processes a previous supervisor recorded and left behind; returns how many."""
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return 0
        killed = 0
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(pid), signal.SIGKILL)
                killed += 1
        with contextlib.suppress(OSError):
            path.unlink()
        return killed


class ManagedProcess:
    """One child process; restarted with back-off when it exits while it should run."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        log_path: Path,
        registry: PidRegistry,
        on_event: Callable[[str], None] | None = None,
        forked: bool = False,
    ) -> None:
        self.name = name
        self.forked = forked  # a `voting` command forked from the function host, not exec'd
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.registry = registry
        self.on_event = on_event or (lambda message: None)
        self.process: asyncio.subprocess.Process | ForkedProcess | None = None
        self.host_pids: list[int] = []  # the fork server and its helper, once forked
        self.restarts = 0
        self._wanted = False
        self._watcher: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        self._wanted = True
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name=f"watch {self.name}")

    async def _spawn(self) -> None:
        if self.forked:
            self.process = await fork_command(self.argv, self.env, self.log_path)
            self.registry.set(self.name, self.process.pid)
            self.host_pids = host_pids(self.process.pid)
            for number, pid in enumerate(self.host_pids):
                self.registry.set(f"function-host/{number}", pid)
            return
        with open(self.log_path, "ab") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                preexec_fn=die_with_parent,
            )
        self.registry.set(self.name, self.process.pid)

    async def _watch(self) -> None:
        delay = 0.2
        while self._wanted:
            assert self.process is not None
            code = await self.process.wait()
            self.registry.set(self.name, None)
            if not self._wanted:
                return
            self.restarts += 1
            self.on_event(f"{self.name} exited with {code}; restarting (restart #{self.restarts})")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            if self._wanted:
                await self._spawn()

    async def stop(self, grace: float = 5.0) -> None:
        self._wanted = False
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        process = self.process
        if process is None or process.returncode is not None:
            self.registry.set(self.name, None)
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        self.registry.set(self.name, None)

    def pss_bytes(self) -> int:
        """Proportional set size: shared pages (the Envoy binary, Python) counted once overall."""
        if not self.running or self.process is None:
            return 0
        return pss_of(self.process.pid)

    def rss_bytes(self) -> int:
        if not self.running or self.process is None:
            return 0
        try:
            with open(f"/proc/{self.process.pid}/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0


def pss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
