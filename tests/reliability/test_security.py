"""Security at the later steps, beyond tests/e2e (which checks step 3): STRICT mutual TLS
on every sidecar at steps 4 and 5, authorization by caller identity at step 5, and the
MySQL password (a real one here, on the suite's private MariaDB) in no log and no /metrics.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import urllib.request
from pathlib import Path

import pytest

from mesh.local.ca import LocalCA
from tests.e2e.local_system import plaintext_answers
from tests.reliability.traffic import COOKIE_ON, reset
from tests.support.reliability_mesh import Mesh, logs_text

pytestmark = pytest.mark.e2e

DEMO_SECRET = "demo-only-not-a-secret"  # the Secret's placeholder in mesh/k8s


def mtls_status(mesh: Mesh, port: int, service_account: str, path: str) -> int:
    """HTTP status of GET `path` sent with mutual TLS under a mesh identity."""
    cert = LocalCA(mesh.system.state_dir / "ca").issue(
        "voting", service_account, f"test-{service_account}"
    )
    context = ssl.create_default_context(cafile=str(cert.ca))
    context.check_hostname = False
    context.load_cert_chain(str(cert.cert), str(cert.key))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="mesh") as sock,
    ):
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: mesh\r\nConnection: close\r\n\r\n".encode())
        return int(sock.recv(64).split()[1])


def pods(status: dict) -> list[dict]:
    return [dict(pod, app=w["app"]) for w in status["workloads"] for pod in w["pods"]]


@pytest.mark.parametrize("step", ["canary", "finalize"])
def test_every_sidecar_refuses_plaintext(mesh: Mesh, step: str) -> None:
    status = mesh.system.step(step)
    ports = [pod["inbound_port"] for pod in pods(status)]
    assert len(ports) >= 5
    assert [port for port in ports if plaintext_answers(port)] == []


@pytest.mark.parametrize(
    ("app", "path", "allowed", "refused"),
    [
        ("voting-storage", "/counts", "voting-analytics", ["intruder", "voting-storage"]),
        ("voting-analytics", "/analytics", "voting-app", ["intruder", "voting-storage"]),
        ("voting-app", "/healthz", None, ["intruder", "voting-app", "voting-analytics"]),
    ],
)
def test_at_step_5_each_service_admits_only_its_callers(
    mesh: Mesh, app: str, path: str, allowed: str | None, refused: list[str]
) -> None:
    status = mesh.system.step("finalize")
    for pod in (p for p in pods(status) if p["app"] == app):
        for identity in refused:
            assert mtls_status(mesh, pod["inbound_port"], identity, path) == 403, (pod, identity)
        if allowed:
            assert mtls_status(mesh, pod["inbound_port"], allowed, path) == 200, pod


def test_the_mysql_password_is_in_no_log_and_no_metrics(mesh: Mesh) -> None:
    status = mesh.system.step("canary")
    reset(mesh.url, COOKIE_ON)
    mesh.system.vote("Cats", COOKIE_ON, times=3)  # storage 2.0 logs in with the password
    password = mesh.backends.mariadb.password
    assert mesh.system.page(COOKIE_ON).store == "mysql"

    texts = {"logs": logs_text(mesh.system.state_dir)}
    texts["up.log"] = (mesh.system.state_dir / "up.log").read_text(errors="replace")
    for pod in pods(status):
        url = f"http://127.0.0.1:{pod['app_port']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            texts[url] = response.read().decode()
    texts["status"] = str(mesh.system.status())
    for entry in Path("/proc").iterdir():  # every process's command line, ours or not
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                texts[f"/proc/{entry.name}/cmdline"] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
    assert len(texts["logs"]) > 1000 and any(
        "storage" in k or "mysql" in t for k, t in texts.items()
    )
    for secret in (password, DEMO_SECRET):
        leaks = [where for where, text in texts.items() if secret in text]
        assert leaks == [], f"the password appears in {leaks}"
