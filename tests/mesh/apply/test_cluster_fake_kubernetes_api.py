"""`voting apply | delete --context` against the fake Kubernetes API: the model validates the
whole set first, then each changed document is server-side applied as `voting step` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fake_kubernetes_api import FakeKubernetesApi
from voting.cli import main

ALL_ON_2_0 = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: voting-app}
spec:
  hosts: ["*"]
  gateways: [voting-app-gateway]
  http:
    - %s:
        - destination: {host: voting-app, port: {number: 8080}, subset: v2-0}
"""
POLICY = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ingress-no-flags, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules: [{to: [{operation: {paths: [/featureflag/*]}}]}]
"""
VS_PATH = "/apis/networking.istio.io/v1/namespaces/voting/virtualservices/voting-app"
POLICY_PATH = (
    "/apis/security.istio.io/v1/namespaces/istio-system/authorizationpolicies/ingress-no-flags"
)


def voting(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def writes(fake: FakeKubernetesApi) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests if r.method in ("PATCH", "DELETE")]


def test_apply_dry_run_refusal_and_delete_on_a_cluster_fake_kubernetes_api(
    fake: FakeKubernetesApi,
    kubeconfig: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    assert voting(capsys, "cluster", "step", "canary", "--kubeconfig", kubeconfig)[0] == 0
    vs, misspelt, policy = tmp_path / "vs.yaml", tmp_path / "bad.yaml", tmp_path / "policy.yaml"
    vs.write_text(ALL_ON_2_0 % "route")
    misspelt.write_text(ALL_ON_2_0 % "rout")
    policy.write_text(POLICY)
    cluster = ("--kubeconfig", kubeconfig, "--context", "fake")
    fake.clear_requests()

    assert voting(capsys, "apply", "-f", vs, *cluster) == (
        0,
        "virtualservice.networking.istio.io/voting-app configured\n",
        "",
    )
    [patch] = [r for r in fake.requests if r.method == "PATCH"]
    assert (patch.path, patch.field_manager, patch.force) == (VS_PATH, "voting-mesh", True)
    live = fake.find("VirtualService", "voting-app")
    assert live["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v2-0"
    assert live["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "voting-mesh"

    fake.clear_requests()
    code, out, _ = voting(capsys, "apply", "-f", vs, "-f", policy, "--dry-run", *cluster)
    assert (code, out) == (
        0,
        "virtualservice.networking.istio.io/voting-app unchanged (dry run)\n"
        "authorizationpolicy.security.istio.io/ingress-no-flags created (dry run)\n",
    )
    assert writes(fake) == []

    code, out, err = voting(capsys, "apply", "-f", policy, "-f", misspelt, *cluster)
    assert (code, out) == (2, "")
    assert err == (
        f"voting: apply refused, nothing changed: {misspelt}: VirtualService voting-app.voting: "
        "unsupported field spec.http[0].rout\n"
    )
    assert writes(fake) == []

    assert voting(capsys, "apply", "-f", policy, *cluster)[:2] == (
        0,
        "authorizationpolicy.security.istio.io/ingress-no-flags created\n",
    )
    assert writes(fake) == [("PATCH", POLICY_PATH)]
    assert fake.find("AuthorizationPolicy", "ingress-no-flags", "istio-system") is not None

    fake.clear_requests()
    assert voting(capsys, "delete", "-f", policy, *cluster)[:2] == (
        0,
        "authorizationpolicy.security.istio.io/ingress-no-flags deleted\n",
    )
    assert writes(fake) == [("DELETE", POLICY_PATH)]
    code, _, err = voting(capsys, "delete", "-f", policy, "-f", vs, *cluster)
    assert code == 2
    assert "not found: authorizationpolicy.security.istio.io/ingress-no-flags" in err
    assert writes(fake) == [("DELETE", POLICY_PATH)]  # nothing more: the VS is still there
    assert fake.find("VirtualService", "voting-app") is not None
