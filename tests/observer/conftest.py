"""Fixtures that start real things for the observer tests, and stop them even on failure.

- ``prometheus_factory``: real Prometheus servers (``PrometheusServer``) for a module, every
  one stopped at its end.
- ``local_system``: one real `voting up --detach` for the whole observer session, on private
  ports and a private state dir, always brought down with `voting down`.

What they start (``Exposition``, ``PrometheusServer``, ``LocalSystem``) and the constants the
tests share live in tests/support/observer_env.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.observer_env import LOCAL_PORTS, REPO, VOTING, LocalSystem, PrometheusServer
from tests.support.ports import free_port


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback traffic must never go through an ambient HTTP proxy."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def prometheus_factory() -> Iterator[Callable[[list[str]], PrometheusServer]]:
    """Start real Prometheus servers for a module; every one is stopped at the end."""
    started: list[PrometheusServer] = []
    workdirs: list[Path] = []

    def start(targets: list[str]) -> PrometheusServer:
        workdir = Path(tempfile.mkdtemp(prefix="obs-prom-"))
        workdirs.append(workdir)
        server = PrometheusServer(workdir, targets)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        for workdir in workdirs:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- the local system
def _supports(flag: str) -> bool:
    help_text = subprocess.run([*VOTING, "up", "--help"], capture_output=True, text=True).stdout
    return flag in help_text


@pytest.fixture(scope="session")
def local_system() -> Iterator[LocalSystem]:
    """One real local mesh for the observer session, always stopped (even on failure).

    It runs without auto mTLS (`--no-auto-mtls`, Istio 1.0 as in the tutorial), so traffic
    is plaintext until step 3's DestinationRules ask for ISTIO_MUTUAL: the lock-down shows.
    """
    state_dir = Path(tempfile.mkdtemp(prefix="obs-test-state-"))
    argv = [
        *VOTING,
        "up",
        "--detach",
        "--state-dir",
        str(state_dir),
        "--port",
        str(LOCAL_PORTS["port"]),
        "--control-port",
        str(LOCAL_PORTS["control"]),
        "--base-port",
        str(LOCAL_PORTS["base"]),
        "--no-auto-mtls",
    ]
    if _supports("--prometheus-port"):
        argv += ["--prometheus-port", str(free_port())]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env, cwd=REPO)
        if done.returncode != 0:
            pytest.fail(f"voting up failed: {done.stdout}\n{done.stderr}")
        yield LocalSystem(state_dir, f"http://127.0.0.1:{LOCAL_PORTS['port']}/")
    finally:
        subprocess.run(
            [*VOTING, "down", "--state-dir", str(state_dir)], capture_output=True, timeout=60
        )
        shutil.rmtree(state_dir, ignore_errors=True)
