"""What the observer tests start and share: a Prometheus exposition, a real Prometheus, a
running local system, and the paths and commands they use.

- ``Exposition``: a tiny Prometheus text exposition of Istio-standard series whose counters
  grow at chosen rates, served over HTTP from a thread, so a real Prometheus can scrape it.
- ``PrometheusServer``: the machine's real /usr/bin/prometheus on a private port with its
  own TSDB directory; stoppable and restartable (outage tests).
- ``LocalSystem``: the handle of the session's `voting up` (the ``local_system`` fixture of
  tests/observer/conftest.py starts it).

Here, not in that conftest, because the tests import these by name, and test modules never
import from a conftest.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = Path("/usr/bin/prometheus")
VOTING = [sys.executable, "-m", "voting"]
# Private ports for the session's local system (others use 8080/15000/20000-22999).
LOCAL_PORTS = {"port": 18280, "control": 18200, "base": 23200}

needs_prometheus = pytest.mark.skipif(not PROMETHEUS.exists(), reason="no /usr/bin/prometheus")


# ---------------------------------------------------------------- exposition
@dataclass(frozen=True)
class Counter:
    """A counter series growing at `per_second` since the exposition started; a gauge (`value`
    given) holds its value."""

    name: str
    labels: dict[str, str]
    per_second: float
    value: float | None = None


@dataclass
class Exposition:
    """Istio-standard counters as Prometheus text, values = rate x elapsed time."""

    series: list[Counter] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    server: ThreadingHTTPServer | None = None

    def text(self) -> str:
        elapsed = time.time() - self.started
        lines = []
        kinds = {s.name: "counter" if s.value is None else "gauge" for s in self.series}
        for name in sorted(kinds):
            lines.append(f"# TYPE {name} {kinds[name]}")
        for s in self.series:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            value = s.per_second * elapsed if s.value is None else s.value
            lines.append(f"{s.name}{{{labels}}} {value:.6f}")
        return "\n".join(lines) + "\n"

    def start(self) -> str:
        exposition = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exposition.text().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# ---------------------------------------------------------------- prometheus
class PrometheusServer:
    """A real Prometheus on a private port scraping `targets` every second."""

    READY_S = 60  # usually 1-2 s; polled, so a busy machine only makes it slower

    def __init__(self, workdir: Path, targets: list[str], port: int | None = None) -> None:
        self.workdir = workdir
        self.targets = targets
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.workdir / "prometheus.yml"
        targets = ", ".join(f"'{t}'" for t in self.targets)
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"scrape_configs:\n  - job_name: test\n    static_configs:\n      - targets: [{targets}]\n"
        )
        log = open(self.workdir / "prometheus.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + self.READY_S
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response,
            ):
                if response.status == 200:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited: {(self.workdir / 'prometheus.log').read_text()[-2000:]}"
                )
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready after {self.READY_S} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None


@dataclass(frozen=True)
class LocalSystem:
    """A running `voting up` on private ports."""

    state_dir: Path
    ingress_url: str

    def step(self, step: int) -> None:
        done = subprocess.run(
            [*VOTING, "step", str(step), "--state-dir", str(self.state_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            log = (self.state_dir / "voting-up.log").read_text(errors="replace")[-3000:]
            raise AssertionError(
                f"voting step {step} failed: {done.stderr}\n--- voting-up.log\n{log}"
            )
