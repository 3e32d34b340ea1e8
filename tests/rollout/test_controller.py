"""The rollout loop's phases, thresholds, gates and verbs, on a router kept in memory.

The routes each phase writes follow Flagger's Istio router (fluxcd/flagger
pkg/router/istio.go: A/B match rules, mirror with mirrorPercentage, the session-affinity
cookie set on the canary's destination); the mesh's side of each field is tested where the
local mesh compiles it (mesh/local/envoy, after istio pilot/pkg/networking/core/route).
Webhooks are called over real HTTP (an aiohttp server on loopback).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from rollout import controller as controller_mod
from rollout import steering
from rollout.controller import ABORTED, PROMOTED, ROLLED_BACK, Rollout
from rollout.gates import FAIL, PASS, GateResult
from rollout.routing import sticky_cookie_regex
from rollout.spec import RolloutSpec, parse_spec
from tests.support.fake_router import FakeRouter

OK = [GateResult("canary-requests", ">= 1", 9.0, PASS, "enough")]
# one weight, then a manual confirm-promotion gate (no url: only `confirm` opens it)
PROMOTION_GATE = {
    "stepWeights": [100],
    "interval": "10ms",
    "webhooks": [{"name": "approve", "type": "confirm-promotion"}],
}
BAD = [*OK, GateResult("success-rate", ">= 0.99", 0.5, FAIL, "worst of 1 series")]


class Verdicts:
    """evaluate() stand-in: hands out the planned verdicts in order (then passes), and
    records whether each call judged the mirror's copies."""

    def __init__(self, *planned: list[GateResult]) -> None:
        self.planned = list(planned)
        self.mirroring: list[bool] = []

    async def __call__(self, _client: Any, _spec: Any, _workloads: Any, mirroring: bool) -> Any:
        self.mirroring.append(mirroring)
        return self.planned.pop(0) if self.planned else OK


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steering, "POLL_S", 0.01)


def run(
    spec: RolloutSpec,
    verdicts: Verdicts,
    monkeypatch: pytest.MonkeyPatch,
    *,
    commands: Any = None,
    on_event: Any = None,
) -> tuple[Any, FakeRouter]:
    monkeypatch.setattr(controller_mod, "evaluate", verdicts)
    router = FakeRouter()
    rollout = Rollout(
        spec,
        router,
        None,
        commands=commands,
        on_event=on_event or (lambda _: None),  # type: ignore[arg-type]
    )
    return asyncio.run(rollout.run()), router


def test_threshold_2_rides_out_one_failed_interval_and_rolls_back_on_two(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec({"stepWeights": [10, 50], "interval": "10ms", "threshold": 2})
    outcome, router = run(spec, Verdicts(BAD, OK, BAD, BAD), monkeypatch)
    assert outcome.state == ROLLED_BACK and outcome.passed == [10]
    assert outcome.reason.startswith("gate failed at weight 50%: success-rate 0.5")
    assert router.steps == ["lock-down"]
    assert any("failed check 1 of 2 at weight 10%" in e["message"] for e in outcome.events)


def test_threshold_1_rolls_back_at_the_first_failed_check(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome, _ = run(RolloutSpec(interval=0.01), Verdicts(BAD), monkeypatch)
    assert outcome.state == ROLLED_BACK and outcome.passed == []


def test_step_weight_up_to_max_weight_runs_flaggers_steps_then_promotes(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec({"stepWeight": 20, "maxWeight": 60, "interval": "10ms"})
    outcome, router = run(spec, Verdicts(), monkeypatch)
    assert outcome.state == PROMOTED and outcome.passed == [20, 40, 60]
    assert [[r.weight for r in routes] for routes in router.routes] == [
        [80, 20],
        [60, 40],
        [40, 60],
    ]
    assert router.steps == ["finalize"]


def test_ab_testing_sends_only_matching_requests_to_the_canary_for_each_iteration(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    spec = parse_spec({"iterations": 3, "match": match, "interval": "10ms"})
    outcome, router = run(spec, Verdicts(), monkeypatch)
    assert outcome.state == PROMOTED and outcome.phases_passed == 3
    rules = router.http[-1]
    assert [r.get("name") for r in rules] == ["featureflag-v2-0", "rollout-ab", "v1-0"]
    assert rules[1]["match"] == match
    assert rules[1]["route"][0]["destination"]["subset"] == "v2-0"
    assert [(d["destination"]["subset"], d["weight"]) for d in rules[-1]["route"]] == [
        ("v1-0", 100)
    ]
    assert len(router.http) == 3  # one set of rules per iteration, the same each time
    assert all(h == rules for h in router.http)


def test_a_mirror_phase_copies_traffic_before_any_weight_and_is_judged_on_the_copies(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec(
        {"mirror": True, "mirrorWeight": 50, "stepWeights": [50, 100], "interval": "10ms"}
    )
    verdicts = Verdicts()
    outcome, router = run(spec, verdicts, monkeypatch)
    assert outcome.state == PROMOTED
    first = router.http[0][-1]
    assert first["mirror"] == {"host": "voting-app", "subset": "v2-0", "port": {"number": 8080}}
    assert first["mirrorPercentage"] == {"value": 50.0}
    assert [(d["destination"]["subset"], d["weight"]) for d in first["route"]] == [("v1-0", 100)]
    assert verdicts.mirroring == [True, False, False]
    assert "mirror" not in router.http[1][-1]  # the weights come without the mirror


def test_a_failing_mirror_phase_rolls_back_before_any_user_weight(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec({"mirror": True, "interval": "10ms"})
    outcome, router = run(spec, Verdicts(BAD), monkeypatch)
    assert outcome.state == ROLLED_BACK and outcome.reason.startswith("gate failed at mirror phase")
    assert len(router.http) == 1 and outcome.passed == []


def test_session_affinity_sets_a_cookie_on_the_canary_and_keeps_its_holders_there(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec(
        {
            "stepWeights": [30],
            "interval": "10ms",
            "sessionAffinity": {"cookieName": "canary", "maxAge": 120},
        }
    )
    outcome, router = run(spec, Verdicts(), monkeypatch)
    rules = router.http[0]
    sticky = next(r for r in rules if r.get("name") == "rollout-sticky")
    regex = sticky["match"][0]["headers"]["cookie"]["regex"]
    assert regex == sticky_cookie_regex("canary", outcome.cookie)
    assert sticky["route"][0]["destination"]["subset"] == "v2-0"
    canary = rules[-1]["route"][1]
    assert canary["headers"]["response"]["add"]["Set-Cookie"] == (
        f"canary={outcome.cookie}; Max-Age=120"
    )
    assert rules.index(sticky) < len(rules) - 1


class Commands:
    """The control API's queue, in memory: `send` what a user would, `__call__` takes it."""

    def __init__(self) -> None:
        self.queue: list[dict[str, Any]] = []

    def send(self, verb: str, by: str = "alice") -> None:
        self.queue.append({"verb": verb, "by": by})

    async def __call__(self) -> list[dict[str, Any]]:
        taken, self.queue = self.queue, []
        return taken


def test_pause_stops_the_clock_and_resume_goes_on(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = Commands()
    verdicts = Verdicts()
    spec = RolloutSpec(weights=(50, 100), interval=0.05)
    commands.send("pause")

    async def resume_later() -> None:
        await asyncio.sleep(0.5)
        assert verdicts.mirroring == []  # nothing judged while paused
        commands.send("resume", "bob")

    async def go() -> Any:
        monkeypatch.setattr(controller_mod, "evaluate", verdicts)
        rollout = Rollout(spec, FakeRouter(), None, commands=commands, on_event=lambda _: None)  # type: ignore[arg-type]
        _, outcome = await asyncio.gather(resume_later(), rollout.run())
        return outcome

    outcome = asyncio.run(go())
    assert outcome.state == PROMOTED
    messages = [e["message"] for e in outcome.events]
    assert messages[:2] == ["paused by alice", "resumed by bob"]


@pytest.mark.parametrize(
    ("verb", "state", "step", "reason"),
    [
        ("abort", ABORTED, "lock-down", "aborted by alice on request"),
        ("promote", PROMOTED, "finalize", "promoted by alice on request"),
    ],
)
def test_abort_and_promote_end_the_rollout_at_once(
    fast: None, monkeypatch: pytest.MonkeyPatch, verb: str, state: str, step: str, reason: str
) -> None:
    commands = Commands()
    commands.send(verb)
    outcome, router = run(RolloutSpec(interval=30), Verdicts(), monkeypatch, commands=commands)
    assert (outcome.state, outcome.reason) == (state, reason)
    assert router.steps == [step]


def test_a_confirm_promotion_gate_without_url_holds_until_confirmed(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec(PROMOTION_GATE)
    commands = Commands()
    waits: list[str] = []

    def on_event(message: str) -> None:
        if "waiting for confirm-promotion" in message:
            waits.append(message)
            commands.send("confirm", "carol")

    outcome, router = run(spec, Verdicts(), monkeypatch, commands=commands, on_event=on_event)
    assert outcome.state == PROMOTED and router.steps == ["finalize"]
    assert len(waits) == 1
    assert any(e["message"] == "confirm-promotion confirmed by carol" for e in outcome.events)


@pytest.fixture
def hooks_server() -> Iterator[dict[str, Any]]:
    """A loopback webhook receiver: answers by name, records every payload."""
    state: dict[str, Any] = {"calls": [], "answers": {}}

    async def hook(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        state["calls"].append((name, await request.json()))
        answer = state["answers"].get(name, 200)
        if answer == "hang":
            await asyncio.sleep(1)
        if callable(answer):
            answer = answer(len([c for c in state["calls"] if c[0] == name]))
        return web.Response(status=answer, text=f"{name} says {answer}")

    state["app"] = web.Application()
    state["app"].router.add_post("/{name}", hook)
    yield state


def with_server(state: dict[str, Any], work: Any) -> Any:
    async def go() -> Any:
        runner = web.AppRunner(state["app"])
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            return await work(f"http://127.0.0.1:{port}")
        finally:
            await runner.cleanup()

    return asyncio.run(go())


def test_a_failing_pre_rollout_webhook_aborts_before_any_route_changes(
    fast: None, monkeypatch: pytest.MonkeyPatch, hooks_server: dict[str, Any]
) -> None:
    hooks_server["answers"]["smoke"] = 500
    monkeypatch.setattr(controller_mod, "evaluate", Verdicts())
    router = FakeRouter("lock-down")

    async def work(base: str) -> Any:
        spec = parse_spec(
            {"webhooks": [{"name": "smoke", "type": "pre-rollout", "url": f"{base}/smoke"}]}
        )
        return await Rollout(spec, router, None, on_event=lambda _: None).run()  # type: ignore[arg-type]

    outcome = with_server(hooks_server, work)
    assert outcome.state == ABORTED
    assert outcome.reason == "pre-rollout webhook failed: smoke HTTP 500 smoke says 500"
    # the canary was deployed for the smoke test; no weight moved; the step before is back
    assert router.http == [] and router.steps == ["canary", "lock-down"]
    _, payload = hooks_server["calls"][0]
    assert payload == {
        "name": "voting-app",
        "namespace": "voting",
        "phase": "Progressing",
        "type": "pre-rollout",
        "metadata": {},
    }


def test_a_rollout_webhook_that_times_out_is_a_failed_check_never_a_pass(
    fast: None, monkeypatch: pytest.MonkeyPatch, hooks_server: dict[str, Any]
) -> None:
    hooks_server["answers"]["load"] = "hang"
    monkeypatch.setattr(controller_mod, "evaluate", Verdicts())

    async def work(base: str) -> Any:
        hook = {"name": "load", "url": f"{base}/load", "timeout": "200ms", "metadata": {"a": "b"}}
        spec = parse_spec({"interval": "10ms", "webhooks": [hook]})
        return await Rollout(spec, FakeRouter(), None, on_event=lambda _: None).run()  # type: ignore[arg-type]

    outcome = with_server(hooks_server, work)
    assert outcome.state == ROLLED_BACK
    assert "webhook load" in outcome.reason and outcome.passed == []
    gates = outcome.history[-1]["gates"]
    assert gates[-1]["detail"] == "timed out after 0.2s"
    assert hooks_server["calls"][0][1]["metadata"] == {"a": "b"}


def test_a_confirm_traffic_increase_webhook_holds_each_step_until_it_answers_2xx(
    fast: None, monkeypatch: pytest.MonkeyPatch, hooks_server: dict[str, Any]
) -> None:
    hooks_server["answers"]["more"] = lambda n: 200 if n % 2 == 0 else 423  # every 2nd call
    monkeypatch.setattr(controller_mod, "evaluate", Verdicts())
    router = FakeRouter()

    async def work(base: str) -> Any:
        hook = {"name": "more", "type": "confirm-traffic-increase", "url": f"{base}/more"}
        spec = parse_spec({"stepWeights": [10, 50, 100], "interval": "10ms", "webhooks": [hook]})
        return await Rollout(spec, router, None, on_event=lambda _: None).run()  # type: ignore[arg-type]

    outcome = with_server(hooks_server, work)
    assert outcome.state == PROMOTED and outcome.passed == [10, 50, 100], outcome.reason
    assert len(hooks_server["calls"]) == 4  # two increases, each refused once then allowed
    assert {c[1]["phase"] for c in hooks_server["calls"]} == {"Progressing"}


def test_a_rollback_webhook_answering_2xx_rolls_back(
    fast: None, monkeypatch: pytest.MonkeyPatch, hooks_server: dict[str, Any]
) -> None:
    monkeypatch.setattr(controller_mod, "evaluate", Verdicts())

    async def work(base: str) -> Any:
        hook = {"name": "stop", "type": "rollback", "url": f"{base}/stop"}
        spec = parse_spec({"interval": "10ms", "webhooks": [hook]})
        return await Rollout(spec, FakeRouter(), None, on_event=lambda _: None).run()  # type: ignore[arg-type]

    outcome = with_server(hooks_server, work)
    assert (outcome.state, outcome.reason) == (ROLLED_BACK, "rollback webhook stop answered 2xx")


def test_a_resumed_rollout_still_waits_at_the_next_confirm_traffic_increase(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first weight after a resume is not the spec's first weight: its gate holds."""
    from rollout.progress import plan_resume, progress_json

    spec = parse_spec(
        {
            "stepWeights": [10, 50],
            "interval": "10ms",
            "webhooks": [{"name": "more", "type": "confirm-traffic-increase"}],
        }
    )
    lost = progress_json(
        {"state": "running", "weight": 10, "phases_passed": 1}, spec, passed=[10], pid=7, now=1.0
    )
    plan = plan_resume(lost, now=1000.0)
    commands, waits = Commands(), []

    def on_event(message: str) -> None:
        if "waiting for confirm-traffic-increase" in message:
            waits.append(message)
            commands.send("confirm")

    monkeypatch.setattr(controller_mod, "evaluate", Verdicts())
    rollout = Rollout(spec, FakeRouter(), None, commands=commands, on_event=on_event, resume=plan)  # type: ignore[arg-type]
    outcome = asyncio.run(rollout.run())
    assert outcome.state == PROMOTED and len(waits) == 1


def test_a_confirmation_sent_while_paused_waits_for_resume(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec(PROMOTION_GATE)
    commands, router = Commands(), FakeRouter()

    async def go() -> Any:
        monkeypatch.setattr(controller_mod, "evaluate", Verdicts())
        rollout = Rollout(spec, router, None, commands=commands, on_event=lambda _: None)  # type: ignore[arg-type]
        task = asyncio.create_task(rollout.run())
        while rollout.outcome.phase.get("kind") != "confirm":
            await asyncio.sleep(0.01)
        commands.send("pause")
        commands.send("confirm")
        await asyncio.sleep(0.3)
        assert router.steps == [] and rollout.outcome.paused  # held: paused beats confirmed
        commands.send("resume")
        return await task

    outcome = asyncio.run(go())
    assert outcome.state == PROMOTED and router.steps == ["finalize"]


def test_an_abort_before_any_route_changed_puts_nothing_back(
    fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Aborted while waiting at confirm-rollout (the step in force untouched): no rollback
    step is applied, since the rollout changed nothing."""
    spec = parse_spec({"webhooks": [{"name": "go", "type": "confirm-rollout"}]})
    commands = Commands()
    commands.send("abort")
    router = FakeRouter("lock-down")

    async def go() -> Any:
        monkeypatch.setattr(controller_mod, "evaluate", Verdicts())
        rollout = Rollout(spec, router, None, commands=commands, on_event=lambda _: None)  # type: ignore[arg-type]
        rollout.outcome.phase = {"kind": "confirm"}
        return await rollout.run()

    outcome = asyncio.run(go())
    assert outcome.state == ABORTED and router.steps == [] and router.http == []


def test_the_rules_a_rollout_adds_keep_the_default_routes_timeout_and_retries() -> None:
    from rollout.routing import AB, Phase, phase_rules
    from tests.support.fake_router import CANARY_STEP_RULES

    base = [
        *CANARY_STEP_RULES[:-1],
        {**CANARY_STEP_RULES[-1], "timeout": "2s", "retries": {"attempts": 2}},
    ]
    spec = parse_spec({"iterations": 1, "match": [{"headers": {"x": {"exact": "y"}}}]})
    ab = next(
        r for r in phase_rules(base, spec, Phase(AB, iteration=1)) if r["name"] == "rollout-ab"
    )
    assert (ab["timeout"], ab["retries"]) == ("2s", {"attempts": 2})
