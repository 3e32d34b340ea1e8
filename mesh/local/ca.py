"""A local certificate authority issuing Istio-style workload identities.

Each workload gets a short-lived certificate whose URI SAN is its SPIFFE id,
`spiffe://cluster.local/ns/<namespace>/sa/<service-account>`, as Istio's CA (istiod) does.
Envoy verifies peers against the CA and matches the SAN for authorization.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TRUST_DOMAIN = "cluster.local"
WORKLOAD_CERT_TTL = dt.timedelta(hours=24)  # Istio's default workload certificate lifetime


def spiffe_id(namespace: str, service_account: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}"


@dataclass(frozen=True)
class IssuedCert:
    """Paths of one identity's PEM files, as Envoy reads them."""

    cert: Path
    key: Path
    ca: Path
    spiffe: str


class LocalCA:
    """A self-signed root kept in `directory`; reused across runs when still valid."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_path = directory / "root-cert.pem"
        key_path = directory / "root-key.pem"
        now = dt.datetime.now(dt.UTC)
        if self.ca_path.exists() and key_path.exists():
            self._cert = x509.load_pem_x509_certificate(self.ca_path.read_bytes())
            self._key = serialization.load_pem_private_key(key_path.read_bytes(), None)
            if self._cert.not_valid_after_utc > now + dt.timedelta(days=1):
                return
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, TRUST_DOMAIN)])
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        _write_private(key_path, _key_pem(self._key))
        self.ca_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, namespace: str, service_account: str, name: str) -> IssuedCert:
        """Issue (or reuse, while valid for another hour) the identity of one workload."""
        identity = spiffe_id(namespace, service_account)
        cert_path = self.directory / f"{name}-cert.pem"
        key_path = self.directory / f"{name}-key.pem"
        now = dt.datetime.now(dt.UTC)
        if cert_path.exists() and key_path.exists():
            existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if (
                existing.not_valid_after_utc > now + dt.timedelta(hours=1)
                and _san(existing) == identity
            ):
                return IssuedCert(cert_path, key_path, self.ca_path, identity)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + WORKLOAD_CERT_TTL)
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return IssuedCert(cert_path, key_path, self.ca_path, identity)

    def issue_server(self, hosts: list[str], days: int = 90) -> tuple[bytes, bytes]:
        """A server certificate (PEM cert, PEM key) for DNS names: what a Gateway's TLS Secret
        holds (`voting tls-secret`); clients trust it with this CA (`curl --cacert`)."""
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def tls_secret_document(
    ca: LocalCA, hosts: list[str], name: str, namespace: str = "istio-system"
) -> dict[str, object]:
    """A kubernetes.io/tls Secret holding a server certificate from `ca` for `hosts`: what a
    Gateway's credentialName names (`voting tls-secret` prints it)."""
    cert, key = ca.issue_server(hosts)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(cert).decode(),
            "tls.key": base64.b64encode(key).decode(),
        },
    }


def _san(cert: x509.Certificate) -> str | None:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(data)
