"""How configuration and observations become rows: pure functions, no IO."""

from __future__ import annotations

from dataclasses import replace

from observer.format import bar, pct, sparkline
from observer.model import (
    Metrics,
    Route,
    VersionMetrics,
    Votes,
    build_snapshot,
    describe_match,
    mtls_mark,
    route_labels,
)
from observer.sources.local import state_from_status
from observer.votes import parse_page
from tests.observer.fakes import CANARY, METRICS, VOTES

CANARY_APP = (Route("cookie featureflag=on", "v2-0", "2.0"), Route("all", "v1-0", "1.0"))


class TestRouteLabels:
    def test_the_canary_version_is_labelled_with_its_cookie_match(self) -> None:
        assert route_labels(CANARY_APP, "2.0") == ("cookie featureflag=on",)

    def test_the_catch_all_next_to_a_specific_match_is_the_default(self) -> None:
        assert route_labels(CANARY_APP, "1.0") == ("default",)

    def test_a_single_catch_all_takes_all_traffic(self) -> None:
        assert route_labels((Route("all", "v2-0", "2.0"),), "2.0") == ("all traffic",)

    def test_a_route_without_a_subset_applies_to_any_version(self) -> None:
        assert route_labels((Route("all", None, None),), "1.0") == ("any version",)

    def test_weighted_routes_show_their_weight(self) -> None:
        routes = (Route("all", "v1-0", "1.0", 90), Route("all", "v2-0", "2.0", 10))
        assert route_labels(routes, "2.0") == ("10%",)

    def test_an_injected_fault_is_shown_with_the_route(self) -> None:
        routes = (Route("all", "v1-1", "1.1", fault="abort 50% 503"),)
        assert route_labels(routes, "1.1") == ("all traffic (abort 50% 503)",)

    def test_a_version_no_route_reaches_says_so(self) -> None:
        assert route_labels(CANARY_APP, "1.1") == ("no route",)

    def test_source_matches_are_shortened_for_a_narrow_column(self) -> None:
        match = "from app=voting-app,version=1.0 | from app=voting-analytics,version=1.1"
        assert describe_match(match) == "from app 1.0, analytics 1.1"


class TestObservations:
    def test_no_data_is_not_zero_in_marks_bars_and_percentages(self) -> None:
        assert mtls_mark(None) == "no data"
        assert mtls_mark(0.0) == "unlocked"
        assert pct(None) == "-" and pct(0.0) == "0%"
        assert bar(None, 6) == "      " and bar(0.0, 6) == "░░░░░░"

    def test_partial_mtls_is_mixed_and_unavailable_metrics_are_no_metrics(self) -> None:
        assert mtls_mark(0.5) == "mixed"
        assert mtls_mark(1.0) == "locked"
        assert mtls_mark(1.0, "unreachable") == "no metrics"

    def test_a_sparkline_keeps_gaps_as_blanks(self) -> None:
        assert sparkline([None, 0.0, 1.0], 3) == " ▁█"

    def test_results_and_versions_are_parsed_from_the_voting_page(self) -> None:
        html = (
            '<div id="results"> Cats: 2/6 (33%) | Dogs: 4/6 (67%) </div>'
            '<span id="app-version">2.0</span><span id="store">mysql</span>'
            '<span id="store-version">2.0</span>'
        )
        reading = parse_page("featureflag=on", html)
        assert reading.counts == (("Cats", 2), ("Dogs", 4))
        assert (reading.app_version, reading.store, reading.store_version) == (
            "2.0",
            "mysql",
            "2.0",
        )

    def test_the_tutorials_1_0_results_line_is_parsed_too(self) -> None:
        reading = parse_page("no cookie", '<div id="results"> Cats: 2 | Dogs: 4 </div>')
        assert reading.counts == (("Cats", 2), ("Dogs", 4))


class TestSnapshot:
    def test_rows_join_routes_replicas_and_observed_numbers_per_version(self) -> None:
        snapshot = build_snapshot("local", CANARY, METRICS, VOTES)
        app = snapshot.service("voting-app")
        assert app is not None
        two = next(v for v in app.versions if v.version == "2.0")
        assert two.routes == ("cookie featureflag=on",)
        assert (two.ready, two.desired) == (2, 3)
        assert two.metrics.share == 0.248

    def test_mirrored_copies_are_a_line_beside_the_routes_not_served_share(self) -> None:
        metrics = replace(METRICS, mirrored={("voting-analytics", "2.0"): 3.04})
        snapshot = build_snapshot("local", CANARY, metrics, VOTES)
        analytics = snapshot.service("voting-analytics")
        assert analytics is not None
        two = next(v for v in analytics.versions if v.version == "2.0")
        assert two.routes[-1] == "+ mirrored copies 3.0/s (answers dropped)"
        assert two.metrics == METRICS.versions.get(("voting-analytics", "2.0"), VersionMetrics())

    def test_overflow_and_ejections_are_lines_beside_the_version_they_concern(self) -> None:
        metrics = replace(
            METRICS,
            overflow={("voting-analytics", "1.1"): 1.52},
            ejected={("voting-analytics", "1.1"): 2.0},
        )
        analytics = build_snapshot("local", CANARY, metrics, VOTES).service("voting-analytics")
        assert analytics is not None
        one_one = next(v for v in analytics.versions if v.version == "1.1")
        assert one_one.routes[-2:] == (
            "! overflow 1.5/s shed by callers (503)",
            "! 2 ejection(s) by callers' outlier detection",
        )

    def test_json_keeps_no_data_as_null(self) -> None:
        metrics = Metrics(state="up", versions={("voting-app", "1.0"): VersionMetrics(share=None)})
        data = build_snapshot("local", CANARY, metrics, Votes(state="up")).to_json()
        app = next(s for s in data["services"] if s["name"] == "voting-app")
        one = next(v for v in app["versions"] if v["version"] == "1.0")
        assert one["share"] is None and app["mtls_share"] is None and app["mtls"] == "no data"

    def test_the_control_api_status_json_becomes_a_mesh_state(self) -> None:
        status = {
            "step": {"number": 4, "name": "canary"},
            "ingress": "http://127.0.0.1:8080/",
            "prometheus": "http://127.0.0.1:9090",
            "workloads": [
                {
                    "name": "voting-app-2-0",
                    "app": "voting-app",
                    "version": "2.0",
                    "desired": 3,
                    "ready": 3,
                }
            ],
            "services": [
                {
                    "name": "voting-app",
                    "peer_authentication": "STRICT",
                    "client_tls": "ISTIO_MUTUAL",
                    "routes": [
                        {
                            "match": "cookie featureflag=on",
                            "subset": "v2-0",
                            "version": "2.0",
                            "weight": 100,
                            "fault": None,
                        },
                        {
                            "match": "all",
                            "subset": "v1-0",
                            "version": "1.0",
                            "weight": 100,
                            "fault": {"abort_percent": 10, "status": 503},
                        },
                    ],
                }
            ],
            "events": [{"time": 1.0, "message": "step 4 (canary) in force"}],
        }
        state = state_from_status(status)
        assert state.step is not None and state.step.number == 4
        assert state.prometheus_url == "http://127.0.0.1:9090"
        app = state.service("voting-app")
        assert app is not None and app.routes[1].fault == "abort 10% 503"
