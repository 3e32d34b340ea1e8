"""PeerAuthentication: the mutual-TLS mode a workload accepts (security/v1beta1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh.model.errors import InvalidResource
from mesh.model.fields import LEAF, labels

SCHEMA = {
    "spec": {
        "selector": {"matchLabels": LEAF},
        "mtls": {"mode": LEAF},
        "portLevelMtls": {"*": {"mode": LEAF}},
    },
}


@dataclass(frozen=True)
class PeerAuthentication:
    """`mtls.mode` for the workloads it selects; `port_level` by container port (selector only)."""

    name: str
    selector: tuple[tuple[str, str], ...] | None
    mode: str
    namespace: str = "voting"
    port_level: tuple[tuple[int, str], ...] = ()


_MTLS_MODES = {"STRICT", "PERMISSIVE", "DISABLE", "UNSET"}


def _mtls_mode(value: dict[str, Any] | None, where: str) -> str:
    mode = (value or {}).get("mode", "UNSET")
    if mode not in _MTLS_MODES:
        raise InvalidResource(f"{where}: unknown mtls mode {mode}")
    return str(mode)


def parse_peer_authentication(
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
        labels(selector) if selector else None,
        _mtls_mode(spec.get("mtls"), resource),
        namespace=namespace,
        port_level=tuple(sorted(ports)),
    )
