"""`voting function ...` as a real process: start-up, JSON logs, graceful stop, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.functions_servers import SHARED_REDIS
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    """The process environment without proxies or function settings from the caller."""
    keep = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    keep.pop("FUNCTION_VERSION", None)
    return {**keep, **extra}


def _voting(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "voting", *args],
        cwd=ROOT,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            with urllib.request.urlopen(url, timeout=0.5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never became healthy")


def test_unknown_version_exits_2_with_one_line_and_no_trace() -> None:
    process = _voting("function", "vote", "--version", "9.9")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stderr.strip().count("\n") == 0
    assert "no version '9.9'" in stderr and "Traceback" not in stderr


def test_missing_version_exits_2_and_says_how_to_set_it() -> None:
    process = _voting("function", "results")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "--version or FUNCTION_VERSION" in stderr


def test_function_serves_logs_json_lines_and_stops_cleanly_on_sigterm() -> None:
    port = free_port()
    process = _voting(
        "function",
        "storage",
        "--version",
        "1.0",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        REDIS_URL=SHARED_REDIS,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/counts", headers={"x-request-id": "cli-test-1"}
        )
        with urllib.request.urlopen(request, timeout=2) as resp:
            assert resp.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert lines[0]["msg"] == f"listening on 127.0.0.1:{port}"
    assert {"function": "storage", "version": "1.0"}.items() <= lines[0].items()
    assert any(line["request_id"] == "cli-test-1" for line in lines)
    assert lines[-1]["msg"] == "stopped"
