"""What `voting status` and the dashboard say a route does beyond routing (issue 13: a task's
effect is named beside the route, never shown as ordinary traffic)."""

from __future__ import annotations

from mesh.model.describe import describe_routes
from mesh.model.resources import parse_resources
from mesh.router.status_table import format_status
from observer.sources.local import state_from_status
from tests.support.mesh_view import documents
from tests.support.tasks import task_path


def task_documents(*tasks: str) -> list[dict]:
    extra = "\n---\n".join(task_path(t).read_text() for t in tasks)
    replaced = {"VirtualService/voting-app", "VirtualService/voting-analytics"}
    return documents("canary", extra, drop=tuple(replaced))


def routes_of(docs: list[dict], service: str) -> list[dict]:
    return describe_routes(parse_resources(docs), service)


def test_mirror_timeout_retries_and_circuit_breaker_are_named_on_their_route() -> None:
    docs = task_documents(
        "mirroring/virtual-service-voting-analytics-mirror.yaml",
        "circuit-breaking/destination-rule-voting-analytics-circuit-breaker.yaml",
    )
    docs = [
        d
        for d in docs
        if not (
            d["kind"] == "DestinationRule"
            and d["metadata"]["name"] == "voting-analytics"
            and "connectionPool" not in str(d)
        )
    ]
    app_1_0 = next(
        r
        for r in routes_of(docs, "voting-analytics")
        if r["match"].startswith("from app=voting-app,version=1.0")
    )
    assert app_1_0["policies"] == ["mirror v2-0 100%", "circuit breaker", "outlier ejection"]


def test_answered_at_the_proxy_rules_are_listed_with_what_they_answer() -> None:
    docs = documents(
        "canary",
        task_path("http-actions/virtual-service-voting-app-http-actions.yaml").read_text(),
        drop=("VirtualService/voting-app",),
    )
    routes = routes_of(docs, "voting-app")
    answered = {r["match"]: r["answered"] for r in routes if r.get("answered")}
    assert answered == {"uri=/robots.txt": "direct response 200", "uri=/vote": "redirect 302 /"}
    v1_path = next(r for r in routes if r["match"] == "uri^=/v1/")
    assert v1_path["policies"] == ["rewrite /"]
    default = routes[-1]
    assert default["subset"] == "v1-0" and default["policies"] == ["headers", "cors"]


def test_the_status_table_and_the_dashboard_show_the_labels() -> None:
    docs = documents(
        "canary",
        task_path("request-timeouts/virtual-service-voting-app-timeout.yaml").read_text(),
        drop=("VirtualService/voting-app",),
    )
    resources = parse_resources(docs)
    routes = describe_routes(resources, "voting-app")
    status = {
        "step": {"number": 4, "name": "canary"},
        "workloads": [],
        "services": [
            {
                "name": "voting-app",
                "peer_authentication": "STRICT",
                "client_tls": "ISTIO_MUTUAL",
                "routes": routes,
            }
        ],
    }
    assert "[timeout 0.5s]" in format_status(status)
    (service,) = state_from_status(status).services
    assert any(r.fault and "timeout 0.5s" in r.fault for r in service.routes)
