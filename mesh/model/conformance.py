"""docs/istio-conformance.md, generated from the model: what the local mesh does with each field.

Every field of the Istio kinds the local mesh runs is listed with one of three verdicts:
- **supported**: compiled into Envoy as istiod would compile it;
- **rejected**: an error naming the field (and why) when a document uses it;
- kinds the local mesh does not run at all are rejected whole, with their docs page.

The field list comes from the typed Istio models of `cloudcoil-models-istio` (a dev
dependency, generated from istio/api), walked recursively; the verdict from the model's own
strict schemas (`mesh.model.resources.SCHEMAS`) and refusals, so the page cannot drift from
the code: `python -m mesh.model.conformance > docs/istio-conformance.md` regenerates it and a
test checks it is current.
"""

from __future__ import annotations

import importlib
import typing
from typing import Any

from mesh.model.fields import LEAF
from mesh.model.kinds import (
    GATEWAY_API_DOCS,
    IMPLEMENTED,
    ISTIO_VERSION,
    KUBERNETES_INERT,
    KUBERNETES_RUN,
    NOT_IMPLEMENTED,
)
from mesh.model.resources import SCHEMAS

MODELS = {
    "VirtualService": "cloudcoil.models.istio.networking.v1",
    "DestinationRule": "cloudcoil.models.istio.networking.v1",
    "Gateway": "cloudcoil.models.istio.networking.v1",
    "PeerAuthentication": "cloudcoil.models.istio.security.v1",
    "AuthorizationPolicy": "cloudcoil.models.istio.security.v1",
    "RequestAuthentication": "cloudcoil.models.istio.security.v1",
}

REFUSED_VALUES = {
    "AuthorizationPolicy": {
        "spec.action": "ALLOW and DENY; AUDIT (needs an audit sink) and CUSTOM (needs an "
        "ext_authz provider) are refused",
        "spec.provider": "refused: CUSTOM is not run locally",
        "spec.targetRef": "refused: workloads are selected with spec.selector",
        "spec.targetRefs": "refused: workloads are selected with spec.selector",
        "spec.rules[].when[].key": "request.auth.* and experimental.envoy.filters.* are refused",
        **{
            f"spec.rules[].from[].source.{name}": "`*`, `<iss>/<sub>` and `<iss>/*`, matched on "
            "the validated JWT's iss and sub; other wildcards refused"
            for name in ("requestPrincipals", "notRequestPrincipals")
        },
    },
    "DestinationRule": {
        "spec.trafficPolicy.tls.mode": "DISABLE and ISTIO_MUTUAL; SIMPLE and MUTUAL refused",
        "spec.subsets[].trafficPolicy.tls.mode": "DISABLE and ISTIO_MUTUAL; SIMPLE and MUTUAL "
        "refused",
    },
}
"""Fields accepted by the schema whose values are restricted, with what is refused."""


def _model_fields(model: Any) -> dict[str, Any]:
    """A pydantic model's fields by their YAML name (the alias, else the name)."""
    return {(info.alias or name): info.annotation for name, info in model.model_fields.items()}


def _walk(annotation: Any, path: str, seen: frozenset[Any]) -> list[str]:
    """Dotted paths of every leaf and object field below `annotation` (`[]` for list items)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _walk(typing.get_args(annotation)[0], path, seen)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        merged: dict[str, None] = {}
        for arg in typing.get_args(annotation):
            if arg is type(None):
                continue
            merged.update(dict.fromkeys(_walk(arg, path, seen)))
        return list(merged)
    if origin in (list, tuple):
        return _walk(typing.get_args(annotation)[0], f"{path}[]", seen)
    if origin is dict:
        return [path]
    if hasattr(annotation, "model_fields") and set(annotation.model_fields) == {"root"}:
        return _walk(annotation.model_fields["root"].annotation, path, seen)  # a RootModel
    if hasattr(annotation, "model_fields") and annotation not in seen:
        paths = [path]
        for name, sub in _model_fields(annotation).items():
            paths.extend(_walk(sub, f"{path}.{name}", seen | {annotation}))
        return paths
    return [path]


def istio_fields(kind: str) -> list[str]:
    module = importlib.import_module(MODELS[kind])
    spec = _model_fields(getattr(module, kind))["spec"]
    return sorted(dict.fromkeys(p for p in _walk(spec, "spec", frozenset()) if p != "spec"))


def supported(schema: Any, path: str) -> bool:
    """Whether the strict schema accepts `path` (a LEAF accepts everything below it)."""
    node = schema
    for part in path.split("."):
        if node is LEAF:
            return True
        key = part[:-2] if part.endswith("[]") else part
        if isinstance(node, list):
            node = node[0]
        if not isinstance(node, dict):
            return False
        if key in node:
            node = node[key]
        elif "*" in node:
            node = node["*"]
        else:
            return False
        if part.endswith("[]") and isinstance(node, list):
            node = node[0]
    return True


def verdicts(kind: str) -> list[tuple[str, str]]:
    schema = SCHEMAS[kind]
    refused = REFUSED_VALUES.get(kind, {})
    rows: list[tuple[str, str]] = []
    rejected: list[str] = []
    for path in istio_fields(kind):
        if any(path.startswith((parent + ".", parent + "[]")) for parent in rejected):
            continue  # under a rejected field: rejected with it
        bare = path.removesuffix("[]")
        if bare in refused:
            rows.append((path, refused[bare]))
            if refused[bare].startswith("refused"):
                rejected.append(path)
        elif supported(schema, path):
            rows.append((path, "supported"))
        else:
            rejected.append(path)
            rows.append((path, "rejected: an error names the field"))
    return rows


def render() -> str:
    lines = [
        "# Istio conformance of the local mesh",
        "",
        "<!-- generated by `python -m mesh.model.conformance`; tests/mesh/conformance/"
        "test_conformance_doc.py keeps it current -->",
        "",
        f"Target: Istio {ISTIO_VERSION}. Field lists come from the typed models of "
        "`cloudcoil-models-istio` (generated from istio/api, Istio 1.24: fields added later, "
        "such as AuthorizationPolicy `serviceAccounts`, are in the schemas but not listed "
        "here); verdicts from the local mesh's "
        "strict schemas. The same YAML runs unchanged on a cluster; locally, a field that is "
        "not supported is an error naming it, never silently ignored. Semantics follow "
        "Istio's source, case by case in `tests/mesh/conformance/` (each case names the "
        "Istio file that defines it).",
        "",
        "## Kinds",
        "",
        "| kind | locally | Istio docs |",
        "| --- | --- | --- |",
    ]
    for kind, docs in IMPLEMENTED.items():
        lines.append(f"| {kind} | supported (fields below) | {docs} |")
    for kind, docs in NOT_IMPLEMENTED.items():
        lines.append(f"| {kind} | rejected: an error names the kind | {docs} |")
    lines.append(
        f"| Gateway API kinds (gateway.networking.k8s.io) | rejected | {GATEWAY_API_DOCS} |"
    )
    lines.append(f"| {', '.join(sorted(KUBERNETES_RUN))} | run | - |")
    lines.append(f"| {', '.join(sorted(KUBERNETES_INERT))} | accepted, no local effect | - |")
    lines.append("| any other Kubernetes kind | rejected | - |")
    lines += [
        "",
        "Namespaces: the application namespace (`voting`) and the root namespace "
        "`istio-system` (mesh-wide PeerAuthentication, AuthorizationPolicy and RequestAuthentication, the ingress "
        "gateway's policies and Gateways); a document of any other namespace is rejected. "
        "The annotation `istio.io/dry-run` on an AuthorizationPolicy is honoured (shadow "
        "rules).",
    ]
    for kind in MODELS:
        rows = verdicts(kind)
        count = sum(1 for _, verdict in rows if verdict == "supported")
        lines += [
            "",
            f"## {kind}",
            "",
            f"{count} of {len(rows)} fields supported (the fields of a rejected field are "
            f"rejected with it). {IMPLEMENTED[kind]}",
            "",
            "| field | locally |",
            "| --- | --- |",
            *(f"| `{path}` | {verdict} |" for path, verdict in rows),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
