"""DestinationRule: subsets and the client TLS mode (networking/v1alpha3/destination_rule.proto)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh.model.errors import UnsupportedField
from mesh.model.fields import LEAF, labels

SCHEMA = {
    "spec": {
        "host": LEAF,
        "trafficPolicy": {"tls": {"mode": LEAF}},
        "subsets": [{"name": LEAF, "labels": LEAF, "trafficPolicy": {"tls": {"mode": LEAF}}}],
    }
}


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


_TLS_MODES = {"ISTIO_MUTUAL", "DISABLE"}


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


def parse_destination_rule(name: str, spec: dict[str, Any], namespace: str) -> DestinationRule:
    where = f"DestinationRule {name}.{namespace}"
    return DestinationRule(
        name=name,
        host=spec["host"],
        tls_mode=_tls_mode(spec.get("trafficPolicy"), where),
        subsets=tuple(
            Subset(
                name=s["name"],
                labels=labels(s.get("labels")),
                tls_mode=_tls_mode(s.get("trafficPolicy"), where),
            )
            for s in spec.get("subsets") or []
        ),
        namespace=namespace,
    )
