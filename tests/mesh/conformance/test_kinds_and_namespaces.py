"""What the local mesh refuses instead of silently ignoring, and how it scopes namespaces.

Spec: the istio.io API groups (istio/api: networking, security, telemetry, extensions) and
Istio's root namespace (meshConfig.rootNamespace, default istio-system) whose policies are
mesh-wide (pilot/pkg/model/authorization.go ListAuthorizationPolicies,
pilot/pkg/model/authentication.go getConfigsForWorkload), Istio 1.28.
"""

from __future__ import annotations

import pytest

from mesh.model.errors import InvalidResource, UnsupportedField, UnsupportedKind
from mesh.model.resources import parse_resources
from tests.support.mesh_view import documents


def parse(extra: str, step: str = "lock-down"):
    return parse_resources(documents(step, extra))


@pytest.mark.parametrize(
    ("api_version", "kind", "page"),
    [
        ("networking.istio.io/v1", "ServiceEntry", "networking/service-entry/"),
        ("networking.istio.io/v1", "Sidecar", "networking/sidecar/"),
        ("networking.istio.io/v1alpha3", "EnvoyFilter", "networking/envoy-filter/"),
        ("telemetry.istio.io/v1", "Telemetry", "telemetry/"),
        ("extensions.istio.io/v1alpha1", "WasmPlugin", "proxy_extensions/wasm-plugin/"),
    ],
)
def test_an_istio_kind_the_local_mesh_does_not_run_is_refused_with_its_docs_page(
    api_version, kind, page
):
    with pytest.raises(UnsupportedKind, match=f"{kind} x: .*{page}"):
        parse(f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\nspec: {{}}")


def test_a_gateway_api_route_is_refused():
    with pytest.raises(UnsupportedKind, match="HTTPRoute x"):
        parse("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: x}\n")


def test_a_kubernetes_kind_that_would_not_run_is_refused():
    with pytest.raises(InvalidResource, match=r"kind StatefulSet .* is not run by the local mesh"):
        parse("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {}")


def test_a_resource_of_another_namespace_is_refused():
    with pytest.raises(InvalidResource, match="namespace shop is not run by the local mesh"):
        parse(
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
            "metadata: {name: x, namespace: shop}\nspec: {mtls: {mode: STRICT}}"
        )


def test_root_namespace_policies_are_accepted_and_kept_in_their_namespace():
    resources = parse(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: mesh, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}"
    )
    assert [(p.name, p.namespace) for p in resources.peer_authentications][-1] == (
        "mesh",
        "istio-system",
    )


def test_an_unknown_field_names_the_document_with_its_namespace_and_the_field_path():
    with pytest.raises(
        UnsupportedField,
        match=r"DestinationRule x\.voting: unsupported field spec\.trafficPolicy\.loadBalancer",
    ):
        parse(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
            "metadata: {name: x}\nspec: {host: voting-app, trafficPolicy: {loadBalancer: {simple: RANDOM}}}"
        )


def test_kinds_without_local_effect_are_accepted():
    parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}")
