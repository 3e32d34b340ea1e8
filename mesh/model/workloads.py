"""Deployments, Services and Secrets: the pods the local mesh runs and how they are addressed."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from functions.names import APP_FUNCTIONS


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


def parse_env(
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


def decode_secret(doc: dict[str, Any]) -> dict[str, str]:

    values = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
    values.update({k: str(v) for k, v in (doc.get("stringData") or {}).items()})
    return values
