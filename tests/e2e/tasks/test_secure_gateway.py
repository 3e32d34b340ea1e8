"""Istio task "Secure Gateways": the ingress serves HTTPS with a Secret's certificate and
redirects plain HTTP to it.

Checks pilot/pkg/networking/core/gateway.go as the local mesh compiles it (a TLS filter chain
with the credentialName Secret's certificate; an httpsRedirect server's requests answered 301
to https) on real Envoy: a client trusting the local CA gets the page over HTTPS with the
certificate `voting tls-secret` issued for `voting.example`; plaintext to the HTTPS port gets
no page; a Gateway naming a missing Secret, or a Secret without its key, is refused naming
the field, and what was applied keeps serving.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.local_system import LocalSystem
from tests.e2e.tasks.support import APP_VERSION, requests, wait_for
from tests.support.tasks import task_path

pytestmark = pytest.mark.e2e

TASK = "secure-gateway"
HOST = "voting.example"


def https_get(system: LocalSystem, url: str) -> tuple[int, str]:
    """GET over TLS, verifying the certificate for HOST against the system's local CA."""
    context = ssl.create_default_context(cafile=str(system.state_dir / "ca" / "root-cert.pem"))

    async def go() -> tuple[int, str]:
        connector = aiohttp.TCPConnector(ssl=context)
        timeout = aiohttp.ClientTimeout(total=20)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.get(url, server_hostname=HOST, headers={"Host": HOST}) as answer,
        ):
            return answer.status, await answer.text()

    return asyncio.run(go())


def plaintext_get(url: str) -> str:
    """What a plain HTTP request to the HTTPS port gets: an error, never a page."""

    async def go() -> str:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                async with session.get(url) as answer:
                    return f"HTTP {answer.status}: {(await answer.text())[:80]}"
            except aiohttp.ClientError as exc:
                return f"refused: {type(exc).__name__}"

    return asyncio.run(go())


def test_https_with_the_secrets_certificate_and_plain_http_redirected_until_deleted(
    task_system: LocalSystem, tmp_path: Path
) -> None:
    assert task_system.status()["ingress_https"] is None  # no HTTPS server at step 4

    # Bad input first: the Gateway names a Secret that does not exist yet.
    refused = task_system.cli("apply", "-f", str(task_path(TASK)))
    assert refused.returncode == 2, refused
    assert "tls.credentialName: no kubernetes.io/tls Secret 'voting-credential'" in refused.stderr

    issued = task_system.cli("tls-secret", "--host", HOST)
    assert issued.returncode == 0, issued.stderr
    secret = tmp_path / "secret.yaml"
    secret.write_text(issued.stdout)
    applied = task_system.cli("apply", "-f", str(secret))
    assert applied.returncode == 0, applied.stderr
    gateway = task_path(TASK)
    try:
        done = task_system.cli("apply", "-f", str(gateway))
        assert done.returncode == 0, done.stderr
        https_url = task_system.status()["ingress_https"]
        assert https_url and https_url.startswith("https://127.0.0.1:"), https_url
        wait_for(task_system, lambda a: a.status == 301, "plain HTTP redirected")
        (moved,) = requests(task_system, 1)
        assert moved.headers.get("location") == https_url, moved.headers
        status, page = https_get(task_system, https_url)
        assert status == 200 and APP_VERSION.search(page), page[:200]
        assert plaintext_get(https_url.replace("https://", "http://")).startswith("refused")

        # A Secret without its key is refused whole; the certificate in force keeps serving.
        broken = tmp_path / "broken.yaml"
        broken.write_text(
            "\n".join(line for line in issued.stdout.splitlines() if "tls.key" not in line)
        )
        refused = task_system.cli("apply", "-f", str(broken))
        assert refused.returncode == 2, refused
        assert "Secret 'voting-credential' has no tls.key" in refused.stderr, refused.stderr
        assert https_get(task_system, https_url)[0] == 200
    finally:  # the Gateway first: the Secret may only go once nothing names it
        for path in (gateway, secret):
            deleted = task_system.cli("delete", "-f", str(path), "--ignore-not-found")
            assert deleted.returncode == 0, deleted.stderr
    wait_for(task_system, lambda a: a.status == 200, "plain HTTP served again")
    assert not task_system.status().get("applied"), task_system.status().get("applied")
