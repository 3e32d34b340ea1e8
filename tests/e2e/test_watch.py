"""`voting up --watch`: edits to code and manifests go live without a restart.

The system runs from a copy of the sources (first on PYTHONPATH, so the copy's code is what
runs), and the tests edit the copy, never the working tree.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from observer.traffic import TrafficPlan
from tests.e2e.local_system import (
    LocalSystem,
    SteadyLoad,
    module_ports_base,
    start_local_system,
    stop_local_system,
)
from tests.e2e.telemetry import query, traffic
from tests.support.waiting import binomial_tolerance

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parents[2]
LIVE_S = 60  # deadline for a saved change to be live or rejected (seconds on a quiet machine)


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src")
    for package in ("functions", "mesh", "voting"):
        shutil.copytree(
            PROJECT / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return root


@pytest.fixture(scope="module")
def watched(
    tmp_path_factory: pytest.TempPathFactory, sources: Path, request: pytest.FixtureRequest
) -> Iterator[LocalSystem]:
    system = start_local_system(
        tmp_path_factory.mktemp("watch"),
        module_ports_base(request.module.__name__),
        extra=("--watch", "--step", "lock-down"),
        telemetry=True,
        env={"PYTHONPATH": str(sources)},
        cwd=sources,
    )
    yield system
    stop_local_system(system)


def test_an_edited_results_format_goes_live_with_no_failed_request(
    watched: LocalSystem, sources: Path
) -> None:
    assert " | " in watched.page().results
    tally = sources / "functions" / "results" / "tally.py"
    load = SteadyLoad(watched.url, rate=10)
    load.start()
    try:
        load.wait_for_completed(10)  # traffic flows before the edit
        tally.write_text(tally.read_text().replace('" | ".join', '" ~ ".join'))
        saved = time.monotonic()
        # Rolling the pods onto the new code takes a few seconds (under 5 on a quiet
        # machine): the deadline only bounds a slow machine, the outcomes are what counts.
        assert wait_for(lambda: " ~ " in (watched.page().results or ""), LIVE_S), watched.page()
        print(f"the edit was live after {time.monotonic() - saved:.1f}s")
        load.wait_for_completed(load.completed + 15)  # traffic goes on, on the new code
    finally:
        outcomes = load.stop()
    failures = {k: v for k, v in outcomes.items() if k not in ("200", "303")}
    assert failures == {}, outcomes


def test_an_invalid_manifest_is_rejected_and_traffic_goes_on(
    watched: LocalSystem, sources: Path
) -> None:
    vs = sources / "mesh/istio/voting-app/v1-0/virtual-service-voting-app-v1-0.yaml"  # step 3's
    original = vs.read_text()
    load = SteadyLoad(watched.url, rate=10)
    load.start()
    try:
        written = time.time()  # events carry wall-clock times
        vs.write_text(original.replace("destination:", "destinaton:", 1))

        def rejected() -> bool:
            events = watched.status()["events"]
            return any("rejected" in e["message"] and e["time"] >= written for e in events)

        assert wait_for(rejected, LIVE_S), watched.status()["events"][-5:]
        # Traffic goes on after the rejection: wait for requests sent after it, not seconds.
        load.wait_for_completed(load.completed + 15)
    finally:
        outcomes = load.stop()
        vs.write_text(original)
    failures = {k: v for k, v in outcomes.items() if k not in ("200", "303")}
    assert failures == {} and outcomes["200"] > 10, outcomes


def test_an_edited_canary_weight_shows_in_the_observed_share(
    watched: LocalSystem, sources: Path
) -> None:
    watched.step("canary")
    vs = (
        sources
        / "mesh/istio/voting-app/canary-v2-0/virtual-service-voting-app-featureflag-v2-0.yaml"
    )
    original = vs.read_text()
    head, last_rule = original.rsplit("    - name: v1-0", 1)
    split = last_rule.replace(
        "            subset: v1-0",
        "            subset: v1-0\n          weight: 50\n"
        "        - destination:\n            host: voting-app\n            port:\n"
        "              number: 8080\n            subset: v2-0\n          weight: 50",
    )
    try:
        vs.write_text(head + "    - name: v1-0" + split)

        def split_in_force() -> bool:
            services = watched.status()["services"]
            return any(r["weight"] == 50 for s in services for r in s["routes"])

        assert wait_for(split_in_force, LIVE_S), watched.status()["services"]
        seen = traffic(watched, TrafficPlan(url=watched.url, rate=40, duration=8))  # ~320 draws
        samples = query(watched, "request_share", ("voting-app",), seen.window())
        by_version = {s.labels["destination_version"]: s.value for s in samples}
        # Each request draws its version: a binomial share of the requests answered.
        tolerance = binomial_tolerance(0.5, seen.answered, margin=0.03)
        assert by_version.get("2.0") is not None, by_version
        assert abs(by_version["2.0"] - 0.5) <= tolerance, (by_version, seen.answered, tolerance)
    finally:
        vs.write_text(original)
