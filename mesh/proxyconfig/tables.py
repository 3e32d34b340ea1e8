"""Rows as istioctl prints them: upper-case headers, columns padded to their widest cell.

Kept apart from dump.py so that what Envoy holds and how it is shown change independently
(and the tables can be tested on a saved config_dump without any Envoy running).
"""

from __future__ import annotations

from collections.abc import Sequence

from mesh.proxyconfig.certs import SecretRow
from mesh.proxyconfig.dump import ClusterRow, EndpointRow, ListenerRow, RouteRow

GAP = "  "  # between columns, as istioctl's tabwriter pads them


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    lines = [
        GAP.join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    ]
    return "\n".join(lines)


def listeners_table(rows: Sequence[ListenerRow]) -> str:
    return table(
        ("ADDRESS:PORT", "MATCH", "DESTINATION"),
        [(r.address, r.match, r.destination) for r in rows],
    )


def routes_table(rows: Sequence[RouteRow]) -> str:
    return table(
        ("NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE", "ROUTE", "ACTION"),
        [(r.name, r.vhost, r.domains, r.match, r.virtual_service, r.route, r.action) for r in rows],
    )


def clusters_table(rows: Sequence[ClusterRow]) -> str:
    return table(
        (
            "SERVICE FQDN",
            "PORT",
            "SUBSET",
            "VERSION",
            "DIRECTION",
            "TYPE",
            "DESTINATION RULE",
            "TLS",
        ),
        [
            (r.fqdn, r.port, r.subset, r.version, r.direction, r.type, r.destination_rule, r.tls)
            for r in rows
        ],
    )


def endpoints_table(rows: Sequence[EndpointRow]) -> str:
    return table(
        ("ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"),
        [(r.endpoint, r.status, r.outlier_check, r.cluster) for r in rows],
    )


def secrets_table(rows: Sequence[SecretRow]) -> str:
    return table(
        (
            "RESOURCE NAME",
            "TYPE",
            "STATUS",
            "VALID CERT",
            "SERIAL NUMBER",
            "NOT AFTER",
            "NOT BEFORE",
            "IDENTITY",
        ),
        [
            (
                r.resource_name,
                r.type,
                r.status,
                str(r.valid).lower(),
                r.serial,
                r.not_after,
                r.not_before,
                r.identity,
            )
            for r in rows
        ],
    )
