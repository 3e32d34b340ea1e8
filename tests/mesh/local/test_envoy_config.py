"""The Istio → Envoy compiler, on the project's real rendered steps (no processes started)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mesh.local.ca import LocalCA
from mesh.local.envoy import compile_ingress, compile_sidecar
from mesh.local.errors import InvalidResource, UnsupportedField
from mesh.local.topology import IngressGateway
from mesh.model.policy import client_tls_mode, effective_mtls_mode
from mesh.model.resources import parse_resources
from mesh.steps import render_step
from tests.support.mesh_view import make_view, pod_of, routes_for, shares


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {
        name: render_step(name)
        for name in ("deploy", "update-analytics", "lock-down", "canary", "finalize")
    }


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA(tmp_path_factory.mktemp("ca"))


def cluster_of(route: dict[str, Any]) -> str:
    return route["route"]["cluster"]


def with_virtual_service(
    documents: list[dict[str, Any]], name: str, spec_edit: Any
) -> list[dict[str, Any]]:
    edited = copy.deepcopy(documents)
    for doc in edited:
        if doc["kind"] == "VirtualService" and doc["metadata"]["name"] == name:
            spec_edit(doc["spec"])
    return edited


class TestStrictParsing:
    def test_a_misspelt_field_is_an_error_naming_it(self, rendered: dict[str, Any]) -> None:
        def typo(spec: dict[str, Any]) -> None:
            spec["http"][0]["route"][0]["wieght"] = 50

        documents = with_virtual_service(rendered["canary"], "voting-app", typo)
        with pytest.raises(
            UnsupportedField,
            match=r"VirtualService voting-app\.voting: unsupported field spec\.http\[0\]\.route\[0\]\.wieght",
        ):
            parse_resources(documents)

    def test_an_unimplemented_istio_feature_is_refused_not_ignored(
        self, rendered: dict[str, Any]
    ) -> None:
        def delegate(spec: dict[str, Any]) -> None:
            spec["http"][0]["delegate"] = {"name": "voting-app-routes"}

        with pytest.raises(UnsupportedField, match=r"spec\.http\[0\]\.delegate"):
            parse_resources(with_virtual_service(rendered["canary"], "voting-app", delegate))

    def test_a_route_to_an_undefined_subset_is_refused(self, rendered: dict[str, Any]) -> None:
        def unknown_subset(spec: dict[str, Any]) -> None:
            spec["http"][-1]["route"][0]["destination"]["subset"] = "v9-9"

        with pytest.raises(InvalidResource, match="subset v9-9 of voting-app"):
            parse_resources(with_virtual_service(rendered["canary"], "voting-app", unknown_subset))


class TestRouting:
    def test_without_destination_rules_a_service_spreads_over_every_version(
        self, rendered, ca
    ) -> None:
        view = make_view(parse_resources(rendered["update-analytics"]), ca)
        (route,) = routes_for(view, "voting-app-1-0", "voting-analytics")
        names = {c["name"] for c in route["route"]["weighted_clusters"]["clusters"]}
        assert names == {
            "outbound_8080_-_voting-analytics_v1-0",
            "outbound_8080_-_voting-analytics_v1-1",
        }

    def test_source_labels_give_each_workload_its_own_route_table(self, rendered, ca) -> None:
        view = make_view(parse_resources(rendered["canary"]), ca)
        from_1_0 = routes_for(view, "voting-app-1-0", "voting-analytics")
        from_2_0 = routes_for(view, "voting-app-2-0", "voting-analytics")
        assert cluster_of(from_1_0[0]) == "outbound_8080_v1-1_voting-analytics_v1-1"
        assert cluster_of(from_2_0[0]) == "outbound_8080_v2-0_voting-analytics_v2-0"

    def test_the_cookie_rule_comes_before_the_catch_all_at_the_gateway(self, rendered, ca) -> None:
        view = make_view(parse_resources(rendered["canary"]), ca)
        config = compile_ingress(view, IngressGateway(8080, 8081), "/tmp/rds")
        (host,) = config.route["virtual_hosts"]
        first, last = host["routes"][0], host["routes"][-1]
        assert first["match"]["headers"] == [
            {
                "name": "cookie",
                "string_match": {"safe_regex": {"regex": "^(.*?; ?)?(featureflag=on)(;.*)?$"}},
            }
        ]
        assert cluster_of(first) == "outbound_8080_v2-0_voting-app_v2-0"
        assert cluster_of(last) == "outbound_8080_v1-0_voting-app_v1-0"

    def test_weights_split_traffic_between_subsets(self, rendered, ca) -> None:
        def split(spec: dict[str, Any]) -> None:
            spec["http"][-1]["route"] = [
                {"destination": {"host": "voting-app", "subset": "v1-0"}, "weight": 75},
                {"destination": {"host": "voting-app", "subset": "v2-0"}, "weight": 25},
            ]

        view = make_view(
            parse_resources(with_virtual_service(rendered["canary"], "voting-app", split)), ca
        )
        config = compile_ingress(view, IngressGateway(8080, 8081), "/tmp/rds")
        weighted = config.route["virtual_hosts"][0]["routes"][-1]["route"]["weighted_clusters"]
        assert shares(weighted["clusters"]) == {
            "outbound_8080_v1-0_voting-app_v1-0": 0.75,
            "outbound_8080_v2-0_voting-app_v2-0": 0.25,
        }

    def test_an_abort_fault_sends_its_share_to_an_abort_cluster_counted_as_the_destination(
        self, rendered, ca
    ) -> None:
        def abort(spec: dict[str, Any]) -> None:
            spec["http"][-1]["fault"] = {"abort": {"percentage": {"value": 10}, "httpStatus": 500}}

        view = make_view(
            parse_resources(with_virtual_service(rendered["lock-down"], "voting-app", abort)), ca
        )
        config = compile_ingress(view, IngressGateway(8080, 8081), "/tmp/rds")
        clusters = config.route["virtual_hosts"][0]["routes"][-1]["route"]["weighted_clusters"][
            "clusters"
        ]
        assert shares(clusters) == {
            "outbound_8080_v1-0_voting-app_v1-0": 0.9,
            "outbound_8080_v1-0_voting-app_v1-0~abort500": 0.1,
        }
        abort_cluster = next(c for c in config.clusters if c["name"].endswith("~abort500"))
        assert abort_cluster["alt_stat_name"] == "outbound_8080_v1-0_voting-app_v1-0"
        assert (
            "retriable-status-codes"
            not in config.route["virtual_hosts"][0]["routes"][-1]["route"]["retry_policy"][
                "retry_on"
            ]
        )


class TestMutualTLS:
    def test_strict_peer_authentication_leaves_only_the_tls_filter_chain(
        self, rendered, ca
    ) -> None:
        view = make_view(parse_resources(rendered["lock-down"]), ca)
        config = compile_sidecar(view, pod_of(view, "voting-storage-1-0"), "/tmp/rds")
        inbound = next(listener for listener in config.listeners if listener["name"] == "inbound")
        assert [
            c["filter_chain_match"]["transport_protocol"] for c in inbound["filter_chains"]
        ] == ["tls"]
        tls = inbound["filter_chains"][0]["transport_socket"]["typed_config"]
        assert tls["require_client_certificate"] is True

    def test_without_a_policy_sidecars_accept_both_like_permissive(self, rendered, ca) -> None:
        resources = parse_resources(rendered["deploy"])
        view = make_view(resources, ca)
        assert effective_mtls_mode(resources, {"app": "voting-app"}) == "PERMISSIVE"
        config = compile_sidecar(view, pod_of(view, "voting-app-1-0"), "/tmp/rds")
        inbound = next(listener for listener in config.listeners if listener["name"] == "inbound")
        assert sorted(
            c["filter_chain_match"]["transport_protocol"] for c in inbound["filter_chains"]
        ) == [
            "raw_buffer",
            "tls",
        ]

    def test_auto_mtls_sends_mutual_tls_before_any_destination_rule(self, rendered, ca) -> None:
        resources = parse_resources(rendered["deploy"])
        labels = [p.labels for p in make_view(resources, ca).pods]
        assert client_tls_mode(resources, "voting-analytics", None, labels) == "ISTIO_MUTUAL"
        assert (
            client_tls_mode(resources, "voting-analytics", None, labels, auto_mtls=False)
            == "DISABLE"
        )

    def test_destination_rule_istio_mutual_verifies_the_server_spiffe_identity(
        self, rendered, ca
    ) -> None:
        view = make_view(parse_resources(rendered["lock-down"]), ca, auto_mtls=False)
        config = compile_sidecar(view, pod_of(view, "voting-app-1-0"), "/tmp/rds")
        cluster = next(
            c for c in config.clusters if c["name"] == "outbound_8080_v1-1_voting-analytics_v1-1"
        )
        validation = cluster["transport_socket"]["typed_config"]["common_tls_context"][
            "validation_context"
        ]
        assert validation["match_typed_subject_alt_names"] == [
            {
                "san_type": "URI",
                "matcher": {"exact": "spiffe://cluster.local/ns/voting/sa/voting-analytics"},
            }
        ]

    def test_authorization_policy_allows_only_the_named_principals(self, rendered, ca) -> None:
        view = make_view(parse_resources(rendered["lock-down"]), ca)
        config = compile_sidecar(view, pod_of(view, "voting-analytics-1-1"), "/tmp/rds")
        inbound = next(listener for listener in config.listeners if listener["name"] == "inbound")
        hcm = inbound["filter_chains"][0]["filters"][0]["typed_config"]
        rbac = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.rbac")
        # Istio's shape (model.go Generate): and_ids of or_ids of authenticated principals.
        principals = [
            p["authenticated"]["principal_name"]["exact"]
            for policy in rbac["typed_config"]["rules"]["policies"].values()
            for principal in policy["principals"]
            for field in principal["and_ids"]["ids"]
            for p in field["or_ids"]["ids"]
        ]
        assert principals == ["spiffe://cluster.local/ns/voting/sa/voting-app"]


def test_the_ca_issues_short_lived_spiffe_identities(tmp_path: Path) -> None:
    from cryptography import x509

    cert = LocalCA(tmp_path).issue("voting", "voting-app", "pod")
    parsed = x509.load_pem_x509_certificate(cert.cert.read_bytes())
    san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "spiffe://cluster.local/ns/voting/sa/voting-app"
    ]
    lifetime = parsed.not_valid_after_utc - parsed.not_valid_before_utc
    assert lifetime.total_seconds() <= 24 * 3600 + 600


class TestRetries:
    def test_the_default_policy_retries_503s_a_sidecar_made_itself_not_the_apps_own(
        self, rendered, ca
    ) -> None:
        view = make_view(parse_resources(rendered["lock-down"]), ca)
        config = compile_ingress(view, IngressGateway(8080, 8081), "/tmp/rds")
        policy = config.route["virtual_hosts"][0]["routes"][-1]["route"]["retry_policy"]
        assert "retriable-headers" in policy["retry_on"]
        # Istio >= 1.24 (route/retry/retry.go): retriable-status-codes with no code listed
        assert not policy.get("retriable_status_codes")
        assert policy["retriable_headers"] == [
            {"name": "x-mesh-local-reply", "present_match": True}
        ]
        assert config.route["response_headers_to_remove"] == ["x-mesh-local-reply"]

    def test_inbound_sidecars_mark_the_5xx_they_generate_themselves(self, rendered, ca) -> None:
        view = make_view(parse_resources(rendered["lock-down"]), ca)
        config = compile_sidecar(view, pod_of(view, "voting-app-1-0"), "/tmp/rds")
        inbound = next(listener for listener in config.listeners if listener["name"] == "inbound")
        hcm = inbound["filter_chains"][0]["filters"][0]["typed_config"]
        overflow, mapper = hcm["local_reply_config"]["mappers"]
        assert mapper["filter"]["status_code_filter"]["comparison"]["op"] == "GE"
        assert mapper["headers_to_add"][0]["header"]["key"] == "x-mesh-local-reply"
        # an overflow is shed with Retry-After and not marked: callers must not retry it
        assert overflow["filter"] == {"response_flag_filter": {"flags": ["UO"]}}
        assert [h["header"] for h in overflow["headers_to_add"]] == [
            {"key": "Retry-After", "value": "1"}
        ]
