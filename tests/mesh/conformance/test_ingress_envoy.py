"""Real requests through the real ingress gateway and sidecars of a running local system.

- Paths: Istio's default `pathNormalization` (BASE: Envoy `normalize_path`, set on every HTTP
  connection manager by pilot/pkg/networking/core/listener_builder.go) means every RFC 3986
  spelling of a path is that path to routes and RBAC. No spelling of a path a gateway-facing
  policy denies reaches the app; nothing the policy allows is refused.
- A gateway is a workload: an AuthorizationPolicy of the root namespace selecting it is
  enforced at the ingress (pilot/pkg/model/authorization.go ListAuthorizationPolicies).
- A VirtualService whose rules are all for other sources is dropped for a proxy, which then
  uses the service's default route (pilot/pkg/networking/core/route/route.go
  buildSidecarVirtualHostsForVirtualService / BuildSidecarVirtualHostWrapper).
"""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Iterator

import aiohttp
import pytest
import yaml

from tests.e2e.local_system import (
    LocalSystem,
    module_ports_base,
    start_local_system,
    stop_local_system,
)
from tests.support.mesh_view import step_documents

pytestmark = pytest.mark.e2e

DENIED = ("/metrics", "/healthz", "/readyz")  # voting-app's policy: notPaths at steps 3-5
UNRESERVED_HEX = "%{:02x}"


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalSystem]:
    running = start_local_system(
        tmp_path_factory.mktemp("ingress"), module_ports_base(request.module.__name__)
    )
    try:
        yield running
    finally:
        stop_local_system(running)


def get(system: LocalSystem, path: str, method: str = "GET") -> tuple[int, bytes]:
    """One request with the path sent exactly as written (like `curl --path-as-is`)."""
    connection = http.client.HTTPConnection("127.0.0.1", system.port, timeout=15)
    try:
        connection.request(method, path, headers={"Host": "voting.example"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def spellings(path: str) -> list[str]:
    """Other spellings of `path`: percent-encoded characters, dot segments, case, slashes."""
    found = {path}
    for i, char in enumerate(path):
        if char != "/":
            for code in (
                UNRESERVED_HEX.format(ord(char)),
                UNRESERVED_HEX.format(ord(char)).upper(),
            ):
                found.add(path[:i] + code + path[i + 1 :])
    encoded_all = "/" + "".join(UNRESERVED_HEX.format(ord(c)) for c in path[1:])
    name = path[1:]
    found |= {
        encoded_all,
        f"/./{name}",
        f"/a/../{name}",
        f"/a/b/../../{name}",
        f"/%2e/{name}",
        f"/a/%2e%2e/{name}",
        f"/a/%2E%2E/{name}",
        f"/../{name}",
        f"//{name}",
        f"/{name}/",
        f"/{name}//",
        f"/{name}/.",
        f"/{name}?x=1",
        f"/{name}#frag",
        f"/{name}%2F",
        f"/%2F{name}",
        f"/{name.upper()}",
        f"/{name.capitalize()}",
        f"/{name};x=1",
    }
    return sorted(found)


@pytest.mark.parametrize("step", ["lock-down", "canary", "finalize"])
def test_no_spelling_of_a_denied_path_reaches_the_app_and_allowed_ones_still_do(system, step):
    system.step(step)
    reached = {}
    for path in (p for denied in DENIED for p in spellings(denied)):
        status, body = get(system, path)
        if 200 <= status < 300:
            reached[path] = body[:80]
    assert not reached, f"denied endpoints answered through the ingress at {step}: {reached}"
    # The literal paths are refused by the policy itself, at the proxy.
    for path in DENIED:
        assert get(system, path)[0] == 403, path
    # Spellings of what the policy allows still reach the page.
    for path in ("/", "/./", "/a/../", "/%2e/", "/?x=1"):
        status, body = get(system, path)
        assert status == 200 and b'id="results"' in body, (path, status)


def test_a_root_namespace_policy_selecting_the_gateway_is_enforced_at_the_ingress(system):
    policy = yaml.safe_load(
        """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ingress-no-flags, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules: [{to: [{operation: {paths: [/featureflag/*]}}]}]
"""
    )
    system.apply("finalize", [*step_documents("finalize"), policy])
    try:
        status, body = get(system, "/featureflag/set", "POST")
        assert status == 403 and b"RBAC" in body
        status, _ = get(system, "/%66eatureflag/set", "POST")
        assert status == 403
        assert get(system, "/")[0] == 200
    finally:
        system.step("finalize")
    assert get(system, "/featureflag/set", "POST")[0] != 403


def test_a_virtual_service_with_no_rule_for_the_caller_falls_back_to_the_default_route(system):
    documents = step_documents("lock-down")
    for doc in documents:
        if doc["kind"] == "VirtualService" and doc["metadata"]["name"] == "voting-analytics":
            doc["spec"]["http"] = [
                {
                    "match": [{"sourceLabels": {"app": "nobody"}}],
                    "route": [{"destination": {"host": "voting-analytics", "subset": "v1-1"}}],
                }
            ]
    system.apply("lock-down", documents)
    try:
        page = system.page()
        assert page.status == 200
        # analytics answered (any version, round robin): its counts, not an error
        assert page.results is not None and "Cats" in page.results, page.results
    finally:
        system.step("lock-down")


def test_past_the_apps_admission_limit_its_sidecar_sheds_with_503_and_retry_after(system):
    """Overload is shed by Envoy (circuit breaker overflow, UO) before the app, not queued.

    voting-app runs with MAX_IN_FLIGHT=2 and every page waits 1 s on analytics (a delay
    fault), so 40 simultaneous page views overlap: what the 3 pods cannot admit is answered
    503 with Retry-After at once by their sidecars, and the gateway does not retry it.
    """
    documents = step_documents("deploy")
    for doc in documents:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "voting-app-1-0":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["env"] = [*container.get("env", []), {"name": "MAX_IN_FLIGHT", "value": "2"}]
    documents.append(
        yaml.safe_load(
            """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: voting-analytics, namespace: voting}
spec:
  hosts: [voting-analytics]
  http:
  - fault: {delay: {percentage: {value: 100}, fixedDelay: 1s}}
    route: [{destination: {host: voting-analytics}}]
"""
        )
    )
    system.apply("deploy", documents)
    try:
        answers = asyncio.run(_burst(system.url, 40))
        shed = [a for a in answers if a[0] == 503]
        assert shed, f"no request was shed: {sorted({a[0] for a in answers})}"
        assert all(retry_after == "1" for _, retry_after, _ in shed), shed[:3]
        assert any(overloaded for _, _, overloaded in shed), "not shed by the sidecar (UO)"
        assert {status for status, _, _ in answers} <= {200, 503}
    finally:
        system.step("deploy")


async def _burst(url: str, count: int) -> list[tuple[int, str | None, bool]]:
    """`count` page views at once: (status, Retry-After, shed by Envoy) of each."""
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def one() -> tuple[int, str | None, bool]:
            async with session.get(url) as response:
                await response.read()
                return (
                    response.status,
                    response.headers.get("Retry-After"),
                    response.headers.get("x-envoy-overloaded") == "true",
                )

        return await asyncio.gather(*(one() for _ in range(count)))
