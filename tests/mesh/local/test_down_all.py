"""`voting down --all` finds every running local system, detached ones too, and stops each.

Two `voting up --detach` systems on their own state dirs and ports (each with the private
Redis `voting up` starts when none answers at --redis-url), plus the stale entry a
supervisor killed with SIGKILL leaves in the registry. The registry is the test's own
($VOTING_REGISTRY_DIR), so `--all` never reaches a system of anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mesh.local import registry
from tests.support.processes import kill_all, listening_ports, processes_naming
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

# 18500-18699: no other test's range (observer: 18200-18312, bench tests: 17000, 19000+).
SYSTEMS = {"a": range(18500, 18600), "b": range(18600, 18700)}


def _up_argv(state_dir: Path, ports: range, database: str) -> list[str]:
    first = ports.start
    return [
        *(sys.executable, "-m", "voting", "up", "--detach", "--no-telemetry"),
        *("--state-dir", str(state_dir), "--port", str(first), "--control-port", str(first + 1)),
        *("--base-port", str(first + 10)),
        # nothing answers here: `voting up` starts a private redis-server of its own
        *("--redis-url", f"redis://127.0.0.1:{ports.stop - 1}/0", "--mysql-database", database),
    ]


async def _drop_databases(names: list[str]) -> None:
    import asyncmy

    conn = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        async with conn.cursor() as cur:
            for name in names:
                await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def test_down_all_stops_every_detached_system_and_forgets_stale_ones(tmp_path: Path) -> None:
    registry_dir = tmp_path / "registry"
    env = {**os.environ, "VOTING_REGISTRY_DIR": str(registry_dir)}
    state_dirs = {name: tmp_path / f"state-{name}" for name in SYSTEMS}
    databases = [f"voting_downall_{uuid.uuid4().hex[:8]}" for _ in SYSTEMS]
    for ports in SYSTEMS.values():
        assert not listening_ports(ports), f"ports {ports} are taken: the test needs them"
    ups = [
        subprocess.Popen(
            _up_argv(state_dirs[name], ports, database),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        for (name, ports), database in zip(SYSTEMS.items(), databases, strict=True)
    ]
    try:
        for up in ups:  # both start at once; each returns when its system is ready
            out, _ = up.communicate(timeout=180)
            assert up.returncode == 0, out.decode(errors="replace")
        running = [e for e in registry.entries(registry_dir) if e.running]
        assert {e.state_dir for e in running} == {d.resolve() for d in state_dirs.values()}
        for state_dir in state_dirs.values():
            assert len(processes_naming(state_dir)) >= 5  # supervisor, Envoys, functions
        # What a `voting up` killed with SIGKILL leaves: an entry whose process is gone.
        stale = registry_dir / "999999999.json"
        stale.write_text(
            json.dumps({"pid": 999999999, "started": 1, "state_dir": str(tmp_path / "gone")})
        )

        down = subprocess.run(
            [sys.executable, "-m", "voting", "down", "--all"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert down.returncode == 0, down.stdout + down.stderr
        for state_dir in state_dirs.values():
            assert f"{state_dir.resolve()}: stopped" in down.stdout, down.stdout
        for name, state_dir in state_dirs.items():
            wait_until(
                lambda d=state_dir: not processes_naming(d),
                30,
                f"every process of system {name} gone: {processes_naming(state_dir)}",
            )
        for ports in SYSTEMS.values():
            wait_until(
                lambda p=ports: not listening_ports(p),
                30,
                f"nothing listening on {ports}: {listening_ports(ports)}",
            )
        assert list(registry_dir.glob("*.json")) == [], "registry entries left"

        again = subprocess.run(
            [sys.executable, "-m", "voting", "down", "--all"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert again.returncode == 0 and "no local system running" in again.stdout, again
    finally:
        for up in ups:
            if up.poll() is None:
                up.kill()
                up.wait()
        for state_dir in state_dirs.values():
            kill_all(processes_naming(state_dir))
        with contextlib.suppress(Exception):
            asyncio.run(_drop_databases(databases))
