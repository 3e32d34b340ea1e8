"""Nothing left behind: `voting bench --quick` killed midway leaves no process of its own.

The bench is killed while everything it starts runs at once (case 3 + 4: its private
Redis, a `voting up` with Envoys, functions and Prometheus, the dashboard in tmux): with
SIGKILL (no clean-up code runs; PR_SET_PDEATHSIG of every child does the work) and with
SIGTERM (its handler stops everything like Ctrl-C). What remains is found by name: every
process whose command line or environment names the test's temporary directory (the
bench's $TMPDIR, hence its work dir and every state dir), and any socket still listening
in the bench's port range (redis-server rewrites its command line and environment into
its title, "redis-server 127.0.0.1:PORT": its port finds it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import kill_all, listening_ports, processes_naming
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

# 19000-19999: no other test's range (test_bench: 17000, reliability: 12000-16000, observer:
# 18200-18312 and 23200+, e2e modules: 24000+).
PORT_BASES = {"SIGKILL": 19000, "SIGTERM": 19500}


def _running_everything(tmp_path: Path, bench: subprocess.Popen[bytes], log: Path) -> bool:
    if bench.poll() is not None:
        pytest.fail(f"the bench exited with {bench.returncode}:\n{log.read_text()[-3000:]}")
    commands = processes_naming(tmp_path).values()
    return any("voting observe" in c for c in commands) and any("envoy" in c for c in commands)


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_killed_bench_leaves_no_process_and_no_listening_port(tmp_path: Path, sig: str) -> None:
    base = PORT_BASES[sig]
    log = tmp_path / "bench.log"
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),  # the bench's work dir, and so every state dir, lie here
        "VOTING_REGISTRY_DIR": str(tmp_path / "registry"),
    }
    argv = [sys.executable, "-m", "voting", "bench", "--quick", "--only", "local"]
    argv += ["--port-base", str(base), "--json", str(tmp_path / "bench.json")]
    with log.open("wb") as out:
        bench = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    try:
        wait_until(
            lambda: _running_everything(tmp_path, bench, log),
            180,
            "the bench's voting up and its dashboard running",
            interval=0.5,
        )
        running = processes_naming(tmp_path)
        assert len(running) >= 8, running  # redis, voting up, Envoys, functions, tmux, dashboard

        bench.send_signal(getattr(signal, sig))
        bench.wait(90)

        wait_until(
            lambda: not processes_naming(tmp_path),
            60,
            f"every process of the bench gone after {sig}: {processes_naming(tmp_path)}",
            interval=0.5,
        )
        wait_until(
            lambda: not listening_ports(range(base, base + 1000)),
            30,
            f"no port of the bench listening: {listening_ports(range(base, base + 1000))}",
            interval=0.5,
        )
        if sig == "SIGTERM":  # stopped like Ctrl-C: 128 + 15, nothing reported
            assert bench.returncode == 128 + signal.SIGTERM, log.read_text()[-2000:]
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        kill_all(processes_naming(tmp_path))
