"""RequestAuthentication: the JWTs a workload accepts (security/v1beta1).

Field semantics from istio/api security/v1beta1/request_authentication.proto; validation after
pkg/config/validation/validation.go (ValidateRequestAuthentication, validateJwtRule). A token
that is present must be valid (else 401); a request without one passes authentication, and an
AuthorizationPolicy on `requestPrincipals` is what requires it. What istiod makes of it is
mesh/local/envoy/jwt.py (pilot/pkg/security/authn/policy_applier.go).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mesh.model.errors import InvalidResource
from mesh.model.fields import LEAF, labels

SCHEMA = {
    "spec": {
        "selector": {"matchLabels": LEAF},
        "jwtRules": [
            {
                "issuer": LEAF,
                "audiences": LEAF,
                "jwks": LEAF,
                "fromHeaders": [{"name": LEAF, "prefix": LEAF}],
                "fromParams": LEAF,
                "fromCookies": LEAF,
                "outputPayloadToHeader": LEAF,
                "outputClaimToHeaders": [{"header": LEAF, "claim": LEAF}],
                "forwardOriginalToken": LEAF,
            }
        ],
    },
}
"""`jwksUri` and `timeout` are refused: the local mesh fetches nothing (inline `jwks` only)."""


@dataclass(frozen=True)
class JwtRule:
    issuer: str
    jwks: str
    audiences: tuple[str, ...] = ()
    from_headers: tuple[tuple[str, str], ...] = ()  # (name, prefix)
    from_params: tuple[str, ...] = ()
    from_cookies: tuple[str, ...] = ()
    output_payload_to_header: str | None = None
    output_claim_to_headers: tuple[tuple[str, str], ...] = ()  # (header, claim)
    forward_original_token: bool = False


@dataclass(frozen=True)
class RequestAuthentication:
    name: str
    namespace: str
    selector: tuple[tuple[str, str], ...] | None
    rules: tuple[JwtRule, ...]


def _strings(value: Any, where: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidResource(f"{where}: must be a list of strings")
    if any(not v for v in value):
        raise InvalidResource(f"{where}: {what} must be non-empty string")
    return tuple(value)


def _check_jwks(text: Any, where: str) -> str:
    """validateJwtRule: `jwk.Parse` must read it: a JSON key set with keys, each with `kty`."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidResource(
            f"{where}: an inline key set is required locally (the local mesh fetches no jwksUri)"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidResource(f"{where}: jwks parse error: {exc}") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        raise InvalidResource(f"{where}: jwks parse error: a key set needs a non-empty `keys`")
    for index, key in enumerate(keys):
        if not isinstance(key, dict) or not key.get("kty"):
            raise InvalidResource(f"{where}: jwks parse error: keys[{index}] has no `kty`")
    return text


def _rule(raw: dict[str, Any], where: str) -> JwtRule:
    issuer = raw.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidResource(f"{where}.issuer: issuer or jwksUri must be non-empty string")
    headers = []
    for index, location in enumerate(raw.get("fromHeaders") or []):
        if not isinstance(location, dict) or not location.get("name"):
            raise InvalidResource(
                f"{where}.fromHeaders[{index}]: location header name must be non-empty string"
            )
        headers.append((str(location["name"]), str(location.get("prefix", ""))))
    claims = []
    for index, entry in enumerate(raw.get("outputClaimToHeaders") or []):
        if not isinstance(entry, dict) or not entry.get("header") or not entry.get("claim"):
            raise InvalidResource(
                f"{where}.outputClaimToHeaders[{index}]: header and claim value must be "
                "non-empty string"
            )
        claims.append((str(entry["header"]), str(entry["claim"])))
    forward = raw.get("forwardOriginalToken", False)
    if not isinstance(forward, bool):
        raise InvalidResource(f"{where}.forwardOriginalToken: must be true or false")
    return JwtRule(
        issuer=issuer,
        jwks=_check_jwks(raw.get("jwks"), f"{where}.jwks"),
        audiences=_strings(raw.get("audiences"), f"{where}.audiences", "audience"),
        from_headers=tuple(headers),
        from_params=_strings(raw.get("fromParams"), f"{where}.fromParams", "location query"),
        from_cookies=_strings(raw.get("fromCookies"), f"{where}.fromCookies", "cookie name"),
        output_payload_to_header=raw.get("outputPayloadToHeader") or None,
        output_claim_to_headers=tuple(claims),
        forward_original_token=forward,
    )


def parse_request_authentication(
    name: str, spec: dict[str, Any], namespace: str, resource: str
) -> RequestAuthentication:
    selector = (spec.get("selector") or {}).get("matchLabels")
    rules = spec.get("jwtRules") or []
    return RequestAuthentication(
        name=name,
        namespace=namespace,
        selector=labels(selector) if selector else None,
        rules=tuple(_rule(r, f"{resource}: spec.jwtRules[{i}]") for i, r in enumerate(rules)),
    )
