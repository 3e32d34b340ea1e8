"""RequestAuthentication and `requestPrincipals`, as istiod compiles them.

Spec: pilot/pkg/security/authn/policy_applier.go (convertToEnvoyJwtConfig: one provider
`origins-<i>` per jwtRule, `{provider OR allow_missing}`, payload in metadata, CORS preflights
bypassed), pkg/config/validation/validation.go (validateJwtRule), and
pilot/pkg/security/authz/model (requestPrincipals as principals). The local mesh matches the
principal on the validated payload's `iss`/`sub` (plain Envoy has no istio_authn filter).
"""

from __future__ import annotations

import json

import pytest

from mesh.local.ca import LocalCA
from mesh.local.envoy.jwt import T_JWT
from mesh.model.errors import InvalidResource, UnsupportedField
from tests.support.mesh_view import documents, http_filters, ingress, listener, sidecar, view_of

JWKS = json.dumps({"keys": [{"kty": "RSA", "e": "AQAB", "n": "sXch", "kid": "k"}]})
JWT = "envoy.filters.http.jwt_authn"


def authn(rules: str, namespace: str = "istio-system", selector: str = "istio: ingressgateway"):
    select = f"\n  selector:\n    matchLabels: {{{selector}}}" if selector else ""
    return f"""
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: {namespace}}}
spec:{select}
  jwtRules:
{rules}
"""


def rule(issuer: str = "voting-demo@local", extra: str = "") -> str:
    return f"  - issuer: {issuer}\n    jwks: '{JWKS}'{extra}\n"


def require(*principals: str) -> str:
    """An ingress ALLOW policy on these requestPrincipals."""
    return f"""
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: require, namespace: istio-system}}
spec:
  selector: {{matchLabels: {{istio: ingressgateway}}}}
  rules: [{{from: [{{source: {{requestPrincipals: {json.dumps(list(principals))}}}}}]}}]
"""


def gateway_filters(ca: LocalCA, extra: str) -> list[dict]:
    view = view_of(documents("lock-down", extra), ca)
    chain = listener(ingress(view), "ingress")["filter_chains"][0]
    return chain["filters"][0]["typed_config"]["http_filters"]


def jwt_config(ca: LocalCA, extra: str) -> dict:
    return next(f for f in gateway_filters(ca, extra) if f["name"] == JWT)["typed_config"]


def test_one_rule_is_one_provider_that_a_present_token_must_satisfy(ca):
    """convertToEnvoyJwtConfig: `origins-0`, requires_any {provider, allow_missing}."""
    config = jwt_config(ca, authn(rule(extra="\n    audiences: [voting]")))
    assert config == {
        "@type": T_JWT,
        "providers": {
            "origins-0": {
                "issuer": "voting-demo@local",
                "audiences": ["voting"],
                "local_jwks": {"inline_string": JWKS},
                "payload_in_metadata": "payload",
                "normalize_payload_in_metadata": {
                    "space_delimited_claims": ["permission", "scope"]
                },
            }
        },
        "rules": [
            {
                "match": {"prefix": "/"},
                "requires": {
                    "requires_any": {
                        "requirements": [{"provider_name": "origins-0"}, {"allow_missing": {}}]
                    }
                },
            }
        ],
        "bypass_cors_preflight": True,
    }


def test_several_rules_any_provider_or_all_of_provider_or_missing(ca):
    """convertToEnvoyJwtConfig: {P1, P2, AND{OR{P1, missing}, OR{P2, missing}}}."""
    config = jwt_config(ca, authn(rule("a@local") + rule("b@local")))
    requirements = config["rules"][0]["requires"]["requires_any"]["requirements"]
    assert requirements[:2] == [{"provider_name": "origins-0"}, {"provider_name": "origins-1"}]
    inner = requirements[2]["requires_all"]["requirements"]
    assert [r["requires_any"]["requirements"][0] for r in inner] == requirements[:2]


def test_token_locations_and_outputs_are_passed_on(ca):
    config = jwt_config(
        ca,
        authn(
            rule(
                extra="""
    fromHeaders: [{name: x-jwt, prefix: "Bearer "}]
    fromParams: [token]
    fromCookies: [session]
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders: [{header: x-voter, claim: sub}]
    forwardOriginalToken: true"""
            )
        ),
    )
    provider = config["providers"]["origins-0"]
    assert provider["from_headers"] == [{"name": "x-jwt", "value_prefix": "Bearer "}]
    assert provider["from_params"] == ["token"]
    assert provider["from_cookies"] == ["session"]
    assert provider["forward_payload_header"] == "x-jwt-payload"
    assert provider["claim_to_headers"] == [{"header_name": "x-voter", "claim_name": "sub"}]
    assert provider["forward"] is True


def test_the_jwt_filter_comes_before_rbac_and_only_where_selected(ca):
    """Authn before authz on the chain; a gateway policy is not a sidecar's."""
    names = [f["name"] for f in gateway_filters(ca, authn(rule()) + "---" + require("*"))]
    assert names.index(JWT) < names.index("envoy.filters.http.rbac")
    view = view_of(documents("lock-down", authn(rule())), ca)
    for chain in http_filters(listener(sidecar(view, "voting-app-1-0"), "inbound")):
        assert JWT not in chain


def test_a_namespace_policy_without_selector_applies_to_its_sidecars(ca):
    view = view_of(documents("lock-down", authn(rule(), "voting", "")), ca)
    chains = http_filters(listener(sidecar(view, "voting-app-1-0"), "inbound"))
    assert all(chain[0] == JWT for chain in chains)


def test_request_principals_match_the_validated_payloads_iss_and_sub(ca):
    """requestPrincipals `<iss>/<sub>`: both claims exact; `<iss>/*`: the issuer; `*`: any."""
    policy = require("voting-demo@local/voter", "a@local/*", "*")
    rbac = next(
        f for f in gateway_filters(ca, authn(rule()) + "---" + policy) if "rbac" in f["name"]
    )
    (rbac_policy,) = rbac["typed_config"]["rules"]["policies"].values()
    ids = json.dumps(rbac_policy["principals"])

    def claim(name: str, value: dict) -> str:
        path = [{"key": "payload"}, {"key": name}]
        return json.dumps({"metadata": {"filter": JWT, "path": path, "value": value}})

    assert claim("iss", {"string_match": {"exact": "voting-demo@local"}}) in ids
    assert claim("sub", {"string_match": {"exact": "voter"}}) in ids
    assert claim("iss", {"string_match": {"exact": "a@local"}}) in ids
    assert claim("iss", {"present_match": True}) in ids


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("  - jwks: '{}'\n", "issuer or jwksUri must be non-empty string"),
        ("  - issuer: a\n    jwks: 'not json'\n", "jwks parse error"),
        ("  - issuer: a\n    jwks: '{\"keys\": []}'\n", "non-empty `keys`"),
        ("  - issuer: a\n", "an inline key set is required locally"),
        (rule(extra="\n    audiences: ['']"), "audience must be non-empty string"),
        (rule(extra="\n    fromHeaders: [{prefix: x}]"), "location header name must be non-empty"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(ca, rules, message):
    """validation.go validateJwtRule."""
    with pytest.raises(InvalidResource, match=message):
        view_of(documents("lock-down", authn(rules)), ca)


def test_jwks_uri_is_refused_by_name(ca):
    """The local mesh fetches nothing: `jwksUri` is an error, never silently unused."""
    with pytest.raises(UnsupportedField, match=r"jwtRules\[0\]\.jwksUri"):
        view_of(documents("lock-down", authn(rule(extra="\n    jwksUri: https://x/jwks"))), ca)
