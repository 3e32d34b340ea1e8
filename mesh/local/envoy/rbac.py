"""AuthorizationPolicy as Envoy's RBAC HTTP filters, as istiod builds them (pilot/pkg/security/authz).

builder/builder.go `build`: one RBAC filter per action, DENY before ALLOW (AUDIT and CUSTOM are
refused by mesh.model.authorization), each holding the enforced `rules` and the dry-run
`shadow_rules`; one RBAC policy per rule, named `ns[<ns>]-policy[<name>]-rule[<i>]`, an ALLOW
policy without rules a policy that never matches. model/model.go `New`/`Generate`: a rule's
`from` entries are its principals and its `to` entries its permissions, each the AND of the
fields given, each field the OR of its values and the NOT of the OR of its notValues; `when`
conditions are ANDed into every principal (source.*, remote.ip, request.headers) or every
permission (destination.*, connection.sni). The matchers follow model/generator.go and
matcher/{string,header,template}.go.

One difference from a cluster: the local mesh listens on loopback ports of its own, so the
ports a policy names (`to.operation.ports`, `destination.port`) are the workload's container
port and are compiled to the local listener port that stands for it (`ports` argument).
"""

from __future__ import annotations

from typing import Any

from mesh.local.envoy.common import T_RBAC
from mesh.model.authorization import (
    AuthorizationPolicy,
    AuthzRule,
    Condition,
    Operation,
    Source,
)
from mesh.model.authorization_checks import cidr, contains_path_template
from mesh.model.kinds import ROOT_NAMESPACE
from mesh.model.policy import selects
from mesh.model.resources import MeshResources

RBAC_FILTER = "envoy.filters.http.rbac"
T_URI_TEMPLATE = (
    "type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig"
)
SHADOW_PREFIX = {"ALLOW": "istio_dry_run_allow_", "DENY": "istio_dry_run_deny_"}
SPIFFE_PREFIX = "spiffe://"
_GO_META = str.maketrans({c: "\\" + c for c in "\\.+*?()|[]{}^$"})

Json = dict[str, Any]


def _quote_meta(value: str) -> str:
    """Go's regexp.QuoteMeta."""
    return value.translate(_GO_META)


# ---------------------------------------------------------------- matcher/*.go
def string_matcher(value: str, prefix: str = "", ignore_case: bool = False) -> Json:
    """matcher/string.go StringMatcherWithPrefix: `*` any, `*x` suffix, `x*` prefix, exact."""
    case = {"ignore_case": True} if ignore_case else {}
    if value == "*":
        return {"safe_regex": {"regex": ".+"}}
    if value.startswith("*"):
        if not prefix:
            return {"suffix": value[1:], **case}
        return {"safe_regex": {"regex": prefix + ".*" + _quote_meta(value[1:])}}
    if value.endswith("*"):
        return {"prefix": prefix + value[:-1], **case}
    return {"exact": prefix + value, **case}


def header_matcher(name: str, value: str, ignore_case: bool = False) -> Json:
    """matcher/header.go HeaderMatcher (HostMatcher: ignore_case): `*` is a presence match."""
    if value == "*":
        return {"name": name, "present_match": True}
    case = {"ignore_case": True} if ignore_case else {}
    if value.startswith("*"):
        return {"name": name, "string_match": {"suffix": value[1:], **case}}
    if value.endswith("*"):
        return {"name": name, "string_match": {"prefix": value[:-1], **case}}
    return {"name": name, "string_match": {"exact": value, **case}}


def _cidr(value: str) -> Json:
    address, bits = cidr(value)
    return {"address_prefix": address, "prefix_len": bits}


def _authenticated(matcher: Json) -> Json:
    return {"authenticated": {"principal_name": matcher}}


# ---------------------------------------------------------------- model/generator.go
def _path(value: str) -> Json:
    if contains_path_template(value):
        template = value.replace("{**}", "**").replace("{*}", "*")
        return {
            "uri_template": {
                "name": "uri-template",
                "typed_config": {"@type": T_URI_TEMPLATE, "path_template": template},
            }
        }
    return {"url_path": {"path": string_matcher(value)}}


def _namespace(value: str) -> Json:
    regex = ".*".join(_quote_meta(part) for part in value.split("*"))
    return _authenticated({"safe_regex": {"regex": f".*/ns/{regex}/.*"}})


def _service_account(policy_namespace: str) -> Any:
    def generate(value: str) -> Json:
        ns, slash, sa = value.partition("/")
        if not slash:
            ns, sa = policy_namespace, value
        regex = f"spiffe://.+/ns/{_quote_meta(ns)}/(.+/|)sa/{_quote_meta(sa)}(/.+)?"
        return _authenticated({"safe_regex": {"regex": regex}})

    return generate


def _trust_domain(value: str) -> Json:
    if value == "*":
        return _authenticated({"prefix": SPIFFE_PREFIX})
    if "*" not in value:
        return _authenticated({"prefix": f"{SPIFFE_PREFIX}{value}/"})
    head, tail = value.split("*", 1)
    regex = f"spiffe://{_quote_meta(head)}[^/]*{_quote_meta(tail)}/.*"
    return _authenticated({"safe_regex": {"regex": regex}})


def _principal(value: str) -> Json:
    return _authenticated(string_matcher(value, SPIFFE_PREFIX))


JWT_FILTER = "envoy.filters.http.jwt_authn"
JWT_PAYLOAD = "payload"  # the jwt_authn filter's payload_in_metadata (policy_applier.go)


def _claim(claim: str, value: Json) -> Json:
    path = [{"key": JWT_PAYLOAD}, {"key": claim}]
    return {"metadata": {"filter": JWT_FILTER, "path": path, "value": value}}


def _request_principal(value: str) -> Json:
    """A JWT's `<iss>/<sub>` (Istio: istio_authn's request.auth.principal). Plain Envoy has no
    istio_authn filter, so the local mesh matches the validated payload's claims instead:
    `*` any validated token, `<iss>/*` any subject of the issuer, else both exactly."""
    if value == "*":
        return _claim("iss", {"present_match": True})
    issuer, subject = value.rsplit("/", 1)
    by_issuer = _claim("iss", {"string_match": {"exact": issuer}})
    if subject == "*":
        return by_issuer
    return {"and_ids": {"ids": [by_issuer, _claim("sub", {"string_match": {"exact": subject}})]}}


def _request_header(key: str) -> Any:
    name = key[len("request.headers") :].removeprefix("[").removesuffix("]")
    return lambda value: {"header": header_matcher(name, value)}


def _port(ports: dict[int, int]) -> Any:
    return lambda value: {"destination_port": ports.get(int(value), int(value))}


# A rule: (values, not_values, generator of one value's matcher).
_Rule = tuple[tuple[str, ...], tuple[str, ...], Any]


def _when_rules(
    when: tuple[Condition, ...], policy_namespace: str, ports: dict[int, int]
) -> tuple[list[_Rule], list[_Rule]]:
    """model.go New: each `when` goes to the permission or to the principal side."""
    permissions: list[_Rule] = []
    principals: list[_Rule] = []
    for c in when:
        k = c.key
        if k == "destination.ip":
            permissions.append((c.values, c.not_values, lambda v: {"destination_ip": _cidr(v)}))
        elif k == "destination.port":
            permissions.append((c.values, c.not_values, _port(ports)))
        elif k == "connection.sni":
            permissions.append(
                (c.values, c.not_values, lambda v: {"requested_server_name": string_matcher(v)})
            )
        elif k == "source.ip":
            principals.append((c.values, c.not_values, lambda v: {"direct_remote_ip": _cidr(v)}))
        elif k == "remote.ip":
            principals.append((c.values, c.not_values, lambda v: {"remote_ip": _cidr(v)}))
        elif k == "source.namespace":
            principals.append((c.values, c.not_values, _namespace))
        elif k == "source.trustDomain":
            principals.append((c.values, c.not_values, _trust_domain))
        elif k == "source.serviceAccount":
            principals.append((c.values, c.not_values, _service_account(policy_namespace)))
        elif k == "source.principal":
            principals.append((c.values, c.not_values, _principal))
        elif k.startswith("request.headers"):
            principals.append((c.values, c.not_values, _request_header(k)))
        else:  # refused or invalid at parse time (mesh.model.authorization)
            raise ValueError(f"unknown attribute {k}")
    return permissions, principals


def _source_rules(source: Source, policy_namespace: str) -> list[_Rule]:
    """model.go New: the order insertFront leaves them in."""
    s = source
    return [
        (s.principals, s.not_principals, _principal),
        (s.request_principals, s.not_request_principals, _request_principal),
        (s.service_accounts, s.not_service_accounts, _service_account(policy_namespace)),
        (s.trust_domains, s.not_trust_domains, _trust_domain),
        (s.namespaces, s.not_namespaces, _namespace),
        (s.remote_ip_blocks, s.not_remote_ip_blocks, lambda v: {"remote_ip": _cidr(v)}),
        (s.ip_blocks, s.not_ip_blocks, lambda v: {"direct_remote_ip": _cidr(v)}),
    ]


def _operation_rules(op: Operation, ports: dict[int, int]) -> list[_Rule]:
    return [
        (op.hosts, op.not_hosts, lambda v: {"header": header_matcher(":authority", v, True)}),
        (op.methods, op.not_methods, lambda v: {"header": header_matcher(":method", v)}),
        (op.paths, op.not_paths, _path),
        (op.ports, op.not_ports, _port(ports)),
    ]


def _combine(rules: list[_Rule], or_key: str, or_list: str, not_key: str, and_key: str) -> Json:
    """model.go generatePermission / generatePrincipal."""
    conditions: list[Json] = []
    for values, not_values, generate in rules:
        if values:
            conditions.append({or_key: {or_list: [generate(v) for v in values]}})
        if not_values:
            conditions.append({not_key: {or_key: {or_list: [generate(v) for v in not_values]}}})
    return {and_key: {or_list: conditions or [{"any": True}]}}


def rbac_policy(
    rule: AuthzRule, policy_namespace: str, ports: dict[int, int] | None = None
) -> Json:
    """One rule as an Envoy RBAC policy (model.go New + Generate, useAuthenticated)."""
    ports = ports or {}
    when_permissions, when_principals = _when_rules(rule.when, policy_namespace, ports)
    operations = rule.operations or (None,)
    sources = rule.sources or (None,)
    permissions = [
        _combine(
            [*(_operation_rules(op, ports) if op else []), *when_permissions],
            "or_rules",
            "rules",
            "not_rule",
            "and_rules",
        )
        for op in operations
    ]
    principals = [
        _combine(
            [*(_source_rules(src, policy_namespace) if src else []), *when_principals],
            "or_ids",
            "ids",
            "not_id",
            "and_ids",
        )
        for src in sources
    ]
    return {"permissions": permissions, "principals": principals}


# builder.go rbacPolicyMatchNever: an ALLOW policy without rules.
MATCH_NEVER: Json = {
    "permissions": [{"not_rule": {"any": True}}],
    "principals": [{"not_id": {"any": True}}],
}


def policies_for(
    resources: MeshResources, labels: dict[str, str], namespace: str
) -> list[AuthorizationPolicy]:
    """The AuthorizationPolicies that apply to a workload of `namespace` with `labels`.

    After pilot/pkg/model/authorization.go ListAuthorizationPolicies and
    policyattachment.go isSelected: policies of the workload's own namespace and of the root
    namespace, whose selector is absent or a subset of the workload's labels. A policy of
    another namespace never applies; a gateway is a workload like any other.
    """
    return [
        p
        for p in resources.authorization_policies
        if p.namespace in (namespace, ROOT_NAMESPACE)
        and (p.selector is None or selects(p.selector, labels))
    ]


def _policy_name(policy: AuthorizationPolicy, index: int) -> str:
    return f"ns[{policy.namespace}]-policy[{policy.name}]-rule[{index}]"


def _filter(action: str, policies: list[AuthorizationPolicy], ports: dict[int, int]) -> Json:
    """builder.go build + buildHTTP for one action."""
    enforced: dict[str, Json] = {}
    shadow: dict[str, Json] = {}
    has_enforced = has_shadow = False
    for policy in policies:
        target = shadow if policy.dry_run else enforced
        if policy.dry_run:
            has_shadow = True
        else:
            has_enforced = True
        for index, rule in enumerate(policy.rules):
            target[_policy_name(policy, index)] = rbac_policy(rule, policy.namespace, ports)
        if not policy.rules:
            target[_policy_name(policy, 0)] = MATCH_NEVER
    config: Json = {"@type": T_RBAC}
    # protojson leaves out the default action (ALLOW), as in Istio's testdata.
    head = {} if action == "ALLOW" else {"action": action}
    if has_enforced:
        config["rules"] = {**head, "policies": enforced}
    if has_shadow:
        config["shadow_rules"] = {**head, "policies": shadow}
    # shadowRuleStatPrefix(nil) reads the nil RBAC's default action: ALLOW's prefix.
    config["shadow_rules_stat_prefix"] = SHADOW_PREFIX[action if has_shadow else "ALLOW"]
    return {"name": RBAC_FILTER, "typed_config": config}


def rbac_filters(
    resources: MeshResources,
    labels: dict[str, str],
    namespace: str,
    ports: dict[int, int] | None = None,
) -> list[Json]:
    """The RBAC filters of a workload's HTTP listener: DENY first, then ALLOW (builder.go).

    With an enforced ALLOW policy in force, a request no ALLOW rule matches gets 403; a DENY
    rule that matches gives 403 whatever the ALLOW policies say. `ports`: container port →
    the local listener port that stands for it.
    """
    policies = policies_for(resources, labels, namespace)
    filters = []
    for action in ("DENY", "ALLOW"):
        selected = [p for p in policies if p.action == action]
        if selected:
            filters.append(_filter(action, selected, ports or {}))
    return filters
