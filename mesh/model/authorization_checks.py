"""AuthorizationPolicy values checked as Istio's validation checks them.

`pkg/config/security/security.go` (ValidateAttribute, ValidateIPs, ValidatePorts,
CheckValidPathTemplate, CheckServiceAccount, ...) and `pkg/config/validation/validation.go`
(ValidateAuthorizationPolicy): each function returns the message Istio would give, and
`Checker` raises it as InvalidResource naming the document and the field path. The policy's
typed model and its parse are in `mesh/model/authorization.py`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from mesh.model.errors import InvalidResource

_PORT = re.compile(r"^[0-9]+$")
_BITS = re.compile(r"^(0|[1-9][0-9]*)$")
_VALID_LITERAL = re.compile(r"^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$")
MATCH_ONE_TEMPLATE = "{*}"
MATCH_ANY_TEMPLATE = "{**}"


def cidr(value: str) -> tuple[str, int]:
    """(address, prefix length) as pilot/pkg/networking/util AddrStrToCidrRange gives them.

    Raises ValueError as netip.ParseAddr / ParsePrefix would fail.
    """
    if "/" in value:
        addr, bits = value.split("/", 1)
        if "%" in addr or not _BITS.match(bits):
            raise ValueError(value)
        ip = ipaddress.ip_address(addr)
        if int(bits) > ip.max_prefixlen:
            raise ValueError(value)
        return str(ip), int(bits)
    ip = ipaddress.ip_address(value)
    return str(ip).split("%", 1)[0], ip.max_prefixlen


def contains_path_template(value: str) -> bool:
    """pkg/config/security ContainsPathTemplate."""
    return MATCH_ONE_TEMPLATE in value or MATCH_ANY_TEMPLATE in value


def path_template_error(path: str) -> str | None:
    """pkg/config/security CheckValidPathTemplate, for one path."""
    has_template = contains_path_template(path)
    found_any = False
    trimmed = path.strip("/")
    for glob in trimmed.split("/"):
        if glob == MATCH_ONE_TEMPLATE and not found_any:
            continue
        if glob == MATCH_ANY_TEMPLATE and not found_any:
            found_any = True
            continue
        if glob in (MATCH_ANY_TEMPLATE, MATCH_ONE_TEMPLATE) and found_any:
            return f"invalid or unsupported path {trimmed}: {{**}} is not the last operator"
        if "{" in glob or "}" in glob:
            return (
                f"invalid or unsupported path {trimmed}: contains '{{' or '}}' beyond a "
                "supported path template"
            )
        if has_template and not _VALID_LITERAL.match(glob):
            return (
                f"invalid or unsupported path {trimmed}: contains segment {glob} with invalid "
                "string literal"
            )
    return None


def service_account_error(value: str) -> str | None:
    """pkg/config/security CheckServiceAccount, for one value."""
    if "*" in value:
        return "wildcard not allowed"
    if value.count("/") > 1:
        return f"expected format 'serviceAccount' or 'namespace/serviceAccount', found {value!r}"
    if len(value) > 320:
        return f"value cannot exceed 320 characters, found {value!r}"
    ns, _, sa = value.rpartition("/")
    if "/" in value and not ns:
        return f"expected format 'serviceAccount' or 'namespace/serviceAccount', found empty namespace {value!r}"
    if not sa:
        return f"expected format 'serviceAccount' or 'namespace/serviceAccount', found empty serviceAccount {value!r}"
    return None


def wildcard_error(value: str) -> str | None:
    """pkg/config/security CheckWildcardValues, for one value."""
    count = value.count("*")
    if count > 1:
        return f"at most one wildcard is allowed: {value!r}"
    if count == 1 and value != "*" and not value.startswith("*") and not value.endswith("*"):
        return f"wildcard is only allowed at the start or end: {value!r}"
    return None


def map_key_ok(key: str) -> bool:
    """pkg/config/security validateMapKey: `a[b]`."""
    open_ = key.find("[")
    return key.endswith("]") and 0 < open_ < len(key) - 2


class Checker:
    """Raises InvalidResource naming the document and the field path."""

    def __init__(self, resource: str) -> None:
        self.resource = resource

    def fail(self, path: str, message: str) -> InvalidResource:
        return InvalidResource(
            f"{self.resource}: {path}: {message} (as Istio's ValidateAuthorizationPolicy "
            "rejects it)"
        )

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(path, "must be a list of strings")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{path}[{index}]", f"must be a string, found {item!r} (quote it)")
        return tuple(value)

    def not_empty(self, values: tuple[str, ...], path: str) -> None:
        """CheckEmptyValues."""
        for index, value in enumerate(values):
            if value == "":
                raise self.fail(f"{path}[{index}]", "empty value not allowed")

    def ips(self, values: tuple[str, ...], path: str) -> None:
        """ValidateIPs."""
        for index, value in enumerate(values):
            try:
                cidr(value)
            except ValueError:
                kind = "bad CIDR range" if "/" in value else "bad IP address"
                raise self.fail(f"{path}[{index}]", f"{kind} ({value})") from None

    def ports(self, values: tuple[str, ...], path: str) -> None:
        """ValidatePorts."""
        for index, value in enumerate(values):
            if not _PORT.match(value) or int(value) > 65535:
                raise self.fail(f"{path}[{index}]", f"bad port ({value})")

    def each(self, values: tuple[str, ...], path: str, check: Any) -> None:
        for index, value in enumerate(values):
            error = check(value)
            if error:
                raise self.fail(f"{path}[{index}]", error)


_PERMISSION_KEYS = {"destination.ip", "destination.port", "connection.sni"}
_PRINCIPAL_KEYS = {
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.principal",
    "source.serviceAccount",
    "source.trustDomain",
}
_REQUEST_AUTH_KEYS = {"request.auth.principal", "request.auth.audiences", "request.auth.presenter"}


def attribute_error(key: str, values: tuple[str, ...]) -> str | None:
    """pkg/config/security ValidateAttribute (after CheckEmptyValues)."""
    if key.startswith("request.headers") or key.startswith("request.auth.claims"):
        return None if map_key_ok(key) else f"bad key ({key}): should have format a[b]"
    if key.startswith("experimental.envoy.filters."):
        return None if map_key_ok(key) else f"bad key ({key}): should have format a[b]"
    if key in ("source.ip", "remote.ip", "destination.ip"):
        for value in values:
            try:
                cidr(value)
            except ValueError:
                return f"bad {'CIDR range' if '/' in value else 'IP address'} ({value})"
        return None
    if key == "destination.port":
        bad = [v for v in values if not _PORT.match(v) or int(v) > 65535]
        return f"bad port ({bad[0]})" if bad else None
    if key == "source.serviceAccount":
        if len(values) > 16:
            return "may not have more than 16 values"
        return next((e for e in map(service_account_error, values) if e), None)
    if key == "source.trustDomain":
        return next((e for e in map(wildcard_error, values) if e), None)
    if key in _PRINCIPAL_KEYS | _PERMISSION_KEYS | _REQUEST_AUTH_KEYS:
        return None
    if key == "destination.namespace":
        return f"attribute {key} is replaced by the metadata.namespace"
    if key.startswith("destination.labels"):
        return f"attribute {key} is replaced by the workload selector"
    if key in ("destination.name", "destination.user"):
        return f"deprecated attribute {key}: only supported in v1alpha1"
    return f"unknown attribute: {key}"
