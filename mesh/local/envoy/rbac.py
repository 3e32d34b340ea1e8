"""AuthorizationPolicy as Envoy's RBAC HTTP filter, as istiod builds it (pilot/pkg/security/authz)."""

from __future__ import annotations

from typing import Any

from mesh.local.envoy.common import T_RBAC
from mesh.model.kinds import ROOT_NAMESPACE
from mesh.model.resources import AuthorizationPolicy, MeshResources, Operation


def _principal_matcher(principal: str) -> dict[str, Any]:
    if principal == "*":
        return {"authenticated": {"principal_name": {"prefix": "spiffe://"}}}
    if principal.endswith("*"):
        return {"authenticated": {"principal_name": {"prefix": "spiffe://" + principal[:-1]}}}
    if principal.startswith("*"):
        return {"authenticated": {"principal_name": {"suffix": principal[1:]}}}
    return {"authenticated": {"principal_name": {"exact": "spiffe://" + principal}}}


def _path_matcher(path: str) -> dict[str, Any]:
    """Istio path values: exact, `prefix*`, `*suffix` or `*`."""
    if path == "*":
        matcher: dict[str, Any] = {"prefix": "/"}
    elif path.endswith("*"):
        matcher = {"prefix": path[:-1]}
    elif path.startswith("*"):
        matcher = {"suffix": path[1:]}
    else:
        matcher = {"exact": path}
    return {"url_path": {"path": matcher}}


def _method_matcher(method: str) -> dict[str, Any]:
    return {"header": {"name": ":method", "string_match": {"exact": method}}}


def _any_of(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return rules[0] if len(rules) == 1 else {"or_rules": {"rules": rules}}


def _permission(operation: Operation) -> dict[str, Any]:
    """All of an operation's fields must hold; within a field, any value."""
    conditions = []
    if operation.paths:
        conditions.append(_any_of([_path_matcher(p) for p in operation.paths]))
    if operation.not_paths:
        conditions.append({"not_rule": _any_of([_path_matcher(p) for p in operation.not_paths])})
    if operation.methods:
        conditions.append(_any_of([_method_matcher(m) for m in operation.methods]))
    if operation.not_methods:
        conditions.append(
            {"not_rule": _any_of([_method_matcher(m) for m in operation.not_methods])}
        )
    if not conditions:
        return {"any": True}
    return conditions[0] if len(conditions) == 1 else {"and_rules": {"rules": conditions}}


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
        and (p.selector is None or all(labels.get(k) == v for k, v in p.selector))
    ]


def rbac_filter(
    resources: MeshResources, labels: dict[str, str], namespace: str
) -> dict[str, Any] | None:
    """ALLOW AuthorizationPolicies selecting the workload; with any of them, others get 403.

    Like istiod: one RBAC policy per rule, a request is allowed when some rule matches both
    one of its sources and one of its operations; a policy without rules allows nothing.
    """
    policies = policies_for(resources, labels, namespace)
    if not policies:
        return None
    rules = {
        f"ns[{p.namespace}]-policy[{p.name}]-rule[{index}]": {
            "permissions": [_permission(op) for op in rule.operations] or [{"any": True}],
            "principals": [{"any": True}]
            if rule.principals is None
            else [_principal_matcher(x) for x in rule.principals] or [{"not_id": {"any": True}}],
        }
        for p in policies
        for index, rule in enumerate(p.rules)
    }
    return {
        "name": "envoy.filters.http.rbac",
        "typed_config": {"@type": T_RBAC, "rules": {"action": "ALLOW", "policies": rules}},
    }
