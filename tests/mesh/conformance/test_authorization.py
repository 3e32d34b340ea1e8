"""AuthorizationPolicy conformance: the local mesh compiles it as istiod does, or refuses it.

Three kinds of cases, each naming the Istio file and function that define the outcome:
- Istio's own builder test data (testdata/, copied from pilot/pkg/security/authz/builder/
  testdata/http): the RBAC filters generated must equal Istio's expected output;
- validation and refusals: documents Istio rejects (pkg/config/validation) or that the local
  mesh cannot honour are errors naming `AuthorizationPolicy name.namespace` and the field;
- real requests through a real Envoy loaded with compiled inbound listeners: 200 or 403.
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import json
import os
import re
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from mesh.local.ca import LocalCA
from mesh.local.envoy import MeshView
from mesh.local.envoy.inbound import compile_inbound
from mesh.local.envoy.rbac import rbac_filters
from mesh.local.envoy_proxy import envoy_binary
from mesh.local.topology import INGRESS_NAMESPACE, IngressGateway, Pod
from mesh.model.authorization import parse_authorization_policy
from mesh.model.errors import InvalidResource, UnsupportedField
from mesh.model.resources import MeshResources, parse_resources
from mesh.steps import render_step
from tests.support.ports import free_ports_in

TESTDATA = Path(__file__).parent / "testdata"
HTTPBIN = {"app": "httpbin", "version": "v1"}


# ---------------------------------------------------------------- helpers
def snake(value: Any) -> Any:
    """Istio's expected output is protojson (lowerCamel); the local mesh writes proto names."""
    if isinstance(value, dict):
        return {
            (k if k.startswith("@") or "[" in k else re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower()): (
                snake(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [snake(v) for v in value]
    return value


def istio_case(name: str, outputs: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(filters generated for httpbin v1 in foo from `<name>-in.yaml`, Istio's `outputs`)."""
    resources = MeshResources()
    resources.namespace = "foo"
    for doc in yaml.safe_load_all((TESTDATA / f"{name}-in.yaml").read_text()):
        meta = doc["metadata"]
        resources.authorization_policies.append(
            parse_authorization_policy(meta["name"], meta["namespace"], meta, doc["spec"])
        )
    expected = [snake(yaml.safe_load((TESTDATA / out).read_text())) for out in outputs]
    return rbac_filters(resources, HTTPBIN, "foo"), expected


@pytest.fixture(scope="module")
def finalize() -> list[dict[str, Any]]:
    return render_step("finalize")


def step_without_policies(finalize: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The finalize step without its own AuthorizationPolicies, so a case sees only its own."""
    return [copy.deepcopy(d) for d in finalize if d["kind"] != "AuthorizationPolicy"]


def with_docs(base: list[dict[str, Any]], text: str) -> MeshResources:
    return parse_resources([*copy.deepcopy(base), *yaml.safe_load_all(text)])


def policy(text: str, name: str = "p", namespace: str = "voting") -> str:
    """An AuthorizationPolicy document with `text` as its (indented) spec."""
    body = "\n".join("  " + line for line in text.strip("\n").splitlines())
    return (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{body}\n"
    )


def parse_error(finalize: list[dict[str, Any]], text: str) -> InvalidResource:
    with pytest.raises(InvalidResource) as caught:
        with_docs(finalize, text)
    return caught.value


# ---------------------------------------------------------------- Istio's builder test data
# Each: builder_test.go TestGenerator_GenerateHTTP with the named input and outputs; Istio's
# expected filters are compared whole (ALLOW's action is left out by protojson, as Istio's are).
ISTIO_CASES = [
    # model.go New (to.operation paths/notPaths), generator.go pathGenerator,
    # matcher/string.go StringMatcher, matcher/template.go PathTemplateMatcher ({*} {**}).
    ("allow-path", ["allow-path-out.yaml"]),
    # builder.go build: DENY's filter before ALLOW's, one per action.
    ("deny-and-allow", ["deny-and-allow-out1.yaml", "deny-and-allow-out2.yaml"]),
    # builder.go isDryRun: istio.io/dry-run "true" goes to shadow_rules only.
    ("dry-run-allow", ["dry-run-allow-out.yaml"]),
    # builder.go build: dry-run and enforced policies of one action in one filter.
    ("dry-run-mix", ["dry-run-mix-out.yaml"]),
    # builder.go shadowRuleStatPrefix: istio_dry_run_deny_ / istio_dry_run_allow_.
    (
        "dry-run-allow-and-deny",
        ["dry-run-allow-and-deny-out1.yaml", "dry-run-allow-and-deny-out2.yaml"],
    ),
    # model.go generatePermission/generatePrincipal: an empty rule `{}` matches everything.
    ("allow-empty-rule", ["allow-empty-rule-out.yaml"]),
    # builder.go rbacPolicyMatchNever: an ALLOW policy without rules allows nothing.
    ("allow-nil-rule", ["allow-nil-rule-out.yaml"]),
    # validation.go: DENY with `rules: [{}]` denies everything.
    ("deny-empty-rule", ["deny-empty-rule-out.yaml"]),
    # generator.go srcTrustDomainGenerator (trustDomains/notTrustDomains).
    ("trust-domains", ["trust-domains-out.yaml"]),
    # Every source, operation and `when` attribute Envoy evaluates locally, in model.go New's
    # order: principals, serviceAccounts, namespaces, (remote) ip blocks, hosts, methods,
    # paths, ports, then the `when` conditions (generator.go for each matcher).
    ("allow-full-rule-local", ["allow-full-rule-local-out.yaml"]),
]


@pytest.mark.parametrize(("name", "outputs"), ISTIO_CASES, ids=[c[0] for c in ISTIO_CASES])
def test_istio_builder_testdata(name: str, outputs: list[str]) -> None:
    generated, expected = istio_case(name, outputs)
    assert generated == expected


# ---------------------------------------------------------------- scoping and the project's steps
def rbac_of(listener: dict[str, Any]) -> list[dict[str, Any]]:
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return [f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.rbac"]


def make_view(resources: MeshResources, ca: LocalCA) -> MeshView:
    pods, port = [], 23100
    for workload in resources.mesh_workloads():
        pods.append(Pod(f"{workload.name}-0", workload, port, port + 1, port + 2, port + 3))
        port += 4
    certs = {p.name: ca.issue("voting", p.workload.service_account, p.name) for p in pods}
    certs["istio-ingressgateway"] = ca.issue(
        "istio-system", "istio-ingressgateway-service-account", "gw"
    )
    return MeshView(resources, tuple(pods), certs)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA(tmp_path_factory.mktemp("authz-ca"))


def inbound_rbac(view: MeshView, workload: str) -> list[dict[str, Any]]:
    """The RBAC filters of the workload's inbound listener (inbound.py compile_inbound)."""
    pod = next(p for p in view.pods if p.workload.name.startswith(workload))
    listener, _ = compile_inbound(view, pod)
    return rbac_of(listener)


def gateway_rbac(view: MeshView) -> list[dict[str, Any]]:
    """The RBAC filters proxies.py compile_ingress puts on the gateway's listener."""
    gateway = IngressGateway(23090, 23091)
    return rbac_filters(view.resources, dict(gateway.labels), INGRESS_NAMESPACE)


def test_root_namespace_policy_applies_mesh_wide_and_others_stay_in_their_namespace(
    finalize: list[dict[str, Any]], ca: LocalCA
) -> None:
    # pilot/pkg/model/authorization.go ListAuthorizationPolicies: the workload's namespace and
    # the root namespace (istio-system); policyattachment.go isSelected for the selector.
    resources = with_docs(
        step_without_policies(finalize),
        policy(
            "action: DENY\nrules:\n- to:\n  - operation:\n      paths: [/root]",
            "root",
            "istio-system",
        )
        + "---\n"
        + policy(
            "selector:\n  matchLabels:\n    istio: ingressgateway\n"
            "action: DENY\nrules:\n- to:\n  - operation:\n      paths: [/app-ns]",
            "gw-in-app-ns",
        ),
    )
    view = make_view(resources, ca)
    names = lambda filters: [n for f in filters for n in f["typed_config"]["rules"]["policies"]]  # noqa: E731
    assert names(inbound_rbac(view, "voting-app")) == ["ns[istio-system]-policy[root]-rule[0]"]
    # The gateway runs in istio-system: the voting policy selecting it does not apply.
    assert names(gateway_rbac(view)) == ["ns[istio-system]-policy[root]-rule[0]"]


def test_the_project_steps_compile_to_the_same_decisions(finalize, ca) -> None:
    # lock-down/finalize: voting-app allows the ingress gateway's identity except operational
    # paths (generator.go srcPrincipalGenerator: spiffe:// prefix; pathGenerator exact).
    view = make_view(parse_resources(finalize), ca)
    (allow,) = inbound_rbac(view, "voting-app")
    (rule,) = allow["typed_config"]["rules"]["policies"].values()
    assert rule["principals"] == [
        {
            "and_ids": {
                "ids": [
                    {
                        "or_ids": {
                            "ids": [
                                {
                                    "authenticated": {
                                        "principal_name": {
                                            "exact": "spiffe://cluster.local/ns/istio-system/sa/"
                                            "istio-ingressgateway-service-account"
                                        }
                                    }
                                }
                            ]
                        }
                    }
                ]
            }
        }
    ]
    assert rule["permissions"] == [
        {
            "and_rules": {
                "rules": [
                    {
                        "not_rule": {
                            "or_rules": {
                                "rules": [
                                    {"url_path": {"path": {"exact": p}}}
                                    for p in ("/metrics", "/healthz", "/readyz")
                                ]
                            }
                        }
                    }
                ]
            }
        }
    ]
    assert "action" not in allow["typed_config"]["rules"]  # ALLOW
    for step in ("deploy", "update-analytics", "lock-down", "canary"):
        parse_resources(render_step(step))


def test_ports_name_the_container_port_and_match_the_local_listener(finalize, ca) -> None:
    # generator.go destPortGenerator (destination_port); the local listener stands for the
    # container port (mesh.local.envoy.rbac: `ports`).
    resources = with_docs(
        step_without_policies(finalize),
        policy("rules:\n- to:\n  - operation:\n      ports: ['8080']\n      notPorts: ['9999']"),
    )
    view = make_view(resources, ca)
    pod = next(p for p in view.pods if p.workload.name.startswith("voting-app"))
    assert pod.workload.container_port == 8080
    (allow,) = inbound_rbac(view, "voting-app")
    (rule,) = allow["typed_config"]["rules"]["policies"].values()
    assert rule["permissions"][0]["and_rules"]["rules"] == [
        {"or_rules": {"rules": [{"destination_port": pod.inbound_port}]}},
        {"not_rule": {"or_rules": {"rules": [{"destination_port": 9999}]}}},
    ]


# ---------------------------------------------------------------- refused and invalid
REFUSED = [
    # validation.go ValidateAuthorizationPolicy (CUSTOM needs provider.name) and builder.go
    # BuildHTTP's ext_authz filter: the provider is an extension the local mesh does not run.
    (
        "action: CUSTOM\nprovider:\n  name: my-ext-authz\nrules:\n- {}",
        ["spec.action=CUSTOM", "spec.provider", "my-ext-authz", "ext_authz"],
    ),
    # builder.go build(auditPolicies, RBAC_LOG): AUDIT only marks requests for an audit sink.
    ("action: AUDIT\nrules:\n- {}", ["spec.action=AUDIT", "audit sink"]),
    # model.go requestPrincipalGenerator: the local mesh matches iss and sub of the payload,
    # so only `*`, `<iss>/<sub>` and `<iss>/*` (tests/mesh/conformance/test_jwt.py).
    (
        "rules:\n- from:\n  - source:\n      requestPrincipals: ['https://a*/b']",
        ["spec.rules[0].from[0].source.requestPrincipals[0]", "only `*`"],
    ),
    (
        "action: DENY\nrules:\n- from:\n  - source:\n      notRequestPrincipals: [nobody]",
        ["spec.rules[0].from[0].source.notRequestPrincipals[0]", "<issuer>/<subject>"],
    ),
    # model.go requestClaimGenerator: request.auth.claims[...] are JWT claims.
    (
        "rules:\n- when:\n  - key: request.auth.claims[iss]\n    values: [x]",
        ["spec.rules[0].when[0].key=request.auth.claims[iss]", "not implemented by the local"],
    ),
    # policyattachment.go: targetRef attaches to Gateway API resources / waypoints.
    (
        "targetRef:\n  kind: Gateway\n  group: gateway.networking.k8s.io\n  name: gw\nrules:\n- {}",
        ["spec.targetRef", "spec.selector"],
    ),
]


@pytest.mark.parametrize(("spec", "fragments"), REFUSED, ids=lambda v: None)
def test_what_needs_more_than_the_local_mesh_is_refused_naming_the_field(
    finalize, spec: str, fragments: list[str]
) -> None:
    error = parse_error(finalize, policy(spec))
    assert isinstance(error, UnsupportedField)
    assert str(error).startswith("AuthorizationPolicy p.voting: ")
    for fragment in fragments:
        assert fragment in str(error)


INVALID = [
    # validation.go ValidateAuthorizationPolicy: DENY without rules never triggers.
    ("action: DENY", "spec.rules", "DENY action without `rules`"),
    # validation.go: `from` / `to` present must not be empty; source/operation not empty.
    ("rules:\n- from: []", "spec.rules[0].from", "`from` must not be empty"),
    ("rules:\n- to: []", "spec.rules[0].to", "`to` must not be empty"),
    ("rules:\n- from:\n  - source: {}", "spec.rules[0].from[0].source", "must not be empty"),
    ("rules:\n- to:\n  - operation: {}", "spec.rules[0].to[0].operation", "must not be empty"),
    # validation.go validateOneOfSelectorType.
    (
        "selector:\n  matchLabels:\n    app: voting-app\ntargetRefs:\n- kind: Service\n  name: x",
        "spec.selector",
        "only one of targetRefs or workloadSelector",
    ),
    # validation.go validateWorkloadSelector: no wildcard in labels.
    ("selector:\n  matchLabels:\n    app: 'voting-*'", "spec.selector.matchLabels.app", "wildcard"),
    # security.go CheckValidPathTemplate: {**} must be the last operator.
    (
        "rules:\n- to:\n  - operation:\n      paths: ['/{**}/a/{**}']",
        "spec.rules[0].to[0].operation.paths[0]",
        "{**} is not the last operator",
    ),
    (
        "rules:\n- to:\n  - operation:\n      notPaths: ['/a/{x}']",
        "spec.rules[0].to[0].operation.notPaths[0]",
        "beyond a supported path template",
    ),
    # security.go CheckEmptyValues on methods.
    ("rules:\n- to:\n  - operation:\n      methods: ['']", "operation.methods[0]", "empty value"),
    # security.go ValidatePorts / ValidateIPs.
    ("rules:\n- to:\n  - operation:\n      ports: [http]", "operation.ports[0]", "bad port"),
    (
        "rules:\n- to:\n  - operation:\n      ports: [8080]",
        "operation.ports[0]",
        "must be a string",
    ),
    (
        "rules:\n- from:\n  - source:\n      ipBlocks: [10.0.0.0/33]",
        "source.ipBlocks[0]",
        "bad CIDR range",
    ),
    # validation.go: serviceAccounts cannot be combined with principals/namespaces.
    (
        "rules:\n- from:\n  - source:\n      serviceAccounts: [a]\n      namespaces: [voting]",
        "spec.rules[0].from[0].source",
        "cannot set serviceAccounts with namespaces or principals",
    ),
    # security.go ValidateAttribute.
    (
        "rules:\n- when:\n  - key: destination.labels[app]\n    values: [x]",
        "spec.rules[0].when[0].values",
        "replaced by the workload selector",
    ),
    ("rules:\n- when:\n  - key: request.headers\n    values: [x]", "when[0].values", "a[b]"),
    ("rules:\n- when:\n  - key: source.ip", "spec.rules[0].when[0]", "at least one of `values`"),
    # validation.go: provider only with CUSTOM.
    ("provider:\n  name: x\nrules:\n- {}", "spec.provider", "non CUSTOM action"),
]


@pytest.mark.parametrize(("spec", "path", "message"), INVALID, ids=lambda v: None)
def test_what_istio_validation_rejects_is_an_error_naming_the_field(
    finalize, spec: str, path: str, message: str
) -> None:
    error = str(parse_error(finalize, policy(spec)))
    assert error.startswith("AuthorizationPolicy p.voting: ")
    assert path in error
    assert message in error


def test_dry_run_annotation_must_be_a_boolean(finalize) -> None:
    # validation.go checkDryRunAnnotation: strconv.ParseBool of the value.
    text = policy("rules:\n- {}").replace(
        "  namespace: voting\n",
        "  namespace: voting\n  annotations:\n    istio.io/dry-run: maybe\n",
    )
    error = str(parse_error(finalize, text))
    assert "metadata.annotations[istio.io/dry-run]" in error and "maybe" in error


def test_a_misspelt_field_is_an_error_naming_it(finalize) -> None:
    # The strict schema (mesh.model.authorization.SCHEMA): unknown fields are never ignored.
    error = parse_error(finalize, policy("rules:\n- to:\n  - operation:\n      path: [/x]"))
    assert isinstance(error, UnsupportedField)
    assert "spec.rules[0].to[0].operation.path" in str(error)


# ---------------------------------------------------------------- real Envoy
# Envoy's ports: below the ephemeral range, away from others'.
ENVOY_PORTS = range(23200, 24000)


@dataclass(frozen=True)
class EnvoyCase:
    name: str
    spec: str
    # (method, path, headers, status)
    requests: tuple[tuple[str, str, dict[str, str], int], ...]


ENVOY_CASES = [
    # generator.go methodGenerator (header :method exact); notMethods is its NOT.
    EnvoyCase(
        "methods",
        "rules:\n- to:\n  - operation:\n      methods: [GET, HEAD]\n      notPaths: [/private*]",
        (
            ("GET", "/ok", {}, 200),
            ("POST", "/ok", {}, 403),
            ("GET", "/private/x", {}, 403),
            ("GET", "/%70rivate", {}, 403),  # normalized path (hcm normalize_path)
        ),
    ),
    # builder.go: DENY filter before ALLOW; an allow-all ALLOW does not save a denied request.
    EnvoyCase(
        "deny-before-allow",
        "action: DENY\nrules:\n- to:\n  - operation:\n      paths: [/admin/*, '*.php']\n"
        "      methods: ['*']",
        (("GET", "/admin/x", {}, 403), ("GET", "/x.php", {}, 403), ("GET", "/admin", {}, 200)),
    ),
    # model.go New: `when` request.headers[...] → principal header matcher (header.go).
    EnvoyCase(
        "when-header",
        "rules:\n- when:\n  - key: request.headers[x-token]\n    values: ['secret-*']\n"
        "    notValues: [secret-revoked]",
        (
            ("GET", "/", {"x-token": "secret-1"}, 200),
            ("GET", "/", {"x-token": "secret-revoked"}, 403),
            ("GET", "/", {}, 403),
        ),
    ),
    # matcher/template.go PathTemplateMatcher: {*} one segment, {**} the rest.
    EnvoyCase(
        "path-template",
        "rules:\n- to:\n  - operation:\n      paths: ['/api/{*}/items', '/static/{**}']",
        (
            ("GET", "/api/v1/items", {}, 200),
            ("GET", "/api/v1/v2/items", {}, 403),
            ("GET", "/static/a/b/c.css", {}, 200),
            ("GET", "/other", {}, 403),
        ),
    ),
    # builder.go isDryRun: a dry-run DENY-all only fills shadow rules: nothing is denied.
    EnvoyCase(
        "dry-run",
        "action: DENY\nrules:\n- {}",
        (("GET", "/", {}, 200), ("DELETE", "/x", {}, 200)),
    ),
    # generator.go hostGenerator: :authority, case-insensitive, `*` suffix/prefix.
    EnvoyCase(
        "hosts",
        "rules:\n- to:\n  - operation:\n      hosts: ['voting-app*', '*.example.com']",
        (
            ("GET", "/", {"Host": "voting-app:8080"}, 200),
            ("GET", "/", {"Host": "API.EXAMPLE.COM"}, 200),
            ("GET", "/", {"Host": "evil.test"}, 403),
        ),
    ),
    # generator.go srcIPGenerator (direct_remote_ip) and srcPrincipalGenerator: plaintext
    # requests come from 127.0.0.1 and carry no principal.
    EnvoyCase(
        "ip-blocks-and-principals",
        "rules:\n- from:\n  - source:\n      ipBlocks: [127.0.0.0/8]\n      notIpBlocks: [127.0.0.2]\n"
        "  to:\n  - operation:\n      paths: [/ip]\n"
        "- from:\n  - source:\n      principals: ['*']\n  to:\n  - operation:\n      paths: [/mtls]",
        (("GET", "/ip", {}, 200), ("GET", "/mtls", {}, 403)),
    ),
    # generator.go srcPrincipalGenerator / srcNamespaceGenerator over mutual TLS: the
    # principal is the client certificate's SPIFFE id (test_real_envoy_matches_principals...).
    EnvoyCase(
        "mtls-principals",
        "rules:\n- from:\n  - source:\n      principals: [cluster.local/ns/voting/sa/voting-analytics]\n"
        "- from:\n  - source:\n      namespaces: [istio-*]\n  to:\n  - operation:\n      paths: [/gw]",
        (("GET", "/", {}, 403),),
    ),
    # destPortGenerator: the container port (8080) is this listener; 9999 is not.
    EnvoyCase(
        "ports",
        "rules:\n- to:\n  - operation:\n      ports: ['8080']\n      paths: [/p]\n"
        "- to:\n  - operation:\n      ports: ['9999']\n      paths: [/q]",
        (("GET", "/p", {}, 200), ("GET", "/q", {}, 403)),
    ),
]

PERMISSIVE = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: voting-app-permissive
  namespace: voting
spec:
  selector:
    matchLabels:
      app: voting-app
  mtls:
    mode: PERMISSIVE
"""


class App:
    """A tiny aiohttp app on its own thread and loop: 200 for every request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None

    async def _start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(text=f"app {request.method} {request.path}")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def request(port: int, method: str, path: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def mtls_request(port: int, cert: Any, path: str) -> int:
    """A request over the mutual-TLS chain with `cert` (an IssuedCert) as client identity."""
    context = ssl.create_default_context(cafile=str(cert.ca))
    context.check_hostname = False  # workload certificates carry a SPIFFE URI, no DNS name
    context.load_cert_chain(str(cert.cert), str(cert.key))
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def _admin_ready(port: int) -> bool:
    try:
        return request(port, "GET", "/ready", {}) == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def envoy(
    finalize: list[dict[str, Any]], ca: LocalCA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, int]]:
    """One Envoy with one compiled voting-app inbound listener per case; case name → port."""
    directory = tmp_path_factory.mktemp("authz-envoy")
    app_port, admin_port, *listener_ports = free_ports_in(ENVOY_PORTS, 2 + len(ENVOY_CASES))
    base = step_without_policies(finalize)
    listeners, clusters = [], {}
    ports = {}
    for case, port in zip(ENVOY_CASES, listener_ports, strict=True):
        docs = (
            PERMISSIVE
            + "---\n"
            + policy("selector:\n  matchLabels:\n    app: voting-app\n" + case.spec, case.name)
        )
        if case.name == "dry-run":
            docs = docs.replace(
                f"  name: {case.name}\n",
                f"  name: {case.name}\n  annotations:\n    istio.io/dry-run: 'true'\n",
            )
        resources = with_docs(base, docs)
        workload = next(w for w in resources.mesh_workloads() if w.app == "voting-app")
        pod = Pod(f"voting-app-{case.name}", workload, app_port, port, port, port)
        view = MeshView(
            resources, (pod,), {pod.name: ca.issue("voting", workload.service_account, pod.name)}
        )
        listener, pod_clusters = compile_inbound(view, pod)
        listener["name"] = f"inbound-{case.name}"
        listeners.append(listener)
        clusters.update({c["name"]: c for c in pod_clusters})
        ports[case.name] = port
    bootstrap = {
        "node": {"id": "authz-conformance", "cluster": "authz-conformance"},
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
        },
        "static_resources": {
            "listeners": [{k: v for k, v in x.items() if k != "@type"} for x in listeners],
            "clusters": [{k: v for k, v in c.items() if k != "@type"} for c in clusters.values()],
        },
    }
    (directory / "bootstrap.json").write_text(json.dumps(bootstrap, indent=1))
    log = directory / "envoy.log"
    app = App(app_port)
    process = None
    try:
        app.start()
        with log.open("w") as out:
            process = subprocess.Popen(
                [
                    envoy_binary(),
                    "-c",
                    str(directory / "bootstrap.json"),
                    "--concurrency",
                    "1",
                    "--base-id",
                    str(20000 + os.getpid() % 10000),
                    "-l",
                    "error",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not _admin_ready(admin_port):
            if process.poll() is not None:
                pytest.fail(f"Envoy exited ({process.returncode}): {log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"Envoy not ready in 60s: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield ports
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        app.stop()


@pytest.mark.parametrize("case", ENVOY_CASES, ids=[c.name for c in ENVOY_CASES])
def test_real_envoy_enforces_the_compiled_policy(envoy: dict[str, int], case: EnvoyCase) -> None:
    outcomes = [
        (method, path, request(envoy[case.name], method, path, headers))
        for method, path, headers, _ in case.requests
    ]
    assert outcomes == [(method, path, status) for method, path, _, status in case.requests]


def test_real_envoy_matches_principals_and_namespaces_on_the_mtls_chain(
    envoy: dict[str, int], ca: LocalCA
) -> None:
    # model.go New: principals → authenticated principal_name spiffe://<principal>;
    # namespaces → regex .*/ns/<ns>/.*, both read from the verified client certificate.
    port = envoy["mtls-principals"]
    analytics = ca.issue("voting", "voting-analytics", "client-analytics")
    storage = ca.issue("voting", "voting-storage", "client-storage")
    gateway = ca.issue("istio-system", "istio-ingressgateway-service-account", "client-gw")
    assert mtls_request(port, analytics, "/") == 200
    assert mtls_request(port, storage, "/") == 403
    assert mtls_request(port, gateway, "/gw") == 200
    assert mtls_request(port, gateway, "/other") == 403
