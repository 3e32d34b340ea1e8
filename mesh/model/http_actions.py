"""What an `http` rule does besides routing: header operations, rewrite, redirect, direct response.

Field semantics from istio/api networking/v1alpha3/virtual_service.proto (Headers,
HTTPRewrite, HTTPRedirect, HTTPDirectResponse); validation after
pkg/config/validation/virtualservice.go (validateHTTPRoute, validateHTTPRouteConflict,
validateAuthorityRewrite) and pkg/config/validation/validation.go (validateHTTPRedirect,
validateHTTPDirectResponse, validateHTTPRewrite, ValidateHTTPHeader*).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from mesh.model.errors import InvalidResource
from mesh.model.fields import LEAF, validate_regex

_HEADER_MAP = {"set": {"*": LEAF}, "add": {"*": LEAF}, "remove": LEAF}
HEADERS_SCHEMA = {"request": _HEADER_MAP, "response": _HEADER_MAP}
REWRITE_SCHEMA = {
    "uri": LEAF,
    "authority": LEAF,
    "uriRegexRewrite": {"match": LEAF, "rewrite": LEAF},
}
REDIRECT_SCHEMA = {
    "uri": LEAF,
    "authority": LEAF,
    "port": LEAF,
    "derivePort": LEAF,
    "scheme": LEAF,
    "redirectCode": LEAF,
    "prefixRewrite": LEAF,
}
DIRECT_RESPONSE_SCHEMA = {"status": LEAF, "body": {"string": LEAF, "bytes": LEAF}}

DIRECT_RESPONSE_MAX_BYTES = 1024 * 1024  # validation.go: "must be less than 1MB"
# validation.go ValidateHTTPHeaderValue: no control characters but tab
_HEADER_VALUE = re.compile("^[^\x00-\x08\x0a-\x1f\x7f]*$")
_VARIABLE = re.compile(r"%[A-Z_0-9]+(\([^)]*\))?(:[0-9]+)?%")


def is_internal(name: str) -> bool:
    """route.go isInternalHeader: pseudo-headers and Host cannot be changed by Envoy."""
    return name.startswith(":") or name.lower() == "host"


def is_authority(name: str) -> bool:
    return name.lower() in (":authority", "host")


def _check_value(value: Any, where: str) -> str:
    """validation.go ValidateHTTPHeaderValue: printable, `%` only escaped or as %VARIABLE%."""
    if not isinstance(value, str):
        raise InvalidResource(f"{where}: a header value must be a string, not {value!r}")
    if not _HEADER_VALUE.match(value):
        raise InvalidResource(f"{where}: header value configuration {value!r} is invalid")
    rest = _VARIABLE.sub("", value.replace("%%", ""))
    if "%" in rest:
        raise InvalidResource(
            f"{where}: header value configuration {value!r}: un-escaped % (write %% for a %)"
        )
    return value


@dataclass(frozen=True)
class HeaderChanges:
    """One side's (request or response) `set`, `add` and `remove`, as route.go keeps them."""

    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()

    def envoy_headers_to_add(self) -> list[dict[str, Any]]:
        """route.go translateAppendHeaders: set overwrites, add appends; internal ones dropped;
        each list sorted by name, sets first."""
        result = []
        for pairs, action in (
            (self.set, "OVERWRITE_IF_EXISTS_OR_ADD"),
            (self.add, "APPEND_IF_EXISTS_OR_ADD"),
        ):
            for key, value in sorted(pairs, key=lambda kv: kv[0]):
                if not is_internal(key):
                    result.append({"header": {"key": key, "value": value}, "append_action": action})
        return result

    def envoy_headers_to_remove(self) -> list[str]:
        return [name for name in self.remove if not is_internal(name)]  # route.go dropInternal


@dataclass(frozen=True)
class HeaderOperations:
    """A `headers` block (rule or destination level)."""

    request: HeaderChanges = HeaderChanges()
    response: HeaderChanges = HeaderChanges()

    @property
    def authority(self) -> str | None:
        """route.go TranslateHeadersOperations: an authority `set` wins over an `add`."""
        found = [v for k, v in self.request.set if is_authority(k)]
        found = found or [v for k, v in self.request.add if is_authority(k)]
        return found[-1] if found else None

    def envoy(self) -> dict[str, Any]:
        """The four Envoy route (or weighted cluster) fields, only those that are non-empty."""
        fields = {
            "request_headers_to_add": self.request.envoy_headers_to_add(),
            "request_headers_to_remove": self.request.envoy_headers_to_remove(),
            "response_headers_to_add": self.response.envoy_headers_to_add(),
            "response_headers_to_remove": self.response.envoy_headers_to_remove(),
        }
        return {key: value for key, value in fields.items() if value}


def _changes(data: Any, where: str, request: bool) -> HeaderChanges:
    data = data or {}
    pairs: dict[str, tuple[tuple[str, str], ...]] = {}
    for op in ("set", "add"):
        entries = data.get(op) or {}
        if not isinstance(entries, dict):
            raise InvalidResource(f"{where}.{op}: must be a mapping of header name to value")
        for name, value in entries.items():
            _check_operation_name(name, f"{where}.{op}", authority_allowed=request)
            _check_value(value, f"{where}.{op}.{name}")
        pairs[op] = tuple(entries.items())
    remove = data.get("remove") or []
    if not isinstance(remove, list):
        raise InvalidResource(f"{where}.remove: must be a list of header names")
    for name in remove:
        _check_operation_name(name, f"{where}.remove", authority_allowed=False)
    return HeaderChanges(set=pairs["set"], add=pairs["add"], remove=tuple(remove))


def _check_operation_name(name: Any, where: str, authority_allowed: bool) -> None:
    """validation.go ValidateHTTPHeader(WithAuthority)OperationName."""
    if not isinstance(name, str) or not name:
        raise InvalidResource(f"{where}: header name cannot be empty")
    if authority_allowed and is_authority(name):
        return
    if name.lower() == "host":
        raise InvalidResource(f"{where}: invalid header {name!r}: cannot set Host header")
    if is_internal(name):
        raise InvalidResource(f'{where}: invalid header {name!r}: header cannot have ":" prefix')


def parse_headers(data: Any, where: str) -> HeaderOperations | None:
    if data is None:
        return None
    return HeaderOperations(
        request=_changes(data.get("request"), f"{where}.request", request=True),
        response=_changes(data.get("response"), f"{where}.response", request=False),
    )


@dataclass(frozen=True)
class Rewrite:
    uri: str | None = None
    uri_regex: tuple[str, str] | None = None  # (match, rewrite)
    authority: str | None = None


def parse_rewrite(data: Any, where: str) -> Rewrite | None:
    """validation.go validateHTTPRewrite / validateURIRegexRewrite."""
    if data is None:
        return None
    uri, regex, authority = (
        data.get("uri") or None,
        data.get("uriRegexRewrite"),
        data.get("authority"),
    )
    if uri and regex is not None:
        raise InvalidResource(f"{where}: rewrite may only contain one of uri or uriRegexRewrite")
    if not uri and regex is None and not authority:
        raise InvalidResource(
            f"{where}: rewrite must specify at least one of uri, uriRegexRewrite, or authority"
        )
    pair = None
    if regex is not None:
        match, replacement = (regex or {}).get("match"), (regex or {}).get("rewrite")
        if not match or not replacement:
            raise InvalidResource(
                f"{where}.uriRegexRewrite: requires both rewrite and match fields to be specified"
            )
        validate_regex(match, f"{where}.uriRegexRewrite.match")
        pair = (match, replacement)
    return Rewrite(uri=uri, uri_regex=pair, authority=authority or None)


REDIRECT_CODES = {301, 302, 303, 307, 308}  # route.go ApplyRedirect's switch (0 means 301)


@dataclass(frozen=True)
class Redirect:
    uri: str | None = None
    prefix_rewrite: str | None = None
    authority: str | None = None
    scheme: str | None = None
    port: int | None = None
    derive_port: str | None = None  # FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT
    code: int = 301


def parse_redirect(data: Any, where: str, uri_kinds: list[str | None]) -> Redirect | None:
    """validation.go validateHTTPRedirect; `uri_kinds`: each match's uri kind (None: no uri)."""
    if data is None:
        return None
    uri, prefix = data.get("uri") or None, data.get("prefixRewrite") or None
    if uri and prefix:
        raise InvalidResource(f"{where}: redirect may only specify one of uri or prefixRewrite")
    if prefix and any(kind not in (None, "prefix") for kind in uri_kinds):
        raise InvalidResource(
            f"{where}: redirect prefixRewrite requires all URI matches to use prefix match type"
        )
    port, derive = data.get("port"), data.get("derivePort")
    if port is not None and derive is not None:
        raise InvalidResource(f"{where}: redirect may only specify one of port or derivePort")
    if derive not in (None, "FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"):
        raise InvalidResource(
            f"{where}.derivePort: {derive!r} is not FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT"
        )
    authority, scheme = data.get("authority") or None, data.get("scheme") or None
    if not (uri or prefix or authority or scheme or port is not None or derive is not None):
        raise InvalidResource(f"{where}: redirect must specify uri, authority, scheme, or port")
    code = data.get("redirectCode", 0) or 0
    if not isinstance(code, int) or (not 300 <= code <= 399 and code != 0):
        raise InvalidResource(
            f"{where}.redirectCode: {code!r} is not a valid redirect code, must be 3xx"
        )
    if code and code not in REDIRECT_CODES:
        # route.go ApplyRedirect: istiod warns and the route gets no action at all
        raise InvalidResource(
            f"{where}.redirectCode: {code} is not supported by Envoy (use 301, 302, 303, 307 or 308)"
        )
    if scheme not in (None, "http", "https"):
        raise InvalidResource(f'{where}.scheme: invalid redirect scheme, must be "http" or "https"')
    if port is not None and (not isinstance(port, int) or not 0 < port <= 65535):
        raise InvalidResource(f"{where}.port: invalid port {port!r}")
    return Redirect(uri, prefix, authority, scheme, port, derive, code or 301)


@dataclass(frozen=True)
class DirectResponse:
    status: int
    body: bytes | None = None
    body_is_text: bool = True


def parse_direct_response(data: Any, where: str) -> DirectResponse | None:
    """validation.go validateHTTPDirectResponse: status 200-599, body under 1 MB."""
    if data is None:
        return None
    status = data.get("status")
    if not isinstance(status, int) or not 200 <= status <= 599:
        raise InvalidResource(f"{where}.status: HTTP status {status!r} is not in range 200-599")
    body_data = data.get("body")
    if body_data is None:
        return DirectResponse(status)
    if "string" in body_data and "bytes" in body_data:
        raise InvalidResource(f"{where}.body: only one of string or bytes")
    if "bytes" in body_data:
        try:  # proto3 JSON: bytes are base64
            body = base64.b64decode(str(body_data["bytes"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidResource(f"{where}.body.bytes: not base64 ({exc})") from None
        text = False
    else:
        body, text = str(body_data.get("string", "")).encode(), True
    if len(body) > DIRECT_RESPONSE_MAX_BYTES:
        raise InvalidResource(
            f"{where}.body: large direct_responses may impact control plane performance, "
            "must be less than 1MB"
        )
    return DirectResponse(status, body, text)


def check_rule_conflicts(rule: dict[str, Any], where: str) -> None:
    """virtualservice.go validateHTTPRouteConflict and validateAuthorityRewrite."""
    for first in ("redirect", "directResponse"):
        if rule.get(first) is None:
            continue
        for other in ("route", "fault", "rewrite"):
            if rule.get(other):
                raise InvalidResource(
                    f"{where}: HTTP route cannot contain both {other} and {first}"
                )
    if rule.get("redirect") is not None and rule.get("directResponse") is not None:
        raise InvalidResource(
            f"{where}: HTTP route rule cannot contain both redirect and directResponse"
        )
    if not (
        rule.get("route")
        or rule.get("redirect") is not None
        or rule.get("directResponse") is not None
    ):
        raise InvalidResource(f"{where}: HTTP route, redirect or directResponse is required")
    authorities = [(rule.get("rewrite") or {}).get("authority")]
    request = ((rule.get("headers") or {}).get("request")) or {}
    for op in ("set", "add"):
        authorities += [v for k, v in (request.get(op) or {}).items() if is_authority(str(k))]
    given = [a for a in authorities if a]
    if len(given) > 1:
        raise InvalidResource(
            f"{where}: authority header cannot be set multiple times: have {given[0]!r}, "
            f"attempting to set {given[1]!r}"
        )
