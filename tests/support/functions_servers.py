"""What the function tests run against: the machine's shared Redis and MariaDB, private
database servers of a test's own, and vote → results → storage wired by URL.

Here, not in tests/functions/conftest.py (whose fixtures start these), because the tests
import these constants and types by name, and test modules never import from a conftest.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

SHARED_REDIS = "redis://127.0.0.1:6379/0"
SHARED_MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
SESSION_TAG = uuid.uuid4().hex[:8]


def base_url(server: TestServer) -> str:
    """A test server's URL without the trailing slash, as the settings expect."""
    return str(server.make_url("")).rstrip("/")


# --- private database servers that tests may stop ---------------------------------


@dataclass
class PrivateServer:
    """A database server process of the test's own, on its own port and directory."""

    name: str
    port: int
    argv: list[str]
    ready: Callable[[], bool]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"private {self.name} did not start; see {self.log}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop this server (only this one) and wait for it to exit."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


# --- functions wired together ------------------------------------------------------


@dataclass
class Stack:
    """vote → results → storage running as real HTTP servers on free ports."""

    vote: TestClient
    results_url: str
    storage_url: str


StackFactory = Callable[..., Awaitable[Stack]]
