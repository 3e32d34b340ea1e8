"""Functions forked from the pre-imported host (mesh/local/function_host.py) behave like
exec'd ones: they serve with their own environment and log, restart when killed, stop on
request, and die when the host dies, so nothing outlives the supervisor."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from mesh.local.function_host import VOTING, fork_command
from mesh.local.process import ManagedProcess, PidRegistry
from tests.support.ports import free_port
from tests.support.waiting import eventually


def _vote_command(port: int) -> list[str]:
    args = ["function", "vote", "--version", "1.0", "--host", "127.0.0.1", "--port", str(port)]
    return [*VOTING, *args]


def _env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VOTE1VALUE": "Otters", **extra}


async def _page(port: int) -> str | None:
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"http://127.0.0.1:{port}/") as response,
        ):
            return await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_a_forked_function_serves_with_its_own_environment_and_log(tmp_path: Path) -> None:
    port = free_port()
    process = ManagedProcess(
        "voting-app-0/voting-app",
        _vote_command(port),
        env=_env(),
        log_path=tmp_path / "vote.log",
        registry=PidRegistry(tmp_path / "pids.json"),
        forked=True,
    )
    await process.start()
    try:
        page = await eventually(lambda: _page(port), timeout=30, what="the forked vote page")
        assert "Otters" in page  # VOTE1VALUE from the pod's env, not the supervisor's
        assert process.host_pids, "the host's pid is recorded for clean-up and memory"
        assert "listening on 127.0.0.1" in (tmp_path / "vote.log").read_text()

        first = process.process.pid
        os.kill(first, signal.SIGKILL)  # a crashed function is restarted, like a pod
        await eventually(
            lambda: process.running and process.process.pid != first,
            timeout=30,
            what="a restarted function",
        )
        assert "Otters" in await eventually(lambda: _page(port), timeout=30, what="the page")
        assert process.restarts == 1
    finally:
        await process.stop()
    assert not process.running
    assert await _page(port) is None


async def test_every_forked_function_dies_with_the_host(tmp_path: Path) -> None:
    """The host is started by the supervisor; without it, no function may go on serving."""
    script = tmp_path / "supervisor.py"
    ports = [free_port(), free_port()]
    script.write_text(
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from mesh.local.function_host import fork_command\n"
        "async def main():\n"
        f"    for port in {ports!r}:\n"
        f"        argv = {_vote_command(0)[:-1]!r} + [str(port)]\n"
        f"        child = await fork_command(argv, {_env()!r}, Path({str(tmp_path)!r}) / 'f.log')\n"
        "        print(child.pid, flush=True)\n"
        "    await asyncio.sleep(300)\n"
        "if __name__ == '__main__':  # a forked child imports this file as __mp_main__\n"
        "    asyncio.run(main())\n"
    )
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdout=asyncio.subprocess.PIPE, cwd=os.getcwd()
    )
    try:
        assert supervisor.stdout is not None
        lines = [await asyncio.wait_for(supervisor.stdout.readline(), 60) for _ in ports]
        pids = [int(line) for line in lines]
        for port in ports:
            await eventually(lambda port=port: _page(port), timeout=30, what="a forked function")
        supervisor.kill()  # no clean-up code of the supervisor runs
        await supervisor.wait()
        await eventually(
            lambda: not any(_alive(pid) for pid in pids), timeout=15, what="children gone"
        )
    finally:
        if supervisor.returncode is None:
            supervisor.kill()
            await supervisor.wait()


async def test_only_voting_function_commands_are_forked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only `voting function` commands"):
        await fork_command(["/bin/true"], _env(), tmp_path / "log")
    with pytest.raises(ValueError, match="only `voting function` commands"):
        await fork_command([*VOTING, "up"], _env(), tmp_path / "log")
