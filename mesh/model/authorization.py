"""AuthorizationPolicy: its typed model, parsed and validated as Istio does.

Follows istio/api `security/v1beta1/authorization_policy.proto` for the fields, Istio's
`pkg/config/validation/validation.go` (ValidateAuthorizationPolicy, checkDryRunAnnotation) and
`pkg/config/security/security.go` (ValidateAttribute, ValidateIPs, ValidatePorts,
CheckValidPathTemplate, CheckServiceAccount, ...) for what is invalid. What Envoy can evaluate on
one machine is accepted and compiled by mesh.local.envoy.rbac like istiod
(pilot/pkg/security/authz); what needs more than the local mesh runs (an ext_authz provider for
CUSTOM, an audit sink for AUDIT, a RequestAuthentication for request principals and
`request.auth.*`, targetRef attachment) is an error naming the field, never ignored.

Where istiod itself would skip a rule it cannot build (model.New / Generate errors: for ALLOW it
drops the rule, for DENY it drops the condition), this module refuses the document instead.

About 400 lines because AuthorizationPolicy's validation is one piece: each check cites the
Istio function it follows, and splitting sources, operations and conditions apart would
separate checks that validation.go runs together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh.model.authorization_checks import (
    Checker,
    attribute_error,
    path_template_error,
    service_account_error,
    wildcard_error,
)
from mesh.model.errors import UnsupportedField
from mesh.model.fields import check_fields
from mesh.model.kinds import DOCS

LEAF: None = None
AUTHZ_DOCS = f"{DOCS}/security/authorization-policy/"
REQUEST_AUTHN_DOCS = f"{DOCS}/security/request_authentication/"
DRY_RUN_ANNOTATION = "istio.io/dry-run"
ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")

_SOURCE_FIELDS = {
    "principals": "principals",
    "notPrincipals": "not_principals",
    "requestPrincipals": "request_principals",
    "notRequestPrincipals": "not_request_principals",
    "namespaces": "namespaces",
    "notNamespaces": "not_namespaces",
    "serviceAccounts": "service_accounts",
    "notServiceAccounts": "not_service_accounts",
    "ipBlocks": "ip_blocks",
    "notIpBlocks": "not_ip_blocks",
    "remoteIpBlocks": "remote_ip_blocks",
    "notRemoteIpBlocks": "not_remote_ip_blocks",
    "trustDomains": "trust_domains",
    "notTrustDomains": "not_trust_domains",
}
_OPERATION_FIELDS = {
    "hosts": "hosts",
    "notHosts": "not_hosts",
    "ports": "ports",
    "notPorts": "not_ports",
    "methods": "methods",
    "notMethods": "not_methods",
    "paths": "paths",
    "notPaths": "not_paths",
}

SCHEMA: dict[str, Any] = {
    "spec": {
        "selector": {"matchLabels": LEAF},
        "targetRef": LEAF,
        "targetRefs": LEAF,
        "action": LEAF,
        "provider": LEAF,
        "rules": [
            {
                "from": [{"source": dict.fromkeys(_SOURCE_FIELDS, LEAF)}],
                "to": [{"operation": dict.fromkeys(_OPERATION_FIELDS, LEAF)}],
                "when": [{"key": LEAF, "values": LEAF, "notValues": LEAF}],
            }
        ],
    }
}
"""The strict schema (mesh.model.fields.check_fields): every field of the proto is known
here; the ones the local mesh cannot honour are refused by `parse_authorization_policy` with
the reason, a misspelt one by check_fields."""


# ---------------------------------------------------------------- the typed model
@dataclass(frozen=True)
class Source:
    """`from.source`: every given field must match (values within a field: any)."""

    principals: tuple[str, ...] = ()
    not_principals: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    not_namespaces: tuple[str, ...] = ()
    service_accounts: tuple[str, ...] = ()
    not_service_accounts: tuple[str, ...] = ()
    ip_blocks: tuple[str, ...] = ()
    not_ip_blocks: tuple[str, ...] = ()
    remote_ip_blocks: tuple[str, ...] = ()
    not_remote_ip_blocks: tuple[str, ...] = ()
    trust_domains: tuple[str, ...] = ()
    not_trust_domains: tuple[str, ...] = ()
    request_principals: tuple[str, ...] = ()
    not_request_principals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """`to.operation`: every given field must match (values within a field: any)."""

    paths: tuple[str, ...] = ()
    not_paths: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    not_methods: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    not_hosts: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    not_ports: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    """A `when` entry: `key` must have one of `values` and none of `not_values`."""

    key: str
    values: tuple[str, ...] = ()
    not_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthzRule:
    """A rule matches when one of its sources, one of its operations and all `when` hold.

    `sources` None: no `from` (any source); `operations` empty: no `to` (any operation).
    """

    sources: tuple[Source, ...] | None = None
    operations: tuple[Operation, ...] = ()
    when: tuple[Condition, ...] = ()

    @property
    def principals(self) -> tuple[str, ...] | None:
        """The `principals` of all sources (None without `from`)."""
        if self.sources is None:
            return None
        return tuple(p for s in self.sources for p in s.principals)


@dataclass(frozen=True)
class AuthorizationPolicy:
    """An ALLOW or DENY policy; ALLOW with no rules allows nothing (Istio's deny-all).

    `dry_run`: the `istio.io/dry-run` annotation; its rules are evaluated (shadow rules) but
    never enforced.
    """

    name: str
    selector: tuple[tuple[str, str], ...] | None
    rules: tuple[AuthzRule, ...]
    namespace: str = "voting"
    action: str = "ALLOW"
    dry_run: bool = False


# ---------------------------------------------------------------- refusals
class RefusedField(UnsupportedField):
    """A valid Istio field whose effect needs something the local mesh does not run."""

    def __init__(self, resource: str, path: str, reason: str, docs: str = AUTHZ_DOCS) -> None:
        super().__init__(resource, path, docs)
        message = (
            f"{resource}: unsupported field {path}: {reason} "
            f"(not implemented by the local mesh; see {docs})"
        )
        self.args = (message,)


_NEEDS_REQUEST_AUTHN = (
    "request.auth.* conditions are not implemented by the local mesh "
    "(from.source.requestPrincipals are)"
)


def request_principal_error(value: str) -> str | None:
    """What the local mesh matches of `<issuer>/<subject>` (mesh/local/envoy/rbac.py): `*`,
    an exact principal, or every subject of one issuer (`<issuer>/*`)."""
    if value == "*":
        return None
    if "/" not in value:
        return f"{value!r} is not <issuer>/<subject> (a JWT's iss and sub)"
    issuer, subject = value.rsplit("/", 1)
    if "*" in issuer or ("*" in subject and subject != "*"):
        return f"{value!r}: only `*`, `<issuer>/<subject>` or `<issuer>/*` are matched locally"
    return None


# ---------------------------------------------------------------- parsing
_DRY_RUN_VALUES = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def _selector(spec: dict[str, Any], check: Checker) -> tuple[tuple[str, str], ...] | None:
    selector = spec.get("selector")
    if selector is None:
        return None
    labels = (selector or {}).get("matchLabels") or {}
    if not isinstance(labels, dict):
        raise check.fail("spec.selector.matchLabels", "must be a mapping")
    for key, value in labels.items():
        if key == "":
            raise check.fail("spec.selector.matchLabels", f"empty key is not supported: ={value}")
        if "*" in str(key) or "*" in str(value):
            raise check.fail(
                f"spec.selector.matchLabels.{key}",
                f"wildcard is not supported in selector: {key}={value}",
            )
    # An empty selector selects every workload (policyattachment.go isSelected).
    return tuple((str(k), str(v)) for k, v in labels.items()) or None


def _source(raw: dict[str, Any], path: str, check: Checker) -> Source:
    values = {key: check.strings(raw.get(key), f"{path}.{key}") for key in _SOURCE_FIELDS}
    if not any(values.values()):
        raise check.fail(path, "`from.source` must not be empty")
    identity = ("principals", "notPrincipals", "namespaces", "notNamespaces")
    if any(values[k] for k in identity) and (
        values["serviceAccounts"] or values["notServiceAccounts"]
    ):
        raise check.fail(path, "cannot set serviceAccounts with namespaces or principals")
    for key in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
        check.ips(values[key], f"{path}.{key}")
    for key in _SOURCE_FIELDS:
        check.not_empty(values[key], f"{path}.{key}")
    for key in ("serviceAccounts", "notServiceAccounts"):
        if len(values[key]) > 16:
            raise check.fail(f"{path}.{key}", "may not have more than 16 values")
        check.each(values[key], f"{path}.{key}", service_account_error)
    for key in ("trustDomains", "notTrustDomains"):
        check.each(values[key], f"{path}.{key}", wildcard_error)
        check.each(
            values[key],
            f"{path}.{key}",
            lambda v: "trust domain must not contain '/'" if "/" in v else None,
        )
    for key in ("requestPrincipals", "notRequestPrincipals"):
        for index, value in enumerate(values[key]):
            error = request_principal_error(value)
            if error:  # Istio takes any string; what the local mesh cannot match is refused
                raise RefusedField(
                    check.resource, f"{path}.{key}[{index}]", error, REQUEST_AUTHN_DOCS
                )
    return Source(**{attr: values[key] for key, attr in _SOURCE_FIELDS.items() if attr})


def _operation(raw: dict[str, Any], path: str, check: Checker) -> Operation:
    values = {key: check.strings(raw.get(key), f"{path}.{key}") for key in _OPERATION_FIELDS}
    if not any(values.values()):
        raise check.fail(path, "`to.operation` must not be empty")
    check.ports(values["ports"], f"{path}.ports")
    check.ports(values["notPorts"], f"{path}.notPorts")
    for key in _OPERATION_FIELDS:
        check.not_empty(values[key], f"{path}.{key}")
    check.each(values["paths"], f"{path}.paths", path_template_error)
    check.each(values["notPaths"], f"{path}.notPaths", path_template_error)
    return Operation(**{attr: values[key] for key, attr in _OPERATION_FIELDS.items()})


def _condition(raw: dict[str, Any], path: str, check: Checker) -> Condition:
    key = raw.get("key")
    if not key:
        raise check.fail(f"{path}.key", "`key` must not be empty")
    if not isinstance(key, str):
        raise check.fail(f"{path}.key", "must be a string")
    values = check.strings(raw.get("values"), f"{path}.values")
    not_values = check.strings(raw.get("notValues"), f"{path}.notValues")
    if not values and not not_values:
        raise check.fail(path, f"at least one of `values` or `notValues` must be set for key {key}")
    for field_, given in (("values", values), ("notValues", not_values)):
        check.not_empty(given, f"{path}.{field_}")
        error = attribute_error(key, given)
        if error:
            raise check.fail(f"{path}.{field_}", f"invalid value for key {key}: {error}")
    if key.startswith("request.auth."):
        raise RefusedField(
            check.resource, f"{path}.key={key}", _NEEDS_REQUEST_AUTHN, REQUEST_AUTHN_DOCS
        )
    if key.startswith("experimental.envoy.filters."):
        raise RefusedField(
            check.resource,
            f"{path}.key={key}",
            "it matches the dynamic metadata of Envoy filters the local mesh does not configure",
        )
    if key.startswith("request.headers") and not (key[len("request.headers") :].startswith("[")):
        # model/util.go extractNameInBrackets fails: istiod would drop the rule.
        raise check.fail(f"{path}.key", f"expecting format request.headers[<NAME>], found {key}")
    return Condition(key, values, not_values)


def _entries(value: Any, path: str, inner: str, check: Checker) -> list[tuple[str, Any]]:
    """The `from`/`to` list of a rule: present means non-empty, each entry with its `inner`."""
    if not isinstance(value, list):
        raise check.fail(path, "must be a list")
    if not value:
        raise check.fail(path, f"`{path.rsplit('.', 1)[-1]}` must not be empty")
    name = path.rsplit(".", 1)[-1]
    entries = []
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        if entry is None:
            raise check.fail(where, f"`{name}` must not be nil")
        if entry.get(inner) is None:
            raise check.fail(f"{where}.{inner}", f"`{name}.{inner}` must not be nil")
        entries.append((f"{where}.{inner}", entry[inner]))
    return entries


def _rule(raw: Any, path: str, check: Checker) -> AuthzRule:
    if raw is None:
        raise check.fail(path, "`rule` must not be nil")
    if not isinstance(raw, dict):
        raise check.fail(path, "must be a mapping")
    sources = None
    if "from" in raw:
        sources = tuple(
            _source(s, where, check)
            for where, s in _entries(raw["from"], f"{path}.from", "source", check)
        )
    operations = ()
    if "to" in raw:
        operations = tuple(
            _operation(o, where, check)
            for where, o in _entries(raw["to"], f"{path}.to", "operation", check)
        )
    when = raw.get("when") or []
    if not isinstance(when, list):
        raise check.fail(f"{path}.when", "must be a list")
    conditions = tuple(_condition(c or {}, f"{path}.when[{i}]", check) for i, c in enumerate(when))
    return AuthzRule(sources, operations, conditions)


def _dry_run(meta: dict[str, Any], action: str, check: Checker) -> bool:
    """validation.go checkDryRunAnnotation; builder.go isDryRun (strconv.ParseBool)."""
    annotations = meta.get("annotations") or {}
    if DRY_RUN_ANNOTATION not in annotations:
        return False
    where = f"metadata.annotations[{DRY_RUN_ANNOTATION}]"
    if action not in ("ALLOW", "DENY"):
        raise check.fail(where, f"the annotation only supports action ALLOW/DENY, found {action}")
    value = annotations[DRY_RUN_ANNOTATION]
    if not isinstance(value, str) or value not in _DRY_RUN_VALUES:
        raise check.fail(where, f"invalid value ({value!r}): not a boolean")
    return _DRY_RUN_VALUES[value]


def parse_authorization_policy(
    name: str, namespace: str, meta: dict[str, Any], spec: dict[str, Any]
) -> AuthorizationPolicy:
    """One AuthorizationPolicy document, validated as Istio does and refused where the local
    mesh cannot honour it. Errors name `AuthorizationPolicy name.namespace` and the field."""
    resource = f"AuthorizationPolicy {name}.{namespace}"
    check_fields({"spec": spec}, SCHEMA, resource, "")
    check = Checker(resource)
    spec = spec or {}
    has_target = spec.get("targetRef") is not None or bool(spec.get("targetRefs"))
    if spec.get("selector") is not None and has_target:
        raise check.fail("spec.selector", "only one of targetRefs or workloadSelector can be set")
    selector = _selector(spec, check)
    action = spec.get("action", "ALLOW") or "ALLOW"
    if action not in ACTIONS:
        raise check.fail("spec.action", f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    if action == "CUSTOM":
        provider = (spec.get("provider") or {}).get("name")
        raise RefusedField(
            resource,
            "spec.action=CUSTOM",
            "a CUSTOM policy delegates the decision to the ext_authz extension provider named "
            f"in spec.provider ({provider or 'none given'}; meshConfig.extensionProviders), "
            "which the local mesh does not run",
        )
    if spec.get("provider") is not None:
        raise check.fail(
            "spec.provider", f"`provider` must not be with non CUSTOM action, found {action}"
        )
    if action == "AUDIT":
        raise RefusedField(
            resource,
            "spec.action=AUDIT",
            "an AUDIT policy only marks requests for an audit sink (a telemetry provider that "
            "logs them), which the local mesh does not have; it never allows or denies",
        )
    if has_target:
        field_ = "spec.targetRef" if spec.get("targetRef") is not None else "spec.targetRefs"
        raise RefusedField(
            resource,
            field_,
            "targetRef attaches the policy to a Gateway API Gateway, a Service or a "
            "ServiceEntry (waypoints); the local mesh selects workloads with spec.selector only",
        )
    raw_rules = spec.get("rules")
    if raw_rules is not None and not isinstance(raw_rules, list):
        raise check.fail("spec.rules", "must be a list")
    if action == "DENY" and not raw_rules:
        raise check.fail(
            "spec.rules",
            "DENY action without `rules` is meaningless as it will never be triggered, add an "
            "empty rule `{}` if you want it be triggered for every request",
        )
    dry_run = _dry_run(meta or {}, action, check)
    rules = tuple(_rule(r, f"spec.rules[{i}]", check) for i, r in enumerate(raw_rules or []))
    return AuthorizationPolicy(name, selector, rules, namespace, action, dry_run)
