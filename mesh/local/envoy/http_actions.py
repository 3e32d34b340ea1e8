"""A rule's redirect, direct response, rewrite and authority as Envoy route fields.

After pilot/pkg/networking/core/route/route.go: ApplyRedirect, ApplyDirectResponse and the
rewrite part of applyHTTPRouteDestination.
"""

from __future__ import annotations

import base64
from typing import Any

from mesh.model.cors import CorsPolicy
from mesh.model.http_actions import DirectResponse, Redirect, Rewrite

# route.go DefaultMaxDirectResponseBodySizeBytes: istiod raises Envoy's 4 KB default to 1 MB.
MAX_DIRECT_RESPONSE_BODY_BYTES = 1024 * 1024

_REDIRECT_CODES = {
    301: "MOVED_PERMANENTLY",
    302: "FOUND",
    303: "SEE_OTHER",
    307: "TEMPORARY_REDIRECT",
    308: "PERMANENT_REDIRECT",
}


def redirect_action(redirect: Redirect, port: int | None, tls: bool = False) -> dict[str, Any]:
    """route.go ApplyRedirect: path or prefix, host, scheme, port (no :80 for http, no :443
    for https), and the response code."""
    action: dict[str, Any] = {}
    if redirect.authority:
        action["host_redirect"] = redirect.authority
    if redirect.prefix_rewrite:
        action["prefix_rewrite"] = redirect.prefix_rewrite
    elif redirect.uri:
        action["path_redirect"] = redirect.uri
    if redirect.scheme:
        action["scheme_redirect"] = redirect.scheme
    if redirect.port is not None or redirect.derive_port is not None:
        to_port = redirect.port or 0
        if redirect.derive_port == "FROM_REQUEST_PORT" and port is not None:
            to_port = port  # Envoy cannot derive it; istiod writes the listener's port
        scheme = redirect.scheme or ("https" if tls else "http")
        if (to_port, scheme) in ((80, "http"), (443, "https")):
            to_port = 0
        if to_port:
            action["port_redirect"] = to_port
    action["response_code"] = _REDIRECT_CODES[redirect.code]
    return {"redirect": action}


def direct_response_action(response: DirectResponse) -> dict[str, Any]:
    """route.go ApplyDirectResponse: the status, and the body inline (string or bytes)."""
    action: dict[str, Any] = {"status": response.status}
    if response.body is not None:
        action["body"] = (
            {"inline_string": response.body.decode()}
            if response.body_is_text
            else {"inline_bytes": base64.b64encode(response.body).decode()}
        )
    return {"direct_response": action}


def rewrite_fields(rewrite: Rewrite | None, authority: str | None) -> dict[str, Any]:
    """applyHTTPRouteDestination: uriRegexRewrite, else uri as a prefix rewrite; the authority
    (rewrite's, else the rule's headers') as a literal host rewrite."""
    fields: dict[str, Any] = {}
    if rewrite is not None:
        if rewrite.uri_regex is not None:
            match, substitution = rewrite.uri_regex
            fields["regex_rewrite"] = {"pattern": {"regex": match}, "substitution": substitution}
        elif rewrite.uri:
            fields["prefix_rewrite"] = rewrite.uri
        authority = rewrite.authority or authority
    if authority:
        fields["host_rewrite_literal"] = authority
    return fields


T_CORS = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy"
# listener_builder.go: every HTTP filter chain has the CORS filter after the fault filter;
# without a route's policy it does nothing.
CORS_FILTER = {
    "name": "envoy.filters.http.cors",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"},
}


def cors_config(policy: CorsPolicy) -> dict[str, Any]:
    """route.go TranslateCORSPolicy: origins as string matchers, lists joined by commas, maxAge
    in seconds, always enabled, unmatched preflights forwarded unless IGNORE."""
    config: dict[str, Any] = {
        "@type": T_CORS,
        "allow_origin_string_match": [
            {"safe_regex": {"regex": o.value}} if o.kind == "regex" else {o.kind: o.value}
            for o in policy.allow_origins
        ],
        "filter_enabled": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
        "forward_not_matching_preflights": policy.unmatched_preflights != "IGNORE",
    }
    for key, values in (
        ("allow_methods", policy.allow_methods),
        ("allow_headers", policy.allow_headers),
        ("expose_headers", policy.expose_headers),
    ):
        if values:
            config[key] = ",".join(values)
    if policy.max_age_s is not None:
        config["max_age"] = str(policy.max_age_s)
    if policy.allow_credentials is not None:
        config["allow_credentials"] = policy.allow_credentials
    return config
