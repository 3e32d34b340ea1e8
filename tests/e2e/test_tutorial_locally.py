"""The tutorial's own checks, on the local mesh: real Envoy sidecars, real Redis and MariaDB.

Each test applies the step it checks, so the tests do not depend on one another's order.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from mesh.local.ca import LocalCA
from tests.e2e.local_system import (
    COOKIE_ON,
    LocalSystem,
    SteadyLoad,
    module_ports_base,
    our_processes,
    plaintext_answers,
    start_local_system,
    stop_local_system,
)

pytestmark = pytest.mark.e2e


def reset(system: LocalSystem, cookie: str | None = None) -> None:
    system.vote("reset", cookie)


def sidecar_ports(system: LocalSystem, app: str | None = None) -> list[int]:
    return [
        pod["inbound_port"]
        for workload in system.status()["workloads"]
        if app is None or workload["app"] == app
        for pod in workload["pods"]
    ]


def mtls_status(system: LocalSystem, port: int, service_account: str) -> int:
    """HTTP status of GET /counts sent with mutual TLS under a mesh identity."""
    cert = LocalCA(system.state_dir / "ca").issue(
        "voting", service_account, f"test-{service_account}"
    )
    context = ssl.create_default_context(cafile=str(cert.ca))
    context.check_hostname = False
    context.load_cert_chain(str(cert.cert), str(cert.key))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
        context.wrap_socket(raw, server_hostname="voting-storage") as sock,
    ):
        sock.sendall(b"GET /counts HTTP/1.1\r\nHost: voting-storage\r\nConnection: close\r\n\r\n")
        return int(sock.recv(64).split()[1])


def test_step_1_shows_the_counts_of_analytics_1_0(local_system: LocalSystem) -> None:
    local_system.step("deploy")
    reset(local_system)
    local_system.vote("Cats", times=2)
    local_system.vote("Dogs", times=4)
    assert local_system.page().results == "Cats: 2 | Dogs: 4"


def test_step_2_round_robins_analytics_1_0_and_1_1(local_system: LocalSystem) -> None:
    local_system.step("update-analytics")
    reset(local_system)
    local_system.vote("Cats", times=2)
    local_system.vote("Dogs", times=4)
    seen = Counter(local_system.page().results for _ in range(20))
    assert set(seen) == {"Cats: 2 | Dogs: 4", "Cats: 2/6 (33%) | Dogs: 4/6 (67%)"}, seen


def test_step_3_routes_every_page_to_analytics_1_1(local_system: LocalSystem) -> None:
    local_system.step("lock-down")
    reset(local_system)
    local_system.vote("Cats", times=2)
    local_system.vote("Dogs", times=4)
    seen = Counter(local_system.page().results for _ in range(20))
    assert seen == Counter({"Cats: 2/6 (33%) | Dogs: 4/6 (67%)": 20})


def test_step_3_tls_check_reports_mutual_tls_for_every_service(local_system: LocalSystem) -> None:
    local_system.step("lock-down")
    result = local_system.cli("tls-check")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert {row[0] for row in rows} == {
        f"{name}.voting.svc.cluster.local:8080"
        for name in ("voting-app", "voting-analytics", "voting-storage")
    }
    assert all(row[1:4] == ["OK", "mTLS", "mTLS"] for row in rows), result.stdout


def test_step_3_refuses_plaintext_on_every_sidecar(local_system: LocalSystem) -> None:
    local_system.step("lock-down")
    ports = sidecar_ports(local_system)
    assert len(ports) == 6  # 3 app + analytics 1.0 and 1.1 + storage
    assert [port for port in ports if plaintext_answers(port)] == []


def test_step_3_authorization_refuses_storage_calls_from_other_identities(
    local_system: LocalSystem,
) -> None:
    local_system.step("lock-down")
    (port,) = sidecar_ports(local_system, "voting-storage")
    assert mtls_status(local_system, port, "intruder") == 403
    assert mtls_status(local_system, port, "voting-analytics") == 200


def test_step_4_cookie_users_get_app_2_0_on_mysql_with_their_own_counts(
    local_system: LocalSystem,
) -> None:
    local_system.step("canary")
    reset(local_system, COOKIE_ON)
    reset(local_system)
    local_system.vote("Cats", COOKIE_ON)
    local_system.vote("Dogs", times=3)
    for cookie in (COOKIE_ON, "a=b; featureflag=on"):
        page = local_system.page(cookie)
        assert (page.app_version, page.store) == ("2.0", "mysql")
        assert page.results == "Cats: 1/1 (100%) | Dogs: 0/1 (0%)"
    for cookie in (None, "featureflag=off", "xfeatureflag=on"):
        page = local_system.page(cookie)
        assert (page.app_version, page.store) == ("1.0", "redis")
        assert page.results == "Cats: 0/3 (0%) | Dogs: 3/3 (100%)"


def test_step_5_serves_everyone_2_0_and_no_1_x_process_remains(local_system: LocalSystem) -> None:
    local_system.step("canary")
    old_ports = [
        pod["app_port"]
        for w in local_system.status()["workloads"]
        if w["version"] != "2.0"
        for pod in w["pods"]
    ]
    status = local_system.step("finalize")
    assert {w["version"] for w in status["workloads"]} == {"2.0"}
    for cookie in (None, COOKIE_ON):
        page = local_system.page(cookie)
        assert (page.app_version, page.store) == ("2.0", "mysql")
    listening = []
    for port in old_ports:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                listening.append(port)
    assert old_ports and listening == []


def test_no_request_fails_under_steady_load_across_every_step_change(
    local_system: LocalSystem,
) -> None:
    local_system.step("deploy")
    load = SteadyLoad(local_system.url, rate=20)
    load.start()
    try:
        for step in ("update-analytics", "lock-down", "canary", "finalize"):
            # Requests of each step before the next change (about 1.5 s of the load): waited
            # for, since one request at a time gives fewer per second on a busy machine.
            load.wait_for_completed(load.completed + 30)
            local_system.step(step)
        load.wait_for_completed(load.completed + 30)
    finally:
        outcomes = load.stop()
    failures = {k: v for k, v in outcomes.items() if k not in ("200", "303")}
    assert sum(outcomes.values()) > 100
    assert failures == {}, outcomes


def test_a_killed_supervisor_takes_its_processes_with_it_and_up_starts_clean(
    tmp_path: Path,
) -> None:
    system = start_local_system(tmp_path, module_ports_base(__name__) + 250)
    try:
        children = our_processes(system.state_dir)
        assert len(children) >= 10  # 5 functions, their 5 sidecars, the gateway
        system.process.kill()  # kill -9: no clean-up code runs in the supervisor
        system.process.wait()
        deadline = time.monotonic() + 30  # they go at once; a busy machine only delays it
        while our_processes(system.state_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert our_processes(system.state_dir) == []
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "voting",
                "up",
                "--detach",
                "--no-telemetry",
                "--state-dir",
                str(system.state_dir),
                "--port",
                str(system.port),
                "--control-port",
                str(module_ports_base(__name__) + 253),
                "--base-port",
                str(module_ports_base(__name__) + 260),
                "--redis-url",
                f"redis://127.0.0.1:6379/{system.redis_db}",
                "--mysql-database",
                system.mysql_database,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert system.page().status == 200
        assert system.cli("down").returncode == 0
    finally:
        stop_local_system(system)


def test_step_3_keeps_the_functions_operational_endpoints_off_the_gateway(
    local_system: LocalSystem,
) -> None:
    local_system.step("lock-down")

    async def status_of(path: str) -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(local_system.url + path) as response,
        ):
            return response.status

    assert asyncio.run(status_of("metrics")) == 403
    assert asyncio.run(status_of("readyz")) == 403
    assert local_system.page().status == 200
