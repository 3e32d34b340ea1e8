"""PeerAuthentication as istiod composes it, judged on the compiled inbound listeners.

Spec: pilot/pkg/security/authn/policy_applier.go ComposePeerAuthentication (mesh < namespace
< workload, UNSET inherits, portLevelMtls), pilot/pkg/model/authentication.go
getConfigsForWorkload (only the workload's and the root namespace are looked up) and
pkg/config/validation/validation.go ValidatePeerAuthentication, Istio 1.28.
"""

from __future__ import annotations

import pytest

from mesh.model.errors import InvalidResource
from mesh.model.policy import compose_peer_authentication
from mesh.model.resources import parse_resources
from tests.support.mesh_view import documents, listener, sidecar, view_of

STRICT_DEFAULT = "PeerAuthentication/default"  # step 3's namespace-wide STRICT


def policy(name: str, namespace: str, mode: str, selector: str = "", extra: str = "") -> str:
    select = f"\n  selector: {{matchLabels: {selector}}}" if selector else ""
    return f"""
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: {name}, namespace: {namespace}}}
spec:{select}
  mtls: {{mode: {mode}}}{extra}
---"""


APP = {"app": "voting-app", "version": "1.0"}


def mode_of(*policies: str, drop: tuple[str, ...] = (STRICT_DEFAULT,)) -> str:
    resources = parse_resources(documents("lock-down", "".join(policies), drop=drop))
    return compose_peer_authentication(resources, APP).mode


def test_without_any_policy_a_workload_is_permissive():
    # policy_applier.go: "Initial outputPolicy is set to a PERMISSIVE".
    assert mode_of() == "PERMISSIVE"


def test_a_root_namespace_policy_is_mesh_wide():
    # authentication.go getConfigsForWorkload looks up the root namespace too.
    assert mode_of(policy("mesh", "istio-system", "STRICT")) == "STRICT"


def test_a_namespace_policy_overrides_the_mesh_policy_whatever_the_order():
    # ComposePeerAuthentication: mesh, then namespace, then workload — not document order.
    assert (
        mode_of(policy("ns", "voting", "PERMISSIVE"), policy("mesh", "istio-system", "STRICT"))
        == "PERMISSIVE"
    )
    assert (
        mode_of(policy("mesh", "istio-system", "STRICT"), policy("ns", "voting", "PERMISSIVE"))
        == "PERMISSIVE"
    )


def test_a_workload_policy_overrides_the_namespace_policy_whatever_the_order():
    workload = policy("app", "voting", "DISABLE", "{app: voting-app}")
    assert mode_of(workload, policy("ns", "voting", "STRICT")) == "DISABLE"
    assert mode_of(policy("ns", "voting", "STRICT"), workload) == "DISABLE"


def test_unset_inherits_from_the_level_above():
    # ComposePeerAuthentication: isMtlsModeUnset → the parent's mode stays.
    assert (
        mode_of(policy("mesh", "istio-system", "STRICT"), policy("ns", "voting", "UNSET"))
        == "STRICT"
    )
    assert (
        mode_of(
            policy("ns", "voting", "STRICT"), policy("app", "voting", "UNSET", "{app: voting-app}")
        )
        == "STRICT"
    )


def test_a_selector_policy_in_the_root_namespace_is_not_a_workload_policy():
    # ComposePeerAuthentication: `else if cfg.Namespace != rootNamespace` — ignored.
    assert mode_of(policy("odd", "istio-system", "DISABLE", "{app: voting-app}")) == "PERMISSIVE"


def test_of_two_namespace_wide_policies_the_oldest_wins():
    # authentication.go addPeerAuthentication: the oldest namespace-level policy is used
    # (locally: the first applied).
    assert mode_of(policy("a", "voting", "DISABLE"), policy("b", "voting", "STRICT")) == "DISABLE"


def test_a_selector_that_does_not_match_leaves_the_namespace_policy():
    assert (
        mode_of(policy("ns", "voting", "STRICT"), policy("x", "voting", "DISABLE", "{app: other}"))
        == "STRICT"
    )


def test_port_level_mtls_sets_the_mode_on_the_container_port(ca):
    # ComposePeerAuthentication: PerPort from the workload policy's portLevelMtls.
    extra = "\n  portLevelMtls:\n    '8080': {mode: DISABLE}"
    docs = documents(
        "lock-down",
        policy("app", "voting", "STRICT", "{app: voting-app}", extra),
        drop=(STRICT_DEFAULT,),
    )
    chains = listener(sidecar(view_of(docs, ca), "voting-app-1-0"), "inbound")["filter_chains"]
    assert [c["filter_chain_match"]["transport_protocol"] for c in chains] == ["raw_buffer"]


def test_port_level_unset_inherits_the_workload_mode(ca):
    extra = "\n  portLevelMtls:\n    '8080': {mode: UNSET}"
    docs = documents(
        "lock-down",
        policy("app", "voting", "STRICT", "{app: voting-app}", extra),
        drop=(STRICT_DEFAULT,),
    )
    chains = listener(sidecar(view_of(docs, ca), "voting-app-1-0"), "inbound")["filter_chains"]
    assert [c["filter_chain_match"]["transport_protocol"] for c in chains] == ["tls"]


def test_port_level_mtls_without_a_selector_is_refused():
    # validation.go ValidatePeerAuthentication: portLevelMtls requires a workload selector.
    with pytest.raises(InvalidResource, match="portLevelMtls requires a workload selector"):
        mode_of(
            policy(
                "ns", "voting", "STRICT", extra="\n  portLevelMtls:\n    '8080': {mode: DISABLE}"
            )
        )


def test_an_unknown_mode_is_refused():
    with pytest.raises(InvalidResource, match="unknown mtls mode"):
        mode_of(policy("ns", "voting", "SOMETIMES"))


def test_a_strict_workload_gets_only_the_mutual_tls_chain(ca):
    # listener_inbound.go: STRICT → tls filter chain only; PERMISSIVE → tls and plaintext.
    chains = listener(sidecar(view_of(documents("lock-down"), ca), "voting-app-1-0"), "inbound")
    assert [c["filter_chain_match"]["transport_protocol"] for c in chains["filter_chains"]] == [
        "tls"
    ]
