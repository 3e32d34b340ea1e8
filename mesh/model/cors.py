"""A rule's `corsPolicy`, after istio/api virtual_service.proto CorsPolicy.

Validation after pkg/config/validation/validation.go (validateCORSPolicy, validateAllowOrigins,
validateCORSHTTPMethod, ValidateCORSHTTPHeaderName); what istiod makes of it is
mesh/local/envoy/http_actions.py cors_config (route.go TranslateCORSPolicy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mesh.model.errors import InvalidResource
from mesh.model.fields import LEAF, StringMatch, parse_duration, string_match

CORS_SCHEMA = {
    "allowOrigins": [{"exact": LEAF, "prefix": LEAF, "regex": LEAF}],
    "allowOrigin": LEAF,
    "allowMethods": LEAF,
    "allowHeaders": LEAF,
    "exposeHeaders": LEAF,
    "maxAge": LEAF,
    "allowCredentials": LEAF,
    "unmatchedPreflights": LEAF,
}
# validation.go supportedCORSMethods
CORS_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"}
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # validation.go validHeaderNameRegex


@dataclass(frozen=True)
class CorsPolicy:
    """A rule's `corsPolicy`: answered (preflights) and decorated by the proxy's CORS filter."""

    allow_origins: tuple[StringMatch, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_s: int | None = None
    allow_credentials: bool | None = None
    unmatched_preflights: str = "UNSPECIFIED"


def _names(data: Any, key: str, where: str) -> tuple[str, ...]:
    names = data.get(key) or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidResource(f"{where}.{key}: must be a list of strings")
    return tuple(names)


def parse_cors(data: Any, where: str) -> CorsPolicy | None:
    """validation.go validateCORSPolicy (origins, methods, header names, maxAge in seconds);
    route.go TranslateCORSPolicy reads `allowOrigins`, else the deprecated `allowOrigin`."""
    if data is None:
        return None
    if data.get("allowOrigins") is not None:
        origins = []
        for index, entry in enumerate(data["allowOrigins"]):
            at = f"{where}.allowOrigins[{index}]"
            if not isinstance(entry, dict) or not any(entry.values()):
                raise InvalidResource(f"{at}: is not a valid match type for CORS allow origins")
            origins.append(string_match(entry, at))
    else:  # allowOrigin: exact strings (util.StringToExactMatch)
        origins = [StringMatch("exact", o) for o in _names(data, "allowOrigin", where)]
    methods = _names(data, "allowMethods", where)
    for method in methods:
        if method not in CORS_METHODS:
            raise InvalidResource(
                f"{where}.allowMethods: {method!r} is not a supported HTTP method"
            )
    headers = {key: _names(data, key, where) for key in ("allowHeaders", "exposeHeaders")}
    for key, names in headers.items():
        for name in names:
            if name != "*" and not _TOKEN.match(name):
                raise InvalidResource(
                    f"{where}.{key}: header name {name!r} is not a valid header name"
                )
    max_age = None
    if data.get("maxAge") is not None:
        seconds = parse_duration(data["maxAge"], f"{where}.maxAge")
        if seconds != int(seconds):
            raise InvalidResource(
                f"{where}.maxAge: max_age duration is accurate only to seconds precision"
            )
        max_age = int(seconds)
    preflights = data.get("unmatchedPreflights", "UNSPECIFIED")
    if preflights not in ("UNSPECIFIED", "FORWARD", "IGNORE"):
        raise InvalidResource(
            f"{where}.unmatchedPreflights: {preflights!r} is not UNSPECIFIED, FORWARD or IGNORE"
        )
    credentials = data.get("allowCredentials")
    if credentials is not None and not isinstance(credentials, bool):
        raise InvalidResource(f"{where}.allowCredentials: must be true or false")
    return CorsPolicy(
        tuple(origins),
        methods,
        headers["allowHeaders"],
        headers["exposeHeaders"],
        max_age,
        credentials,
        preflights,
    )
