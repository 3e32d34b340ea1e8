"""`voting apply | delete -f` on a real running local system (step 4, canary).

Each test leaves the system at step 4 with nothing applied on top (`voting step 4`), so the
tests do not depend on one another's order. Every wait has a deadline; none judges time.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local_system import (
    COOKIE_ON,
    LocalSystem,
    module_ports_base,
    start_local_system,
    stop_local_system,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

DEADLINE_S = 30  # for a change to be live; a few tenths of a second on a quiet machine
ALL_ON_2_0 = """# Everyone on voting-app 2.0, with or without the cookie (step 4's subsets).
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: voting-app
spec:
  hosts: ["*"]
  gateways: [voting-app-gateway]
  http:
    - %s:
        - destination: {host: voting-app, port: {number: 8080}, subset: v2-0}
"""
NO_FLAGS = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ingress-no-flags, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules: [{to: [{operation: {paths: [/featureflag/*]}}]}]
"""


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalSystem]:
    system = start_local_system(
        tmp_path_factory.mktemp("apply"),
        module_ports_base(request.module.__name__),
        extra=("--step", "canary"),
    )
    yield system
    stop_local_system(system)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"vs": tmp_path / "all-on-2-0.yaml", "bad": tmp_path / "misspelt.yaml"}
    paths["vs"].write_text(ALL_ON_2_0 % "route")
    paths["bad"].write_text(ALL_ON_2_0 % "rout")
    paths["policy"] = tmp_path / "no-flags.yaml"
    paths["policy"].write_text(NO_FLAGS)
    return paths


def voting(
    system: LocalSystem, *args: str | Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voting", *map(str, args), "--state-dir", str(system.state_dir)],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def versions(system: LocalSystem) -> tuple[str | None, str | None]:
    """voting-app's version without, then with, the featureflag cookie."""
    return system.page().app_version, system.page(COOKIE_ON).app_version


def set_flag_status(system: LocalSystem) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", system.port, timeout=10)
    try:
        connection.request("POST", "/featureflag/set", body=b"")
        return connection.getresponse().status
    finally:
        connection.close()


def back_to_step_4(system: LocalSystem) -> None:
    done = voting(system, "step", "4")
    assert done.returncode == 0, done.stderr
    assert "applied on top" not in done.stdout
    assert system.status()["applied"] == []


def test_apply_after_a_dry_run_sends_everyone_to_2_0_until_the_step_is_applied_again(
    system: LocalSystem, files: dict[str, Path]
) -> None:
    assert versions(system) == ("1.0", "2.0")

    dry = voting(system, "apply", "-f", files["vs"], "--dry-run")
    assert (dry.returncode, dry.stdout) == (
        0,
        "virtualservice.networking.istio.io/voting-app configured (dry run)\n",
    )
    assert system.status()["applied"] == []
    assert versions(system) == ("1.0", "2.0")
    try:
        done = voting(system, "apply", "-f", files["vs"])
        assert (done.returncode, done.stdout) == (
            0,
            "virtualservice.networking.istio.io/voting-app configured\n",
        ), done.stderr
        wait_until(lambda: versions(system) == ("2.0", "2.0"), DEADLINE_S, "everyone on 2.0")
        status = voting(system, "status")
        lines = status.stdout.splitlines()
        assert lines[0].startswith("step 4 (canary)")
        assert lines[1] == "applied on top of step 4: virtualservice voting-app (configured)"
        again = voting(system, "apply", "-f", files["vs"])
        assert again.stdout == "virtualservice.networking.istio.io/voting-app unchanged\n"
    finally:
        back_to_step_4(system)
    wait_until(lambda: versions(system) == ("1.0", "2.0"), DEADLINE_S, "step 4's canary routes")


def test_a_misspelt_field_is_refused_with_exit_2_and_the_previous_config_keeps_serving(
    system: LocalSystem, files: dict[str, Path]
) -> None:
    try:
        assert voting(system, "apply", "-f", files["vs"]).returncode == 0
        wait_until(lambda: versions(system) == ("2.0", "2.0"), DEADLINE_S, "everyone on 2.0")

        refused = voting(system, "apply", "-f", files["policy"], "-f", files["bad"])

        assert refused.returncode == 2
        assert refused.stdout == ""
        assert refused.stderr == (
            f"voting: apply refused, nothing changed: {files['bad']}: VirtualService "
            "voting-app.voting: unsupported field spec.http[0].rout\n"
        )
        # nothing half-applied: neither the policy nor the misspelt route; 2.0 still serves
        applied = system.status()["applied"]
        assert [(a["describe"], a["action"]) for a in applied] == [
            ("virtualservice voting-app", "configured")
        ]
        for _ in range(5):
            assert versions(system) == ("2.0", "2.0")
        assert set_flag_status(system) == 303
    finally:
        back_to_step_4(system)


def test_delete_of_what_was_applied_on_top_restores_the_step_behaviour(
    system: LocalSystem, files: dict[str, Path]
) -> None:
    try:
        done = voting(system, "apply", "-f", "-", stdin=NO_FLAGS)
        assert done.stdout == "authorizationpolicy.security.istio.io/ingress-no-flags created\n"
        wait_until(lambda: set_flag_status(system) == 403, DEADLINE_S, "the DENY at the ingress")
        status = voting(system, "status").stdout.splitlines()
        assert status[1] == (
            "applied on top of step 4: authorizationpolicy ingress-no-flags.istio-system (created)"
        )

        dry = voting(system, "delete", "-f", files["policy"], "--dry-run")
        assert dry.stdout == (
            "authorizationpolicy.security.istio.io/ingress-no-flags deleted (dry run)\n"
        )
        assert set_flag_status(system) == 403

        gone = voting(system, "delete", "-f", files["policy"])
        assert (gone.returncode, gone.stdout) == (
            0,
            "authorizationpolicy.security.istio.io/ingress-no-flags deleted\n",
        ), gone.stderr
        wait_until(lambda: set_flag_status(system) == 303, DEADLINE_S, "the flag set again")
        assert system.status()["applied"] == []
        assert versions(system) == ("1.0", "2.0")

        again = voting(system, "delete", "-f", files["policy"])
        assert again.returncode == 2
        assert "not found: authorizationpolicy.security.istio.io/ingress-no-flags" in again.stderr
    finally:
        back_to_step_4(system)
