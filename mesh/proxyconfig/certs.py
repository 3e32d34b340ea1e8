"""`proxy-config secrets`: the certificates an Envoy serves and trusts, read where it reads them.

The local mesh hands Envoy its identity as files (no SDS), so config_dump's secrets section
is empty and the transport sockets only name the files. The rows come from parsing those
files, as istioctl's come from SDS: a missing or expired file, or a leaf not issued by the
CA beside it, is what would break mutual TLS, so that is what VALID CERT says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtensionOID

from mesh.proxyconfig.dump import listener_configs, section


@dataclass(frozen=True)
class SecretRow:
    resource_name: str
    type: str
    status: str
    valid: bool
    serial: str
    not_after: str
    not_before: str
    identity: str
    path: str


def _contexts(dump: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every common_tls_context of the clusters' and listeners' transport sockets."""
    part = section(dump, "clusters")
    for entry in part.get("static_clusters", []) + part.get("dynamic_active_clusters", []):
        socket = entry.get("cluster", {}).get("transport_socket", {})
        yield socket.get("typed_config", {}).get("common_tls_context", {})
    for listener in listener_configs(dump):
        for chain in listener.get("filter_chains", []):
            socket = chain.get("transport_socket", {})
            yield socket.get("typed_config", {}).get("common_tls_context", {})


def referenced_files(dump: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(kind, path, CA path beside it) for each distinct certificate file the config names."""
    found: dict[tuple[str, str], str | None] = {}
    for context in _contexts(dump):
        ca = context.get("validation_context", {}).get("trusted_ca", {}).get("filename")
        for cert in context.get("tls_certificates", []):
            path = cert.get("certificate_chain", {}).get("filename")
            if path:
                found.setdefault(("Cert Chain", path), ca)
        if ca:
            found.setdefault(("CA", ca), None)
    order = {"Cert Chain": 0, "CA": 1}
    return sorted(
        ((kind, path, ca) for (kind, path), ca in found.items()), key=lambda t: order[t[0]]
    )


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _identity(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return cert.subject.rfc4514_string() or "-"
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return ", ".join(uris) or "-"


def _load(read: Callable[[str], bytes], path: str) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificates(read(path))[0]
    except (OSError, ValueError, IndexError):
        return None


def secret_rows(
    dump: dict[str, Any],
    now: dt.datetime | None = None,
    read: Callable[[str], bytes] = lambda p: Path(p).read_bytes(),
) -> list[SecretRow]:
    """istioctl's names: the workload identity is `default`, the trust anchor `ROOTCA`."""
    now = now or dt.datetime.now(dt.UTC)
    rows = []
    for kind, path, ca_path in referenced_files(dump):
        name = "default" if kind == "Cert Chain" else "ROOTCA"
        cert = _load(read, path)
        if cert is None:
            rows.append(SecretRow(name, kind, "MISSING", False, "-", "-", "-", "-", path))
            continue
        valid = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
        issuer = _load(read, ca_path) if ca_path else None
        if valid and issuer is not None:
            try:
                cert.verify_directly_issued_by(issuer)
            except (InvalidSignature, ValueError, TypeError):
                valid = False
        rows.append(
            SecretRow(
                name,
                kind,
                "ACTIVE",
                valid,
                format(cert.serial_number, "x"),
                _stamp(cert.not_valid_after_utc),
                _stamp(cert.not_valid_before_utc),
                _identity(cert),
                path,
            )
        )
    return rows


def sds_rows(dump: dict[str, Any]) -> list[SecretRow]:
    """Secrets config_dump holds itself (an Envoy fed by SDS); none on the local mesh."""
    part = section(dump, "secrets")
    rows = []
    for entry in part.get("dynamic_active_secrets", []) + part.get("static_secrets", []):
        secret = entry.get("secret", {})
        kind = "CA" if "validation_context" in secret else "Cert Chain"
        rows.append(
            SecretRow(entry.get("name", "-"), kind, "ACTIVE", True, "-", "-", "-", "-", "-")
        )
    return rows
