"""Istio's schema for the kinds the mesh uses, with unknown fields rejected.

The cloudcoil-models-istio pydantic models ignore unknown fields by default (pydantic's
`extra="ignore"`) and also accept Python-style field names (`populate_by_name`). Validating
with `extra="forbid", by_alias=True, by_name=False` makes them reject both, at any depth,
so a typo such as `wieght` or `source_labels` fails instead of being silently dropped.
"""

from __future__ import annotations

from typing import Any

from cloudcoil.models.istio.networking import v1 as networking
from cloudcoil.models.istio.security import v1 as security

MODELS = {
    ("networking.istio.io/v1", "Gateway"): networking.Gateway,
    ("networking.istio.io/v1", "VirtualService"): networking.VirtualService,
    ("networking.istio.io/v1", "DestinationRule"): networking.DestinationRule,
    ("security.istio.io/v1", "PeerAuthentication"): security.PeerAuthentication,
    ("security.istio.io/v1", "AuthorizationPolicy"): security.AuthorizationPolicy,
    ("security.istio.io/v1", "RequestAuthentication"): security.RequestAuthentication,
}


class UnknownIstioKind(LookupError):
    """An Istio apiVersion/kind this project has no schema for."""


def validate_istio(obj: dict[str, Any]) -> None:
    """Raise pydantic.ValidationError (or UnknownIstioKind) unless obj fits Istio's schema."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    model = MODELS.get(key)
    if model is None:
        raise UnknownIstioKind(f"no Istio schema for {key[0]} {key[1]}")
    model.model_validate(obj, extra="forbid", by_alias=True, by_name=False)
