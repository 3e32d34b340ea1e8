"""The Kubernetes and Istio resources the local mesh honours, parsed strictly.

A rendered step (see `mesh.steps.render_step`) is a list of plain dicts. `parse_resources`
turns it into the typed view below. Istio fields the local mesh does not implement are an
error naming the field (`UnsupportedField`), never silently ignored: a user must not believe
a policy is in force when it is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import re2

from mesh.model.authorization import (
    SCHEMA as AUTHORIZATION_POLICY_SCHEMA,
)
from mesh.model.authorization import (
    AuthorizationPolicy,
    parse_authorization_policy,
)
from mesh.model.errors import InvalidResource, UnsupportedField, UnsupportedKind
from mesh.model.kinds import (
    GATEWAY_API_DOCS,
    IMPLEMENTED,
    KUBERNETES_INERT,
    KUBERNETES_RUN,
    NOT_IMPLEMENTED,
    ROOT_NAMESPACE,
    is_gateway_api,
    is_istio,
)

APP_FUNCTIONS = {"voting-app": "vote", "voting-analytics": "results", "voting-storage": "storage"}
"""Deployments the local mesh runs as function processes, by their `app` label."""

# ---------------------------------------------------------------- strict field checking
# A schema is a dict of allowed keys (value: sub-schema), a one-item list (each element
# follows the item schema), or LEAF (any value). `*` in a dict allows any key.
LEAF: None = None
_STRING_MATCH = {"exact": LEAF, "prefix": LEAF, "regex": LEAF}
_META = {"name": LEAF, "namespace": LEAF, "labels": LEAF, "annotations": LEAF}

SCHEMAS: dict[str, dict[str, Any]] = {
    "VirtualService": {
        "spec": {
            "hosts": LEAF,
            "gateways": LEAF,
            "http": [
                {
                    "name": LEAF,
                    "match": [
                        {
                            "name": LEAF,
                            "uri": _STRING_MATCH,
                            "scheme": _STRING_MATCH,
                            "method": _STRING_MATCH,
                            "authority": _STRING_MATCH,
                            "headers": {"*": _STRING_MATCH},
                            "withoutHeaders": {"*": _STRING_MATCH},
                            "queryParams": {"*": _STRING_MATCH},
                            "ignoreUriCase": LEAF,
                            "port": LEAF,
                            "sourceLabels": LEAF,
                            "sourceNamespace": LEAF,
                            "gateways": LEAF,
                            "statPrefix": LEAF,
                        }
                    ],
                    "route": [
                        {
                            "destination": {"host": LEAF, "subset": LEAF, "port": {"number": LEAF}},
                            "weight": LEAF,
                        }
                    ],
                    "timeout": LEAF,
                    "retries": {"attempts": LEAF, "perTryTimeout": LEAF, "retryOn": LEAF},
                    "fault": {
                        "abort": {"percentage": {"value": LEAF}, "httpStatus": LEAF},
                        "delay": {"percentage": {"value": LEAF}, "fixedDelay": LEAF},
                    },
                }
            ],
        }
    },
    "DestinationRule": {
        "spec": {
            "host": LEAF,
            "trafficPolicy": {"tls": {"mode": LEAF}},
            "subsets": [{"name": LEAF, "labels": LEAF, "trafficPolicy": {"tls": {"mode": LEAF}}}],
        }
    },
    "PeerAuthentication": {
        "spec": {
            "selector": {"matchLabels": LEAF},
            "mtls": {"mode": LEAF},
            "portLevelMtls": {"*": {"mode": LEAF}},
        },
    },
    "AuthorizationPolicy": AUTHORIZATION_POLICY_SCHEMA,
    "Gateway": {
        "spec": {
            "selector": LEAF,
            "servers": [{"port": {"number": LEAF, "name": LEAF, "protocol": LEAF}, "hosts": LEAF}],
        }
    },
}


def prune_fields(value: Any, schema: Any) -> Any:
    """`value` with only what the schema allows (lenient reading of live objects)."""
    if schema is LEAF:
        return value
    if isinstance(schema, list):
        return [prune_fields(item, schema[0]) for item in value] if isinstance(value, list) else []
    if not isinstance(value, dict):
        return {}
    return {
        key: prune_fields(item, schema.get(key, schema.get("*")))
        for key, item in value.items()
        if key in schema or "*" in schema
    }


def _lenient(doc: dict[str, Any], app_namespace: str) -> dict[str, Any] | None:
    """A live object reduced to what the strict parser reads, or None to skip it."""
    kind = doc.get("kind")
    if kind not in SCHEMAS and kind not in KUBERNETES_RUN:
        return None
    meta = doc.get("metadata") or {}
    if (meta.get("namespace") or app_namespace) not in (app_namespace, ROOT_NAMESPACE):
        return None
    slim = {
        "apiVersion": doc.get("apiVersion", ""),
        "kind": kind,
        "metadata": {k: meta[k] for k in _META if k in meta},
    }
    if kind in SCHEMAS:
        slim.update(
            prune_fields({k: v for k, v in doc.items() if k in SCHEMAS[kind]}, SCHEMAS[kind])
        )
    else:
        slim.update(
            {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata", "status")}
        )
    return slim


def check_fields(value: Any, schema: Any, resource: str, path: str) -> None:
    """Raise UnsupportedField for the first key of `value` the schema does not allow."""
    if schema is LEAF:
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise InvalidResource(f"{resource}: {path} must be a list")
        for index, item in enumerate(value):
            check_fields(item, schema[0], resource, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        raise InvalidResource(f"{resource}: {path} must be a mapping")
    for key, item in value.items():
        if key in schema:
            check_fields(item, schema[key], resource, f"{path}.{key}" if path else key)
        elif "*" in schema:
            check_fields(item, schema["*"], resource, f"{path}.{key}")
        else:
            raise UnsupportedField(resource, f"{path}.{key}" if path else key)


# ---------------------------------------------------------------- the typed view
@dataclass(frozen=True)
class StringMatch:
    """An Istio StringMatch: exact, prefix, regex (RE2, whole value) or `present`.

    `present` is what Istio makes of an empty match (`{}`) or the regex `*` on a header or
    query parameter (pilot/pkg/networking/core/route/route.go canBeConvertedToPresentMatch).
    """

    kind: str
    value: str

    def matches(self, text: str | None) -> bool:
        if text is None:
            return False
        if self.kind == "present":
            return True
        if self.kind == "exact":
            return text == self.value
        if self.kind == "prefix":
            return text.startswith(self.value)
        return re2.fullmatch(self.value, text) is not None

    def describe(self) -> str:
        if self.kind == "present":
            return " present"
        return {"exact": "=", "prefix": "^=", "regex": "~"}[self.kind] + self.value


@dataclass(frozen=True)
class HTTPMatch:
    """One `match` entry (HTTPMatchRequest): all of its conditions must hold."""

    uri: StringMatch | None = None
    headers: tuple[tuple[str, StringMatch], ...] = ()
    source_labels: tuple[tuple[str, str], ...] = ()
    gateways: tuple[str, ...] = ()
    name: str | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    without_headers: tuple[tuple[str, StringMatch], ...] = ()
    query_params: tuple[tuple[str, StringMatch], ...] = ()
    ignore_uri_case: bool = False
    port: int | None = None
    source_namespace: str | None = None
    stat_prefix: str | None = None
    resolved_gateways: tuple[str, ...] = ()
    """`gateways` as istiod resolves them (`mesh`, else `namespace/name`)."""

    @property
    def is_catch_all(self) -> bool:
        """Matches every request (route.go IsCatchAllRoute): `/` prefix or `.*`, nothing else."""
        uri_all = self.uri is None or (self.uri.kind, self.uri.value) in (
            ("prefix", "/"),
            ("regex", ".*"),
        )
        return uri_all and not (
            self.headers
            or self.without_headers
            or self.query_params
            or self.method
            or self.authority
            or self.scheme
        )

    def applies_to(self, labels: dict[str, str], gateways: set[str], namespace: str) -> bool:
        """Whether this entry is for the proxy at all (route.go sourceMatchHTTP).

        With `gateways`, only they count (sourceLabels are then not looked at); otherwise the
        proxy's labels must include `sourceLabels` and its namespace be `sourceNamespace`.
        """
        if self.gateways:
            return any(g in gateways for g in self.resolved_gateways)
        return all(labels.get(k) == v for k, v in self.source_labels) and (
            self.source_namespace in (None, namespace)
        )


@dataclass(frozen=True)
class Destination:
    host: str
    subset: str | None
    port: int | None
    weight: int


@dataclass(frozen=True)
class Fault:
    abort_percent: float = 0.0
    abort_status: int = 503
    delay_percent: float = 0.0
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Retries:
    attempts: int
    per_try_timeout: float | None
    retry_on: str | None


@dataclass(frozen=True)
class HTTPRoute:
    """One VirtualService `http` rule; rules are tried in order, first match wins."""

    name: str | None
    matches: tuple[HTTPMatch, ...]
    destinations: tuple[Destination, ...]
    timeout: float | None = None
    retries: Retries | None = None
    fault: Fault | None = None


@dataclass(frozen=True)
class VirtualService:
    name: str
    hosts: tuple[str, ...]
    gateways: tuple[str, ...]
    http: tuple[HTTPRoute, ...]
    namespace: str = "voting"

    @property
    def applies_to_mesh(self) -> bool:
        return not self.gateways or "mesh" in self.gateways

    def bound_to(self, gateway: str) -> bool:
        """Whether this VirtualService is for `namespace/name` gateway (bare names: ours)."""
        return any((g if "/" in g else f"{self.namespace}/{g}") == gateway for g in self.gateways)


@dataclass(frozen=True)
class Subset:
    name: str
    labels: tuple[tuple[str, str], ...]
    tls_mode: str | None


@dataclass(frozen=True)
class DestinationRule:
    name: str
    host: str
    tls_mode: str | None
    subsets: tuple[Subset, ...]
    namespace: str = "voting"

    def subset(self, name: str) -> Subset | None:
        return next((s for s in self.subsets if s.name == name), None)


@dataclass(frozen=True)
class PeerAuthentication:
    """`mtls.mode` for the workloads it selects; `port_level` by container port (selector only)."""

    name: str
    selector: tuple[tuple[str, str], ...] | None
    mode: str
    namespace: str = "voting"
    port_level: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class GatewayServer:
    port: int
    protocol: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Gateway:
    name: str
    selector: tuple[tuple[str, str], ...]
    servers: tuple[GatewayServer, ...]
    namespace: str = "voting"


@dataclass(frozen=True)
class Workload:
    """A Deployment: the pods the local mesh runs as function processes."""

    name: str
    replicas: int
    labels: tuple[tuple[str, str], ...]
    service_account: str
    container_port: int
    env: tuple[tuple[str, str], ...]

    @property
    def app(self) -> str:
        return dict(self.labels).get("app", "")

    @property
    def version(self) -> str:
        return dict(self.labels).get("version", "")

    @property
    def function(self) -> str | None:
        return APP_FUNCTIONS.get(self.app)


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int


@dataclass(frozen=True)
class Service:
    name: str
    selector: tuple[tuple[str, str], ...]
    ports: tuple[ServicePort, ...]

    def selects(self, labels: dict[str, str]) -> bool:
        return bool(self.selector) and all(labels.get(k) == v for k, v in self.selector)


@dataclass
class MeshResources:
    """Everything of one rendered step that the local mesh acts on."""

    namespace: str = "voting"
    workloads: list[Workload] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    virtual_services: list[VirtualService] = field(default_factory=list)
    destination_rules: list[DestinationRule] = field(default_factory=list)
    peer_authentications: list[PeerAuthentication] = field(default_factory=list)
    authorization_policies: list[AuthorizationPolicy] = field(default_factory=list)
    gateways: list[Gateway] = field(default_factory=list)

    def service(self, host: str) -> Service | None:
        return next((s for s in self.services if s.name == short_host(host)), None)

    def destination_rule(self, host: str) -> DestinationRule | None:
        """The DestinationRule for a service host: an exact host over the longest wildcard.

        After pilot/pkg/model/push_context.go (destination rule lookup by most specific host)
        and pilot/pkg/model/config.go (short names resolve in the rule's own namespace).
        """
        target = fqdn(host, self.namespace)
        exact = [d for d in self.destination_rules if fqdn(d.host, d.namespace) == target]
        if exact:
            return exact[0]
        wildcards = [
            d
            for d in self.destination_rules
            if fqdn(d.host, d.namespace).startswith("*")
            and target.endswith(fqdn(d.host, d.namespace)[1:])
        ]
        return max(wildcards, key=lambda d: len(d.host), default=None)

    def virtual_service_for(self, service: str) -> VirtualService | None:
        """The VirtualService sidecars use for a service host: the first applied for it.

        Hosts resolve in the VirtualService's namespace; a wildcard host (`*.voting.svc...`)
        counts when no exact one exists (pilot/pkg/model/sidecar.go: most specific first).
        """
        target = fqdn(service, self.namespace)
        meshed = [v for v in self.virtual_services if v.applies_to_mesh]
        exact = [v for v in meshed if any(fqdn(h, v.namespace) == target for h in v.hosts)]
        if exact:
            return exact[0]
        wildcard = [
            v
            for v in meshed
            for h in v.hosts
            if fqdn(h, v.namespace).startswith("*") and target.endswith(fqdn(h, v.namespace)[1:])
        ]
        return wildcard[0] if wildcard else None

    def mesh_workloads(self) -> list[Workload]:
        return [w for w in self.workloads if w.function]


def short_host(host: str) -> str:
    """`voting-app.voting.svc.cluster.local` → `voting-app` (the namespace is always ours)."""
    return host.split(".", 1)[0]


def fqdn(host: str, namespace: str) -> str:
    """A Kubernetes service host in full, as Istio resolves it in `namespace`.

    `voting-app` → `voting-app.<namespace>.svc.cluster.local`; `voting-app.voting` →
    `voting-app.voting.svc.cluster.local`; a wildcard (`*`, `*.voting.svc.cluster.local`) or
    a full name stays as it is.
    """
    if host == "*" or host.endswith(".cluster.local"):
        return host
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.svc.cluster.local"
    if len(parts) == 2:
        return f"{host}.svc.cluster.local"
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.cluster.local"
    return host


def parse_duration(value: Any, where: str) -> float:
    """Istio durations: `1.5s`, `250ms`, `1m`."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(value).strip())
    if not match:
        raise InvalidResource(f"{where}: invalid duration {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def _labels(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (value or {}).items()))


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def validate_regex(text: str, where: str) -> None:
    """RE2, at most 1024 characters (pkg/config/validation/validation.go validateStringRegexp)."""
    if not text:
        raise InvalidResource(f"{where}: regex string match should not be empty")
    if len(text) > 1024:
        raise InvalidResource(f"{where}: regex is too large, max length allowed is 1024")
    try:
        re2.compile(text, _RE2_OPTIONS)
    except re2.error as exc:
        raise InvalidResource(
            f"{where}: invalid regex {text!r} ({exc}); Istio uses RE2 syntax "
            "(https://github.com/google/re2/wiki/Syntax)"
        ) from exc


def _string_match(value: Any, where: str, presence: bool = False) -> StringMatch:
    """An Istio StringMatch; `presence`: an empty one (or regex `*`) means "is present"."""
    value = value or {}
    if not isinstance(value, dict):
        raise InvalidResource(f"{where}: a string match is a mapping (exact, prefix or regex)")
    if presence and (not value or value == {"regex": "*"}):
        return StringMatch("present", "")
    if len(value) != 1:
        raise InvalidResource(f"{where}: exactly one of exact, prefix, regex")
    kind, text = next(iter(value.items()))
    if kind == "regex":
        validate_regex(str(text), where)
    return StringMatch(kind, str(text))


def _named_matches(
    value: Any, where: str, lower: bool = True
) -> tuple[tuple[str, StringMatch], ...]:
    """Headers / query parameters: sorted by name as route.go orders them."""
    return tuple(
        sorted(
            (
                (key.lower() if lower else key),
                _string_match(match, f"{where}.{key}", presence=True),
            )
            for key, match in (value or {}).items()
        )
    )


def _parse_match(entry: dict[str, Any], where: str, namespace: str) -> HTTPMatch:
    port = entry.get("port")
    if port is not None and (not isinstance(port, int) or not 0 < port <= 65535):
        raise InvalidResource(f"{where}.port: invalid port {port!r}")
    gateways = tuple(entry.get("gateways") or ())
    _validate_gateway_names(gateways, f"{where}.gateways")

    def single(key: str) -> StringMatch | None:
        return _string_match(entry[key], f"{where}.{key}") if entry.get(key) else None

    return HTTPMatch(
        uri=single("uri"),
        scheme=single("scheme"),
        method=single("method"),
        authority=single("authority"),
        headers=_named_matches(entry.get("headers"), f"{where}.headers"),
        without_headers=_named_matches(entry.get("withoutHeaders"), f"{where}.withoutHeaders"),
        query_params=_named_matches(entry.get("queryParams"), f"{where}.queryParams", False),
        ignore_uri_case=bool(entry.get("ignoreUriCase", False)),
        port=port,
        source_labels=_labels(entry.get("sourceLabels")),
        source_namespace=entry.get("sourceNamespace"),
        gateways=gateways,
        resolved_gateways=tuple(
            g if g == "mesh" or "/" in g else f"{namespace}/{g}" for g in gateways
        ),
        name=entry.get("name"),
        stat_prefix=entry.get("statPrefix"),
    )


def _validate_gateway_names(names: tuple[str, ...], where: str) -> None:
    """`mesh`, `name` or `namespace/name` (validation.go validateGatewayNames)."""
    for name in names:
        parts = name.split("/")
        if len(parts) > 2 or not all(parts):
            raise InvalidResource(f"{where}: invalid gateway name {name!r}")


def _parse_virtual_service(name: str, spec: dict[str, Any], namespace: str) -> VirtualService:
    rules = []
    for index, rule in enumerate(spec.get("http") or []):
        where = f"VirtualService {name}.{namespace}: spec.http[{index}]"
        matches = [
            _parse_match(entry, f"{where}.match[{i}]", namespace)
            for i, entry in enumerate(rule.get("match") or [])
        ]
        routes = rule.get("route") or []
        if not routes:
            raise InvalidResource(f"{where}: a route needs at least one destination")
        destinations = tuple(
            Destination(
                host=r["destination"]["host"],
                subset=r["destination"].get("subset"),
                port=(r["destination"].get("port") or {}).get("number"),
                # route.go: a single destination takes all traffic, whatever its weight says
                weight=100 if len(routes) == 1 else int(r.get("weight", 0)),
            )
            for r in routes
        )
        # validation.go validateHTTPRouteDestinations / validateWeight: weights are relative,
        # none negative, and only several destinations that all weigh 0 are refused.
        if any(int(r.get("weight", 0)) < 0 for r in routes):
            raise InvalidResource(f"{where}: a route weight must not be negative")
        if len(destinations) > 1 and sum(d.weight for d in destinations) == 0:
            raise InvalidResource(f"{where}: total destination weight = 0")
        retries = None
        if "retries" in rule:
            r = rule["retries"]
            retries = Retries(
                attempts=int(r.get("attempts", 0)),
                per_try_timeout=parse_duration(r["perTryTimeout"], where)
                if "perTryTimeout" in r
                else None,
                retry_on=r.get("retryOn"),
            )
        fault = None
        if "fault" in rule:
            f = rule["fault"]
            abort, delay = f.get("abort") or {}, f.get("delay") or {}
            fault = Fault(
                abort_percent=float((abort.get("percentage") or {}).get("value", 0)),
                abort_status=int(abort.get("httpStatus", 503)),
                delay_percent=float((delay.get("percentage") or {}).get("value", 0)),
                delay_seconds=parse_duration(delay["fixedDelay"], where)
                if "fixedDelay" in delay
                else 0.0,
            )
        rules.append(
            HTTPRoute(
                name=rule.get("name"),
                matches=tuple(matches),
                destinations=destinations,
                timeout=parse_duration(rule["timeout"], where) if "timeout" in rule else None,
                retries=retries,
                fault=fault,
            )
        )
    return VirtualService(
        name=name,
        hosts=tuple(spec.get("hosts") or ()),
        gateways=tuple(spec.get("gateways") or ()),
        http=tuple(rules),
        namespace=namespace,
    )


_TLS_MODES = {"ISTIO_MUTUAL", "DISABLE"}
_MTLS_MODES = {"STRICT", "PERMISSIVE", "DISABLE", "UNSET"}


def _tls_mode(policy: dict[str, Any] | None, where: str) -> str | None:
    """`trafficPolicy.tls.mode`; None (auto mTLS) without `tls`, DISABLE for `tls: {}`.

    istio/api networking/v1alpha3/destination_rule.proto: ClientTLSSettings.mode defaults to
    DISABLE (enum 0), so a present `tls` without `mode` means plaintext, not auto mTLS.
    """
    if "tls" not in (policy or {}):
        return None
    mode = ((policy or {}).get("tls") or {}).get("mode", "DISABLE")
    if mode not in _TLS_MODES:
        raise UnsupportedField(where, f"trafficPolicy.tls.mode={mode}")
    return str(mode)


def _parse_destination_rule(name: str, spec: dict[str, Any], namespace: str) -> DestinationRule:
    where = f"DestinationRule {name}.{namespace}"
    return DestinationRule(
        name=name,
        host=spec["host"],
        tls_mode=_tls_mode(spec.get("trafficPolicy"), where),
        subsets=tuple(
            Subset(
                name=s["name"],
                labels=_labels(s.get("labels")),
                tls_mode=_tls_mode(s.get("trafficPolicy"), where),
            )
            for s in spec.get("subsets") or []
        ),
        namespace=namespace,
    )


def _mtls_mode(value: dict[str, Any] | None, where: str) -> str:
    mode = (value or {}).get("mode", "UNSET")
    if mode not in _MTLS_MODES:
        raise InvalidResource(f"{where}: unknown mtls mode {mode}")
    return str(mode)


def _parse_peer_authentication(
    name: str, spec: dict[str, Any], namespace: str, resource: str
) -> PeerAuthentication:
    """Validated as istiod does (pkg/config/validation: ValidatePeerAuthentication)."""
    selector = (spec.get("selector") or {}).get("matchLabels")
    port_level = spec.get("portLevelMtls") or {}
    if port_level and not selector:
        raise InvalidResource(
            f"{resource}: spec.portLevelMtls requires a workload selector "
            "(Istio refuses it on a namespace- or mesh-wide policy)"
        )
    ports = []
    for port, mtls in port_level.items():
        if not str(port).isdigit() or not 0 < int(port) <= 65535:
            raise InvalidResource(f"{resource}: spec.portLevelMtls: invalid port {port!r}")
        ports.append((int(port), _mtls_mode(mtls, f"{resource}: spec.portLevelMtls.{port}")))
    return PeerAuthentication(
        name,
        _labels(selector) if selector else None,
        _mtls_mode(spec.get("mtls"), resource),
        namespace=namespace,
        port_level=tuple(sorted(ports)),
    )


def _parse_env(
    container: dict[str, Any], secrets: dict[str, dict[str, str]]
) -> list[tuple[str, str]]:
    """Plain values and secretKeyRefs; downward-API values are filled in per pod."""
    env = []
    for item in container.get("env") or []:
        if "value" in item:
            env.append((item["name"], str(item["value"])))
        elif "secretKeyRef" in (item.get("valueFrom") or {}):
            ref = item["valueFrom"]["secretKeyRef"]
            value = secrets.get(ref["name"], {}).get(ref["key"])
            if value is not None:
                env.append((item["name"], value))
    return env


def _decode_secret(doc: dict[str, Any]) -> dict[str, str]:
    import base64

    values = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
    values.update({k: str(v) for k, v in (doc.get("stringData") or {}).items()})
    return values


def parse_resources(
    documents: list[dict[str, Any]], check_references: bool = True, strict: bool = True
) -> MeshResources:
    """Parse a rendered step. Istio kinds are checked field by field against SCHEMAS.

    `check_references=False` leaves dangling hosts and subsets to the caller (`voting
    analyze` reports them as findings instead of stopping at the first). `strict=False`
    reads live cluster objects, which hold what others wrote: fields the model does not know
    (and status, managedFields, ...) are dropped, kinds it does not run are skipped, and an
    object it cannot read is left out, so the same rules apply to what it can read.
    """
    try:
        return _parse(documents, check_references, strict)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidResource(f"malformed resource: {type(exc).__name__} {exc}") from exc


def _document_namespace(doc: dict[str, Any], app_namespace: str, resource: str) -> str:
    """The namespace a document lives in; the local mesh runs one application namespace."""
    namespace = (doc.get("metadata") or {}).get("namespace") or app_namespace
    allowed = {app_namespace} | ({ROOT_NAMESPACE} if doc.get("kind") in _ROOT_KINDS else set())
    if namespace not in allowed:
        raise InvalidResource(
            f"{resource}: namespace {namespace} is not run by the local mesh (it runs "
            f"namespace {app_namespace}, plus {ROOT_NAMESPACE} for mesh-wide policies "
            "and the ingress gateway's)"
        )
    return namespace


_ROOT_KINDS = {"PeerAuthentication", "AuthorizationPolicy", "Gateway"}
"""Kinds that may live in the root namespace: mesh-wide policies, the ingress gateway's."""


def _check_kind(doc: dict[str, Any], resource: str) -> None:
    """Refuse what the local mesh would otherwise silently ignore."""
    kind = str(doc.get("kind"))
    api_version = str(doc.get("apiVersion", ""))
    if is_istio(api_version):
        if kind in NOT_IMPLEMENTED:
            raise UnsupportedKind(resource, NOT_IMPLEMENTED[kind])
        if kind not in IMPLEMENTED:
            raise InvalidResource(f"{resource}: unknown Istio kind {kind} ({api_version})")
    elif is_gateway_api(api_version):
        raise UnsupportedKind(resource, GATEWAY_API_DOCS)
    elif kind not in KUBERNETES_RUN | KUBERNETES_INERT:
        raise InvalidResource(
            f"{resource}: kind {kind} ({api_version}) is not run by the local mesh "
            f"(it runs {', '.join(sorted(KUBERNETES_RUN))}; "
            f"{', '.join(sorted(KUBERNETES_INERT))} have no local effect)"
        )


def _parse(
    documents: list[dict[str, Any]], check_references: bool = True, strict: bool = True
) -> MeshResources:
    result = MeshResources()
    result.namespace = next(
        (d["metadata"]["name"] for d in documents if d.get("kind") == "Namespace"),
        next(
            (
                d["metadata"]["namespace"]
                for d in documents
                if (d.get("metadata") or {}).get("namespace", ROOT_NAMESPACE) != ROOT_NAMESPACE
            ),
            result.namespace,
        ),
    )
    secrets = {
        d["metadata"]["name"]: _decode_secret(d) for d in documents if d.get("kind") == "Secret"
    }
    for doc in documents:
        if strict:
            _parse_document(result, doc, secrets)
            continue
        pruned = _lenient(doc, result.namespace)
        if pruned is not None:
            try:
                _parse_document(result, pruned, secrets)
            except (InvalidResource, KeyError, TypeError, ValueError, AttributeError):
                continue  # a live object the local model cannot read: not reported on
    if check_references:
        _check_references(result)
    return result


def _parse_document(
    result: MeshResources, doc: dict[str, Any], secrets: dict[str, dict[str, str]]
) -> None:
    """Add one document to `result`, checked strictly (unknown field or kind: an error)."""
    kind = doc.get("kind")
    meta = doc.get("metadata") or {}
    name = meta.get("name", "?")
    spec = doc.get("spec") or {}
    resource = f"{kind} {name}"
    _check_kind(doc, resource)
    namespace = (
        result.namespace
        if kind == "Namespace"
        else _document_namespace(doc, result.namespace, resource)
    )
    if kind in SCHEMAS:
        resource = f"{kind} {name}.{namespace}"
        body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
        check_fields(body, SCHEMAS[kind], resource, "")
        check_fields(meta, _META, resource, "metadata")
    if kind == "Namespace":
        result.namespace = name
    elif kind == "Deployment":
        template = spec.get("template") or {}
        pod_spec = template.get("spec") or {}
        container = (pod_spec.get("containers") or [{}])[0]
        ports = container.get("ports") or [{"containerPort": 8080}]
        result.workloads.append(
            Workload(
                name=name,
                replicas=int(spec.get("replicas", 1)),
                labels=_labels((template.get("metadata") or {}).get("labels")),
                service_account=pod_spec.get("serviceAccountName", "default"),
                container_port=int(ports[0]["containerPort"]),
                env=tuple(_parse_env(container, secrets)),
            )
        )
    elif kind == "Service":
        result.services.append(
            Service(
                name=name,
                selector=_labels(spec.get("selector")),
                ports=tuple(
                    ServicePort(
                        name=p.get("name", ""),
                        port=int(p["port"]),
                        target_port=int(p.get("targetPort", p["port"]))
                        if str(p.get("targetPort", p["port"])).isdigit()
                        else int(p["port"]),
                    )
                    for p in spec.get("ports") or []
                ),
            )
        )
    elif kind == "VirtualService":
        result.virtual_services.append(_parse_virtual_service(name, spec, namespace))
    elif kind == "DestinationRule":
        result.destination_rules.append(_parse_destination_rule(name, spec, namespace))
    elif kind == "PeerAuthentication":
        result.peer_authentications.append(
            _parse_peer_authentication(name, spec, namespace, resource)
        )
    elif kind == "AuthorizationPolicy":
        result.authorization_policies.append(
            parse_authorization_policy(name, namespace, meta, spec)
        )
    elif kind == "Gateway":
        result.gateways.append(_parse_gateway(name, spec, namespace, resource))


HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC"}
"""Gateway server protocols the local ingress serves (plaintext HTTP, HTTP/2 prior knowledge)."""


def _parse_gateway(name: str, spec: dict[str, Any], namespace: str, resource: str) -> Gateway:
    """Validated as validation.go validateServer does, for the servers the local mesh runs."""
    servers = []
    for index, server in enumerate(spec.get("servers") or []):
        where = f"{resource}: spec.servers[{index}]"
        hosts = tuple(server.get("hosts") or ())
        if not hosts:
            raise InvalidResource(f"{where}: server config must contain at least one host")
        for host in hosts:
            if host.count("/") > 1 or host.endswith("/") or (host.startswith("/")):
                raise InvalidResource(f"{where}.hosts: invalid host {host!r}")
        port = server.get("port") or {}
        if "number" not in port:
            raise InvalidResource(f"{where}.port: port is required")
        protocol = str(port.get("protocol", "")).upper()
        if protocol not in HTTP_PROTOCOLS:
            raise UnsupportedField(
                resource,
                f"spec.servers[{index}].port.protocol={protocol or '(none)'}",
                f"{IMPLEMENTED['Gateway']} (the local ingress serves "
                f"{', '.join(sorted(HTTP_PROTOCOLS))})",
            )
        servers.append(GatewayServer(port=int(port["number"]), protocol=protocol, hosts=hosts))
    if len({s.port for s in servers}) > 1:
        raise InvalidResource(
            f"{resource}: spec.servers: the local ingress gateway serves one port; "
            f"these servers use {sorted({s.port for s in servers})}"
        )
    return Gateway(
        name=name,
        selector=_labels(spec.get("selector")),
        servers=tuple(servers),
        namespace=namespace,
    )


def dangling_destinations(
    resources: MeshResources,
) -> list[tuple[VirtualService, Destination, str]]:
    """Destinations naming what does not exist: `host` (no Service) or `subset` (not in the
    host's DestinationRule). The parser refuses the first; `voting analyze` reports them all."""
    found = []
    for vs in resources.virtual_services:
        for rule in vs.http:
            for dest in rule.destinations:
                if resources.service(dest.host) is None:
                    found.append((vs, dest, "host"))
                    continue
                rule_ = resources.destination_rule(dest.host) if dest.subset else None
                if dest.subset and (rule_ is None or rule_.subset(dest.subset) is None):
                    found.append((vs, dest, "subset"))
    return found


def _check_references(resources: MeshResources) -> None:
    """Every host a VirtualService routes to has a Service, every subset a DestinationRule."""
    for vs, dest, what in dangling_destinations(resources)[:1]:
        if what == "host":
            raise InvalidResource(
                f"VirtualService {vs.name}: destination host {dest.host} has no Service"
            )
        raise InvalidResource(
            f"VirtualService {vs.name}: subset {dest.subset} of {dest.host} "
            "is not defined in a DestinationRule"
        )
