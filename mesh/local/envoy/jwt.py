"""RequestAuthentication as Envoy's jwt_authn filter, after pilot/pkg/security/authn.

policy_applier.go convertToEnvoyJwtConfig: one provider `origins-<i>` per jwtRule (inline
key set, issuer, audiences, where the token is looked for, the payload kept in metadata for
the RBAC filter); a token that is present must satisfy some provider, a request without one
passes (`allow_missing`): requiring a token is an AuthorizationPolicy's job. The filter comes
before the RBAC filters, as istiod orders an HTTP chain's authn and authz filters.
"""

from __future__ import annotations

from typing import Any

from mesh.local.envoy.rbac import JWT_FILTER, JWT_PAYLOAD
from mesh.model.kinds import ROOT_NAMESPACE
from mesh.model.policy import selects
from mesh.model.request_authentication import JwtRule, RequestAuthentication
from mesh.model.resources import MeshResources

T_JWT = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
SPACE_DELIMITED_CLAIMS = ["permission", "scope"]  # buildSpaceDelimitedClaims' defaults


def request_authentications_for(
    resources: MeshResources, labels: dict[str, str], namespace: str
) -> list[RequestAuthentication]:
    """Those of the workload's namespace and of the root one whose selector it matches
    (pilot/pkg/model/authentication.go GetJwtPoliciesForWorkload), oldest first."""
    return [
        p
        for p in resources.request_authentications
        if p.namespace in (namespace, ROOT_NAMESPACE)
        and (p.selector is None or selects(p.selector, labels))
    ]


def _provider(rule: JwtRule) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "issuer": rule.issuer,
        "local_jwks": {"inline_string": rule.jwks},
        "payload_in_metadata": JWT_PAYLOAD,
        "normalize_payload_in_metadata": {"space_delimited_claims": SPACE_DELIMITED_CLAIMS},
    }
    if rule.audiences:
        provider["audiences"] = list(rule.audiences)
    if rule.forward_original_token:
        provider["forward"] = True
    if rule.output_payload_to_header:
        provider["forward_payload_header"] = rule.output_payload_to_header
    if rule.output_claim_to_headers:
        provider["claim_to_headers"] = [
            {"header_name": header, "claim_name": claim}
            for header, claim in rule.output_claim_to_headers
        ]
    if rule.from_headers:
        provider["from_headers"] = [
            {"name": name, "value_prefix": prefix} if prefix else {"name": name}
            for name, prefix in rule.from_headers
        ]
    if rule.from_params:
        provider["from_params"] = list(rule.from_params)
    if rule.from_cookies:
        provider["from_cookies"] = list(rule.from_cookies)
    return provider


def jwt_filters(resources: MeshResources, labels: dict[str, str], namespace: str) -> list[Any]:
    """The jwt_authn filter for a workload's HTTP chain, or none without a JWT rule."""
    rules = [r for p in request_authentications_for(resources, labels, namespace) for r in p.rules]
    if not rules:
        return []
    names = [f"origins-{i}" for i in range(len(rules))]
    providers = {name: _provider(rule) for name, rule in zip(names, rules, strict=True)}
    either = [
        {"requires_any": {"requirements": [{"provider_name": n}, {"allow_missing": {}}]}}
        for n in names
    ]
    if len(either) == 1:
        requires = either[0]
    else:  # {P1, P2, …, AND of {OR{P1, allow_missing}, OR{P2, allow_missing}, …}}
        requires = {
            "requires_any": {
                "requirements": [
                    *({"provider_name": n} for n in names),
                    {"requires_all": {"requirements": either}},
                ]
            }
        }
    config = {
        "@type": T_JWT,
        "providers": providers,
        "rules": [{"match": {"prefix": "/"}, "requires": requires}],
        "bypass_cors_preflight": True,
    }
    return [{"name": JWT_FILTER, "typed_config": config}]
