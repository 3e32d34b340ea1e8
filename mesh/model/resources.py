"""The Kubernetes and Istio resources the local mesh honours, parsed strictly.

A rendered step (see `mesh.steps.render_step`) is a list of plain dicts. `parse_resources`
turns it into the typed view `MeshResources`, one module per kind (virtual_service,
destination_rule, peer_authentication, authorization, gateway, workloads). Istio fields the
local mesh does not implement are an error naming the field (`UnsupportedField`), never
silently ignored: a user must not believe a policy is in force when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mesh.model import (
    destination_rule,
    gateway,
    peer_authentication,
    request_authentication,
    virtual_service,
)
from mesh.model.authorization import SCHEMA as AUTHORIZATION_POLICY_SCHEMA
from mesh.model.authorization import AuthorizationPolicy, parse_authorization_policy
from mesh.model.destination_rule import DestinationRule, parse_destination_rule
from mesh.model.errors import InvalidResource, UnsupportedKind
from mesh.model.fields import META_SCHEMA, check_fields, fqdn, labels, prune_fields, short_host
from mesh.model.gateway import Gateway, parse_gateway
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
from mesh.model.peer_authentication import PeerAuthentication, parse_peer_authentication
from mesh.model.request_authentication import (
    RequestAuthentication,
    parse_request_authentication,
)
from mesh.model.virtual_service import Destination, VirtualService, parse_virtual_service
from mesh.model.workloads import Service, ServicePort, Workload, decode_secret, parse_env

SCHEMAS: dict[str, dict[str, Any]] = {
    "VirtualService": virtual_service.SCHEMA,
    "DestinationRule": destination_rule.SCHEMA,
    "PeerAuthentication": peer_authentication.SCHEMA,
    "AuthorizationPolicy": AUTHORIZATION_POLICY_SCHEMA,
    "Gateway": gateway.SCHEMA,
    "RequestAuthentication": request_authentication.SCHEMA,
}
"""The strict schema of every Istio kind the local mesh runs."""


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
    request_authentications: list[RequestAuthentication] = field(default_factory=list)
    tls_secrets: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    """Secrets of type kubernetes.io/tls by (namespace, name): a Gateway's credentialName."""

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


_ROOT_KINDS = {
    "PeerAuthentication",
    "AuthorizationPolicy",
    "Gateway",
    "RequestAuthentication",
    "Secret",  # the ingress gateway's TLS credentials live beside it
}
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
    secrets: dict[str, dict[str, str]] = {}
    for doc in documents:
        if doc.get("kind") != "Secret":
            continue
        meta = doc["metadata"]
        secrets[meta["name"]] = decode_secret(doc)
        if doc.get("type") == "kubernetes.io/tls":  # a Gateway's credentialName
            namespace = meta.get("namespace") or result.namespace
            result.tls_secrets[(namespace, meta["name"])] = secrets[meta["name"]]
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
        _check_mirrors(result)
        _check_credentials(result)
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
        check_fields(meta, META_SCHEMA, resource, "metadata")
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
                labels=labels((template.get("metadata") or {}).get("labels")),
                service_account=pod_spec.get("serviceAccountName", "default"),
                container_port=int(ports[0]["containerPort"]),
                env=tuple(parse_env(container, secrets)),
            )
        )
    elif kind == "Service":
        result.services.append(
            Service(
                name=name,
                selector=labels(spec.get("selector")),
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
        result.virtual_services.append(parse_virtual_service(name, spec, namespace))
    elif kind == "DestinationRule":
        result.destination_rules.append(parse_destination_rule(name, spec, namespace))
    elif kind == "PeerAuthentication":
        result.peer_authentications.append(
            parse_peer_authentication(name, spec, namespace, resource)
        )
    elif kind == "AuthorizationPolicy":
        result.authorization_policies.append(
            parse_authorization_policy(name, namespace, meta, spec)
        )
    elif kind == "RequestAuthentication":
        result.request_authentications.append(
            parse_request_authentication(name, spec, namespace, resource)
        )
    elif kind == "Gateway":
        result.gateways.append(parse_gateway(name, spec, namespace, resource))


def dangling_destinations(
    resources: MeshResources,
) -> list[tuple[VirtualService, Destination, str]]:
    """Destinations naming what does not exist: `host` (no Service) or `subset` (not in the
    host's DestinationRule). The parser refuses the first; `voting analyze` reports them all."""
    found = []
    for vs in resources.virtual_services:
        for rule in vs.http:
            for dest in (*rule.destinations, *(m.destination for m in rule.mirrors)):
                if resources.service(dest.host) is None:
                    found.append((vs, dest, "host"))
                    continue
                rule_ = resources.destination_rule(dest.host) if dest.subset else None
                if dest.subset and (rule_ is None or rule_.subset(dest.subset) is None):
                    found.append((vs, dest, "subset"))
    return found


def _check_credentials(resources: MeshResources) -> None:
    """Every HTTPS server's credentialName names a kubernetes.io/tls Secret holding `tls.crt` and
    `tls.key` in the gateway workload's namespace (istio-system, where Istio's Secure Gateways
    task creates it), what istiod's SDS would serve the gateway."""
    for gw in resources.gateways:
        for index, server in enumerate(gw.servers):
            if server.credential_name is None:
                continue
            where = f"Gateway {gw.name}.{gw.namespace}: spec.servers[{index}].tls.credentialName"
            secret = resources.tls_secrets.get((ROOT_NAMESPACE, server.credential_name))
            if secret is None:
                raise InvalidResource(
                    f"{where}: no kubernetes.io/tls Secret {server.credential_name!r} in "
                    f"namespace {ROOT_NAMESPACE} (`voting tls-secret` issues one)"
                )
            for key in ("tls.crt", "tls.key"):
                if not secret.get(key, "").strip():
                    raise InvalidResource(
                        f"{where}: Secret {server.credential_name!r} has no {key}"
                    )


def _check_mirrors(resources: MeshResources) -> None:
    """A mirror goes to one cluster (route.go TranslateRequestMirrorPolicy); the local mesh keeps
    one cluster per version, so a mirror to several versions must name a subset."""
    for vs in resources.virtual_services:
        for rule in vs.http:
            for mirror in rule.mirrors:
                dest = mirror.destination
                service = resources.service(dest.host)
                if dest.subset or service is None:
                    continue
                versions = sorted(
                    {w.version for w in resources.workloads if service.selects(dict(w.labels))}
                )
                if len(versions) > 1:
                    raise InvalidResource(
                        f"VirtualService {vs.name}: mirror to {dest.host} reaches versions "
                        f"{', '.join(versions)}: name a subset (the local mesh keeps one "
                        "cluster per version, and a mirror goes to one cluster)"
                    )


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
        "metadata": {k: meta[k] for k in META_SCHEMA if k in meta},
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
