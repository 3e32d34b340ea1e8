"""Flagger-grade progressive delivery on the real local mesh (issue 16's scenarios).

Real Envoy, real Prometheus, real traffic; the routes each phase writes are Flagger's Istio
router's (fluxcd/flagger pkg/router/istio.go), compiled by the local mesh as Istio does
(istio pilot/pkg/networking/core/route/route.go: header and cookie matches, `mirror` with
`mirrorPercentage`, per-destination response headers). Every wait is on a condition with a
deadline; what is asserted is what users see (which version answered whom) and how the
rollout ended.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from mesh.router.factory import router_for
from observer.traffic import TrafficPlan, TrafficRunner
from rollout.controller import PROMOTED, ROLLED_BACK, Outcome, Rollout
from rollout.spec import parse_spec
from telemetry.prometheus import PrometheusClient
from tests.e2e.local_system import (
    APP_VERSION,
    LocalSystem,
    SteadyLoad,
    canary_system_with_telemetry,
    cli_rollout,
    module_ports_base,
)
from tests.support.rollout import GATES_YAML, SPEED_INDEPENDENT_GATES, with_canary_fault
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

GATES = [
    {"name": g.name, "query": g.query, **({"min": g.min} if g.min is not None else {"max": g.max})}
    for g in SPEED_INDEPENDENT_GATES
]
# 6 s: enough 1 s scrapes in the window for rate() and the p99 (see test_rollout.py FAST).
BASE = {"interval": "6s", "minRequests": 5, "maxInconclusive": 4, "gates": GATES}
INSIDER = ("x-canary", "insider")
# 5xx per second the canary's callers saw, by version (a custom MetricTemplate's query)
SERVER_ERRORS = (
    'sum by (destination_version) (rate(istio_requests_total{reporter="source",'
    ' destination_service_name="{{ target }}", destination_version="{{ version }}",'
    ' response_code=~"5.."}[{{ interval }}])) or on() vector(0)'
)


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalSystem]:
    yield from canary_system_with_telemetry(tmp_path_factory, request, "delivery")


async def page_version(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> str:
    async with session.get(url, headers=headers or {}) as response:
        body = await response.text()
        assert response.status == 200, body[:200]
    match = APP_VERSION.search(body)
    return match.group(1) if match else "unknown"


async def versions_seen(url: str, n: int, headers: dict[str, str] | None = None) -> set[str]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        return {await page_version(session, url, headers) for _ in range(n)}


async def in_process_rollout(system: LocalSystem, spec: Any, on_event: Any = print) -> Outcome:
    router = router_for(state_dir=system.state_dir)
    control = system.control
    try:
        async with PrometheusClient(system.prometheus_url, timeout=5) as client:
            rollout = Rollout(
                spec,
                router,
                client,
                report=control.report_rollout,
                commands=control.take_rollout_commands,
                on_event=on_event,
            )
            return await rollout.run()
    finally:
        await router.close()


def test_an_ab_canary_is_promoted_after_its_iterations_with_only_matching_users_on_2_0(
    system: LocalSystem,
) -> None:
    spec = parse_spec(
        {
            **BASE,
            "iterations": 2,
            "match": [{"headers": {INSIDER[0]: {"exact": INSIDER[1]}}}],
            # Flagger's two built-ins and a custom template, judged against the real Prometheus
            "metricTemplates": {"server-errors": {"query": SERVER_ERRORS}},
            "metrics": [
                {"name": "request-success-rate", "thresholdRange": {"min": 99}},
                {"name": "request-duration", "thresholdRange": {"max": 30000}},
                {"name": "errors", "templateRef": "server-errors", "thresholdRange": {"max": 0}},
            ],
        }
    )
    probes: dict[str, set[str]] = {}

    async def go() -> tuple[Outcome, Any]:
        plan = TrafficPlan(
            url=system.url, rate=12, duration=600, header=INSIDER, header_share=0.5, users=20
        )
        runner = TrafficRunner(plan)
        runner.start()

        def on_event(message: str) -> None:
            print(message)
            if "promoting" in message:  # what users see after finalize is not the A/B's
                runner.request_stop()

        rollout = asyncio.create_task(in_process_rollout(system, spec, on_event))
        try:
            # once the A/B rule is in force: insiders get 2.0, everyone else 1.0
            async def ab_in_force() -> bool:
                phase = ((await system.control.status()).get("rollout") or {}).get("phase") or {}
                return phase.get("kind") == "ab"

            deadline = time.monotonic() + 120
            while not await ab_in_force():
                assert time.monotonic() < deadline, "the A/B phase never started"
                assert not rollout.done(), rollout.result().reason
                await asyncio.sleep(0.5)
            await asyncio.sleep(1)  # the rule reaches the ingress proxy (ack'd by the apply)
            probes["insiders"] = await versions_seen(system.url, 10, dict([INSIDER]))
            probes["others"] = await versions_seen(system.url, 10)
            outcome = await rollout
        finally:
            sent = await runner.stop()
        return outcome, sent

    outcome, sent = asyncio.run(go())
    assert outcome.state == PROMOTED, outcome.reason
    assert outcome.phases_passed == 2 and outcome.passed == []
    assert probes == {"insiders": {"2.0"}, "others": {"1.0"}}
    last = {g["name"]: g for g in outcome.history[-1]["gates"]}
    assert last["request-success-rate"]["value"] == 100.0  # percent, as Flagger's
    assert last["request-duration"]["value"] > 0  # the p99 in ms
    assert last["errors"]["value"] == 0 and last["errors"]["verdict"] == "pass"
    others = sent.versions - sent.header_versions
    assert others["2.0"] == 0 and others["1.0"] > 0  # no user without the header reached 2.0
    assert sent.header_versions["2.0"] > 0
    assert system.status()["step"]["name"] == "finalize"


def test_a_mirror_phase_catches_a_failing_2_0_before_any_user_sees_it(
    system: LocalSystem,
) -> None:
    system.step("canary")
    in_force = asyncio.run(system.control.documents())["documents"]
    system.apply("canary", with_canary_fault(in_force, 100))  # 2.0's analytics calls abort
    spec = parse_spec({**BASE, "mirror": True, "mirrorWeight": 100, "stepWeights": [50, 100]})

    async def go() -> tuple[Outcome, Any]:
        runner = TrafficRunner(TrafficPlan(url=system.url, rate=10, duration=600))
        runner.start()
        try:
            outcome = await in_process_rollout(system, spec)
        finally:
            sent = await runner.stop()
        return outcome, sent

    outcome, sent = asyncio.run(go())
    assert outcome.state == ROLLED_BACK, outcome.reason
    assert outcome.reason.startswith("gate failed at mirror phase: success-rate 0")
    assert outcome.passed == [] and {h["phase"]["kind"] for h in outcome.history} == {"mirror"}
    assert sent.versions["2.0"] == 0 and sent.versions["1.0"] > 0  # users only ever saw 1.0
    assert set(sent.statuses) == {200}  # the mirror's failures never reached a user
    assert system.status()["step"]["name"] == "lock-down"


def test_threshold_2_rides_out_one_failed_interval_and_rolls_back_on_two(
    system: LocalSystem,
) -> None:
    """The failed checks come from a `rollout` webhook (a load test that reports failure):
    once at 10 %, then at every check at 50 %."""
    weight = {"now": 0}
    answers: list[int] = []

    def on_event(message: str) -> None:
        print(message)
        moved = re.match(r"\[rollout\] weight (\d+)% to ", message)
        if moved:
            weight["now"] = int(moved.group(1))

    async def hook(request: web.Request) -> web.Response:
        payload = await request.json()
        assert payload["type"] == "rollout" and payload["phase"] == "Progressing"
        fail = (weight["now"] == 10 and 500 not in answers) or weight["now"] == 50
        answers.append(500 if fail else 200)
        return web.Response(status=answers[-1], text="load test " + ("failed" if fail else "ok"))

    async def go() -> Outcome:
        app = web.Application()
        app.router.add_post("/load", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        traffic = TrafficRunner(TrafficPlan(url=system.url, rate=10, duration=600))
        traffic.start()
        spec = parse_spec(
            {
                **BASE,
                "stepWeights": [10, 50, 100],
                "threshold": 2,
                "webhooks": [{"name": "load", "url": f"http://127.0.0.1:{port}/load"}],
            }
        )
        try:
            return await in_process_rollout(system, spec, on_event)
        finally:
            await traffic.stop()
            await runner.cleanup()

    outcome = asyncio.run(go())
    assert outcome.state == ROLLED_BACK, outcome.reason
    assert outcome.passed == [10]
    assert outcome.reason.startswith("gate failed at weight 50%: webhook load")
    messages = [e["message"] for e in outcome.events]
    assert any(m.startswith("failed check 1 of 2 at weight 10%") for m in messages), messages
    assert any(m.startswith("failed check 1 of 2 at weight 50%") for m in messages), messages


# ---------------------------------------------------------------- steered from the CLI
def cli_spec(lines: list[str]) -> str:
    """A spec for `voting rollout --spec`: 3 s intervals (the lease is 6 s) and the
    speed-independent gates, with these keys."""
    return "\n".join(
        ["interval: 3s", "minRequests: 3", "maxInconclusive: 8", *lines, GATES_YAML, ""]
    )


def verb(system: LocalSystem, *words: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "voting", "rollout", *words]
    return subprocess.run(
        [*argv, "--state-dir", str(system.state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def healthy(url: str) -> bool:
    async def probe() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    return asyncio.run(probe())


def progress(system: LocalSystem) -> dict[str, Any]:
    return system.status().get("rollout") or {}


@pytest.fixture
def load(system: LocalSystem) -> Iterator[SteadyLoad]:
    steady = SteadyLoad(system.url, rate=8)
    steady.start()
    yield steady
    steady.stop()


@pytest.fixture
def stopped_at_end() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def test_a_confirm_promotion_gate_holds_until_voting_rollout_confirm(
    system: LocalSystem,
    tmp_path: Path,
    load: SteadyLoad,
    stopped_at_end: list[subprocess.Popen[str]],
) -> None:
    """With `voting loadtester` as the smoke test before any traffic moves and the load-test
    hook judged each interval, as rollout/examples/gated-canary.yaml does."""
    port = module_ports_base(__name__) + 450
    with open(tmp_path / "loadtester.log", "w") as log:  # the child keeps its own copy
        tester = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voting",
                "loadtester",
                "--port",
                str(port),
                "--url",
                system.url,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    stopped_at_end.append(tester)
    wait_until(lambda: healthy(f"http://127.0.0.1:{port}/healthz"), 60, "voting loadtester up")
    hooks = f"http://127.0.0.1:{port}"
    spec = cli_spec(
        [
            "stepWeights: [100]",
            "webhooks:",
            f"  - {{name: smoke, type: pre-rollout, url: {hooks}/smoke}}",
            f"  - {{name: load-test, url: {hooks}/traffic, metadata: {{rate: '6', duration: 3s}}}}",
            "  - {name: release-manager, type: confirm-promotion}",
        ]
    )
    system.step("canary")
    process = cli_rollout(system, tmp_path, spec)
    stopped_at_end.append(process)
    wait_until(
        lambda: (progress(system).get("phase") or {}).get("kind") == "confirm",
        timeout=120,
        what="the rollout waiting at its confirm-promotion gate",
    )
    shown = verb(system, "status")
    assert (
        shown.returncode == 0 and "waiting for confirm-promotion (release-manager)" in shown.stdout
    )
    time.sleep(7)  # more than two intervals: a gate that holds has not moved
    held = progress(system)
    assert held["state"] == "running" and held["phase"]["kind"] == "confirm"
    assert system.status()["step"]["name"] == "canary" and process.poll() is None
    assert verb(system, "promote", "--watch").returncode == 2  # --watch is for status only

    confirmed = verb(system, "confirm")
    assert confirmed.returncode == 0, confirmed.stderr
    assert process.wait(120) == 0, (tmp_path / "rollout.log").read_text()
    final = progress(system)
    assert final["state"] == PROMOTED and system.status()["step"]["name"] == "finalize"
    judged = [g for h in final["history"] for g in h["gates"] if g["name"] == "webhook load-test"]
    assert judged and all(g["verdict"] == "pass" for g in judged)
    messages = [e["message"] for e in final["events"]]
    assert f"confirm-promotion confirmed by {getpass.getuser()}" in messages
    again = verb(system, "confirm")
    assert again.returncode == 1 and "nothing to confirm: the rollout has ended" in again.stderr


def test_session_affinity_keeps_a_user_on_the_canary_and_pause_and_abort_steer_it(
    system: LocalSystem,
    tmp_path: Path,
    load: SteadyLoad,
    stopped_at_end: list[subprocess.Popen[str]],
) -> None:
    spec = cli_spec(
        ["stepWeights: [50, 100]", "sessionAffinity: {cookieName: canary, maxAge: 600}"]
    )
    system.step("canary")
    process = cli_rollout(system, tmp_path, spec)
    stopped_at_end.append(process)
    wait_until(
        lambda: (progress(system).get("phase") or {}).get("weight") == 50,
        timeout=120,
        what="the rollout at weight 50%",
    )
    paused = verb(system, "pause")
    assert paused.returncode == 0, paused.stderr
    wait_until(lambda: progress(system).get("paused") is True, 30, "the rollout paused")
    assert "PAUSED" in verb(system, "status").stdout
    assert verb(system, "pause").returncode == 1  # paused already: refused, said why

    async def browse() -> tuple[str, list[str], str]:
        jar = aiohttp.CookieJar(unsafe=True)  # keeps cookies for 127.0.0.1, as a browser does
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            for _ in range(60):  # at 50 %, a 2.0 page within a few views
                version = await page_version(session, system.url)
                if version == "2.0":
                    break
            assert version == "2.0", "no page from 2.0 at 50%"
            cookie = next((c for c in jar if c.key == "canary"), None)
            assert cookie is not None, "the canary's route set no session cookie"
            later = [await page_version(session, system.url) for _ in range(15)]
            return cookie.value, later, cookie["max-age"]

    value, later, max_age = asyncio.run(browse())
    assert value == progress(system)["cookie"] and max_age == "600"
    assert later == ["2.0"] * 15  # every later view of that user stays on the canary

    aborted = verb(system, "abort")
    assert aborted.returncode == 0, aborted.stderr
    assert process.wait(120) == 3, (tmp_path / "rollout.log").read_text()
    final = progress(system)
    assert (final["state"], final["reason"]) == (
        "aborted",
        f"aborted by {getpass.getuser()} on request",
    )
    assert system.status()["step"]["name"] == "lock-down"
    assert set(load.outcomes) <= {"200", "302", "303"}
