"""`voting tls-check`: mutual-TLS state of a service, like `istioctl authn tls-check`.

The verdict comes from the configuration in force (PeerAuthentication on the server side,
DestinationRule or auto mTLS on the client side) and is confirmed by a live probe of every
endpoint: one plaintext request and one mutual-TLS request with a mesh identity.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh.local.ca import LocalCA

PROBE_ACCOUNT = "voting-tls-check"
SERVER_COLUMN = {"STRICT": "mTLS", "PERMISSIVE": "HTTP/mTLS", "DISABLE": "HTTP"}
CLIENT_COLUMN = {"ISTIO_MUTUAL": "mTLS", "DISABLE": "HTTP"}


@dataclass
class ProbeResult:
    plaintext_accepted: bool
    mtls_accepted: bool


async def _http_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: tls-check\r\nConnection: close\r\n\r\n")
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 2)
    writer.close()
    return line.startswith(b"HTTP/")


async def probe(port: int, context: ssl.SSLContext) -> ProbeResult:
    """Try one plaintext and one mutual-TLS request against a sidecar's inbound port."""

    async def attempt(tls: ssl.SSLContext | None) -> bool:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    "127.0.0.1", port, ssl=tls, server_hostname=None if tls is None else "probe"
                ),
                2,
            )
            return await _http_answer(reader, writer)
        except (OSError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError):
            return False

    return ProbeResult(await attempt(None), await attempt(context))


def probe_context(
    state_dir: Path, namespace: str = "voting", account: str = PROBE_ACCOUNT
) -> ssl.SSLContext:
    """A client TLS context holding a mesh identity issued by the local CA."""
    ca = LocalCA(state_dir / "ca")
    cert = ca.issue(namespace, account, account)
    context = ssl.create_default_context(cafile=str(cert.ca))
    context.check_hostname = False  # Istio checks the SPIFFE SAN, not a host name
    context.load_cert_chain(str(cert.cert), str(cert.key))
    return context


async def tls_check(status: dict[str, Any], service: str, state_dir: Path) -> list[dict[str, Any]]:
    """One row per matching service, with the configured modes and what the probe saw."""
    rows = []
    context = probe_context(state_dir)
    wanted = service.split(".", 1)[0]
    for entry in status["services"]:
        if wanted not in ("", "all") and entry["name"] != wanted:
            continue
        pods = [p for w in status["workloads"] if w["app"] == entry["name"] for p in w["pods"]]
        results = await asyncio.gather(*(probe(p["inbound_port"], context) for p in pods))
        server = entry["peer_authentication"]
        client = entry["client_tls"]
        configured_ok = not (
            (server == "STRICT" and client == "DISABLE")
            or (server == "DISABLE" and client == "ISTIO_MUTUAL")
        )
        expect_plain = server != "STRICT"
        expect_mtls = server != "DISABLE"
        live_ok = all(
            r.plaintext_accepted == expect_plain and r.mtls_accepted == expect_mtls for r in results
        )
        rows.append(
            {
                "host": f"{entry['name']}.voting.svc.cluster.local:8080",
                "status": "OK"
                if configured_ok and live_ok
                else ("CONFLICT" if not configured_ok else "MISMATCH"),
                "server": SERVER_COLUMN.get(server, server),
                "client": CLIENT_COLUMN.get(client, client),
                "authn_policy": entry["authn_policy"],
                "destination_rule": entry["destination_rule"],
                "probe": {
                    "endpoints": len(results),
                    "plaintext_accepted": sum(r.plaintext_accepted for r in results),
                    "mtls_accepted": sum(r.mtls_accepted for r in results),
                },
            }
        )
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    header = (
        "HOST:PORT",
        "STATUS",
        "SERVER",
        "CLIENT",
        "AUTHN POLICY",
        "DESTINATION RULE",
        "PROBE",
    )
    lines = [header]
    for row in rows:
        probe_ = row["probe"]
        lines.append(
            (
                row["host"],
                row["status"],
                row["server"],
                row["client"],
                row["authn_policy"],
                row["destination_rule"],
                f"plaintext {probe_['plaintext_accepted']}/{probe_['endpoints']} "
                f"mTLS {probe_['mtls_accepted']}/{probe_['endpoints']} accepted",
            )
        )
    widths = [max(len(line[i]) for line in lines) + 3 for i in range(len(header))]
    return "\n".join(
        "".join(col.ljust(w) for col, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
