"""`voting cluster step|status|tls-check` through a kubeconfig pointing at the fake API, and
the hand-over functions the local verbs call with `--context`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mesh.router.verbs import add_cluster_arguments, run_status, run_step, run_tls_check
from tests.support.fake_kubernetes_api import FakeKubernetesApi
from voting.cli import main


def voting(*argv: str | Path) -> int:
    return main([str(a) for a in argv])


def test_cluster_step_applies_with_the_kubeconfig_token_and_prints_progress_fake_kubernetes_api(
    fake: FakeKubernetesApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = voting("cluster", "step", "deploy", "--kubeconfig", kubeconfig, "--context", "fake")

    out = capsys.readouterr().out
    assert code == 0
    assert "s] created Namespace voting\n" in out
    assert "s] 4 Deployment(s) ready\n" in out
    assert "context fake, namespace voting\nstep 1 (deploy)" in out
    assert "voting-app-1-0          1.0      3/3     0" in out
    assert {r.authorization for r in fake.requests} == {"Bearer fake-token"}


def test_cluster_status_json_is_the_status_fake_kubernetes_api(
    fake: FakeKubernetesApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voting("cluster", "step", "lock-down", "--kubeconfig", kubeconfig)
    capsys.readouterr()

    code = voting("cluster", "status", "--json", "--kubeconfig", kubeconfig)

    status = json.loads(capsys.readouterr().out)
    assert code == 0
    assert status["step"] == {"number": 3, "name": "lock-down"}
    assert status["target"]["context"] is None  # the kubeconfig's current context
    assert {s["name"]: s["peer_authentication"] for s in status["services"]}["voting-app"] == (
        "STRICT"
    )


def test_cluster_tls_check_prints_rows_and_the_no_probe_note_fake_kubernetes_api(
    fake: FakeKubernetesApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voting("cluster", "step", "lock-down", "--kubeconfig", kubeconfig)
    capsys.readouterr()

    code = voting("cluster", "tls-check", "voting-storage", "--kubeconfig", kubeconfig)

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].split() == [
        "HOST:PORT",
        "STATUS",
        "SERVER",
        "CLIENT",
        "AUTHN",
        "POLICY",
        "DESTINATION",
        "RULE",
    ]
    assert out[1].split() == [
        "voting-storage.voting.svc.cluster.local:8080",
        "OK",
        "mTLS",
        "mTLS",
        "default/voting",
        "voting-storage/voting",
    ]
    assert out[-1] == "configuration only: no live probe in a cluster; use istioctl x describe"


def test_cluster_tls_check_exits_3_on_a_conflict_fake_kubernetes_api(
    fake: FakeKubernetesApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voting("cluster", "step", "lock-down", "--kubeconfig", kubeconfig)
    fake.find("DestinationRule", "voting-app")["spec"]["trafficPolicy"]["tls"]["mode"] = "DISABLE"

    assert voting("cluster", "tls-check", "--kubeconfig", kubeconfig) == 3
    assert voting("cluster", "tls-check", "nothing-here", "--kubeconfig", kubeconfig) == 1
    assert "voting: no service named nothing-here in cluster context" in capsys.readouterr().err


def test_cluster_errors_exit_1_with_the_message_fake_kubernetes_api(
    fake: FakeKubernetesApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.without_group("/apis/networking.istio.io/v1")

    code = voting("cluster", "step", "1", "--kubeconfig", kubeconfig)

    assert code == 1
    assert capsys.readouterr().err.startswith(
        "voting: Gateway voting-app-gateway.voting: the cluster does not serve "
        "networking.istio.io/v1 gateways"
    )


def local_like_parser() -> argparse.ArgumentParser:
    """The local `voting step|status|tls-check` parsers, plus `add_cluster_arguments`: what
    mesh/local/cli.py gets with the one-line change."""
    parser = argparse.ArgumentParser(prog="voting")
    verbs = parser.add_subparsers(dest="command")
    step = verbs.add_parser("step")
    step.add_argument("step")
    step.add_argument("--state-dir", type=Path, default=Path("/nonexistent"))
    add_cluster_arguments(step, rollout=True)
    status = verbs.add_parser("status")
    status.add_argument("--json", action="store_true")
    status.add_argument("--state-dir", type=Path, default=Path("/nonexistent"))
    add_cluster_arguments(status)
    check = verbs.add_parser("tls-check")
    check.add_argument("service", nargs="?", default="all")
    check.add_argument("--json", action="store_true")
    check.add_argument("--state-dir", type=Path, default=Path("/nonexistent"))
    add_cluster_arguments(check)
    return parser


def test_the_local_verbs_hand_over_with_context_in_one_line_fake_kubernetes_api(
    fake: FakeKubernetesApi, kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = local_like_parser()
    where = ["--context", "fake", "--kubeconfig", str(kubeconfig)]

    assert run_step(parser.parse_args(["step", "canary", *where])) == 0
    assert run_status(parser.parse_args(["status", "--json", *where])) == 0
    assert run_tls_check(parser.parse_args(["tls-check", "voting-app", "--json", *where])) == 0

    out = capsys.readouterr().out
    rows = json.loads(out[out.rindex("[\n") :])
    assert [r["host"] for r in rows] == ["voting-app.voting.svc.cluster.local:8080"]
    assert parser.parse_args(["step", "1"]).context is None  # no --context: stays local


def test_cluster_step_pulls_the_function_images_from_the_default_repo_fake_kubernetes_api(
    fake: FakeKubernetesApi, kubeconfig: Path
) -> None:
    code = voting(
        "cluster",
        "step",
        "deploy",
        "--kubeconfig",
        kubeconfig,
        "--default-repo",
        "myacr.azurecr.io/",
        "--image",
        "voting-storage=kind.local/voting-storage:dev",
    )

    assert code == 0
    images = {
        r.body["metadata"]["name"]: r.body["spec"]["template"]["spec"]["containers"][0]["image"]
        for r in fake.requests
        if r.method == "PATCH" and r.body["kind"] == "Deployment"
    }
    assert images == {
        "voting-analytics-1-0": "myacr.azurecr.io/voting-analytics:0.1.0",
        "voting-app-1-0": "myacr.azurecr.io/voting-app:0.1.0",
        "voting-redis": "redis:7",
        "voting-storage-1-0": "kind.local/voting-storage:dev",
    }
