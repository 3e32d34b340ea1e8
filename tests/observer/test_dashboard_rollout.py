"""The canary rollout on the dashboard: the panel, the rollout key, the JSON snapshot.

The panel is fed by a fake source whose status carries a rollout block as `voting rollout`
reports it. The rollout key runs the real `rollout.controller.Rollout` through
`rollout.runner.run_rollout`, against a fake-but-real-HTTP control API (a `voting up`
stand-in: status, steps, documents, PUT /rollout) and a fake Prometheus API; the last class
presses the key against a REAL local system with real traffic (e2e).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestServer

import observer.app
from mesh.rollout_lease import CommandRefused, check_command
from mesh.rollout_lease import observe as observe_rollout
from mesh.steps import render_step, resolve_step
from observer.app import ObserverApp
from observer.model import Metrics, Votes, build_snapshot
from observer.rollout_controls import CLUSTER_ROLLOUT
from observer.rollout_progress import rollout_from_json
from observer.screens import ConfirmRollout
from observer.sources.local import LocalSource
from observer.widgets.events import EventLog
from observer.widgets.rollout import RolloutPanel
from rollout.spec import RolloutSpec, parse_spec
from tests.observer.fakes import CANARY, ROLLOUT_ROLLED_BACK, ROLLOUT_RUNNING, FixedSource
from tests.support.observer_env import REPO, VOTING
from tests.support.rollout import SPEED_INDEPENDENT_GATES

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


class RecordingApp(ObserverApp):
    """The dashboard, remembering what it notified (toasts vanish; tests read them here)."""

    CSS_PATH = Path(observer.app.__file__).with_name("app.tcss")  # relative paths follow the class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.notes.append(message)
        super().notify(message, **kwargs)


class RolloutSource(FixedSource):
    """The fixed canary reading with a rollout block (status JSON) the test can change."""

    def __init__(self, rollout: dict[str, Any] | None = None, kind: str = "local") -> None:
        super().__init__(rollout=rollout)
        self.kind = kind


async def wait_for(
    pilot: Any,
    condition: Callable[[], bool],
    timeout: float = 30,
    what: str = "",
    shown: Callable[[], str] | None = None,
) -> None:
    """Let the app run until `condition()` holds (polled: a busy machine only slows it).

    `shown` gives what the screen showed when the deadline passed, for the failure message.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            seen = f"\n--- shown at the deadline ---\n{shown()}" if shown is not None else ""
            raise AssertionError(f"not within {timeout}s: {what}{seen}")
        await pilot.pause(0.05)


def panel(app: ObserverApp) -> str:
    """What the rollout panel shows, as plain text at the 80-column width."""
    return app.query_one(RolloutPanel).text(76).plain


def rollout_shown(app: ObserverApp) -> bool:
    return app.query_one("#rollout-box").display


# ---------------------------------------------------------------- the panel
class TestRolloutPanel:
    async def test_a_running_rollout_shows_its_weight_each_gate_and_one_line_per_interval(
        self,
    ) -> None:
        app = ObserverApp(RolloutSource(ROLLOUT_RUNNING), refresh_s=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: rollout_shown(app), what="rollout panel shown")
            text = panel(app)
            lines = text.splitlines()
            assert lines[0].startswith("● running  weight 25% → v2-0  10% ✓ → 25% ● → 50% → 100%")
            gates = {line.split()[0]: line for line in lines[2:6]}
            assert gates["canary-requests"].split()[1:] == ["48", "≥", "20", "✓", "pass"]
            assert gates["success-rate"].split()[1:] == ["99.6%", "≥", "99%", "✓", "pass"]
            assert gates["latency-p99"].split()[1:] == ["88ms", "≤", "500ms", "✓", "pass"]
            assert "no data ≥ 100%" in gates["mtls-share"]
            assert "? inconclusive" in gates["mtls-share"]
            history = [line for line in lines if line[:2].isdigit()]
            assert [h.split()[1:4] for h in history] == [
                ["10%", "✓✓✓✓", "pass"],
                ["25%", "✓✓✓?", "inconclusive:"],
            ]
            assert "mtls-share no data" in history[1]
            assert "reason" not in text
            assert (
                app.query_one("#rollout-box").border_title
                == "rollout · voting-app → v2-0 · running"
            )

    async def test_an_ab_rollout_shows_its_phase_iterations_pause_and_who_paused_it(
        self,
    ) -> None:
        ab = {
            **ROLLOUT_RUNNING,
            "weight": 0,
            "weights": [],
            "iterations": 3,
            "phases_passed": 1,
            "phase": {
                "kind": "ab",
                "iteration": 2,
                "detail": "A/B iteration 2/3: matching users to v2-0",
            },
            "paused": True,
            "failed_checks": 1,
            "spec": {"threshold": 2},
            "history": [
                {
                    "time": ROLLOUT_RUNNING["started"] + 30,
                    "weight": 0,
                    "phase": {"kind": "ab", "weight": 0, "iteration": 1},
                    "gates": ROLLOUT_RUNNING["history"][0]["gates"],
                }
            ],
            "events": [{"time": ROLLOUT_RUNNING["started"] + 40, "message": "paused by alice"}],
        }
        app = ObserverApp(RolloutSource(ab), refresh_s=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: rollout_shown(app), what="rollout panel shown")
            lines = panel(app).splitlines()
            assert lines[0].startswith("● running  A/B testing  A/B 1 ✓ → A/B 2 ● → A/B 3")
            assert (
                lines[1].rstrip() == "A/B iteration 2/3: matching users to v2-0 · failed checks 1/2"
            )
            assert lines[2].startswith("⏸ PAUSED")
            assert lines[3].rstrip().endswith("paused by alice")
            history = [line for line in lines if line[:2].isdigit() and "A/B 1" in line]
            assert history and history[-1].split()[3:5] == ["✓✓✓✓", "pass"]

    async def test_a_rolled_back_rollout_shows_its_state_and_reason_with_the_failed_gates(
        self,
    ) -> None:
        app = ObserverApp(RolloutSource(ROLLOUT_ROLLED_BACK), refresh_s=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: rollout_shown(app), what="rollout panel shown")
            text = panel(app)
            assert text.startswith("↩ rolled back at 25%  10% ✓ → 25% ✗ → 50% → 100%")
            assert "reason: gate failed at weight 25%: success-rate 0.912" in text
            assert "91.2% ≥ 99%      ✗ fail" in text
            assert "1450ms ≤ 500ms    ✗ fail" in text
            assert "25%  ✓✗✗✓  fail: success-rate 91.2%, latency-p99 1450ms" in text
            box = app.query_one("#rollout-box")
            assert box.has_class("-rolled-back") and not box.has_class("-running")
            assert box.border_title.endswith("· rolled back")

    async def test_a_lost_controller_is_shown_with_what_to_run(self) -> None:
        lease = {**ROLLOUT_RUNNING, "pid": 4242, "heartbeat": 1.0, "lease_expires_at": 2.0}
        lost = observe_rollout(lease)  # what `voting up`'s status shows once the lease expired
        app = ObserverApp(RolloutSource(lost), refresh_s=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: rollout_shown(app), what="rollout panel shown")
            text = panel(app)
            assert text.startswith("⚠ controller lost at 25%"), text
            assert (
                "controller lost (pid 4242 stopped reporting) — run `voting rollout --resume`"
                in " ".join(text.split())
            )
            box = app.query_one("#rollout-box")
            assert box.has_class("-controller-lost") and not box.has_class("-running")
            assert box.border_title.endswith("· controller lost")

    async def test_the_panel_shows_only_while_status_has_a_rollout(self) -> None:
        source = RolloutSource(None)
        app = ObserverApp(source, refresh_s=0.1)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.state is not None, what="first state")
            await pilot.pause(0.2)
            assert not rollout_shown(app)
            source.rollout = ROLLOUT_RUNNING
            await wait_for(pilot, lambda: rollout_shown(app), what="panel appears")
            source.rollout = None
            await wait_for(pilot, lambda: not rollout_shown(app), what="panel hides again")

    async def test_the_panel_follows_the_weight_as_the_rollout_moves(self) -> None:
        source = RolloutSource(ROLLOUT_RUNNING)
        app = ObserverApp(source, refresh_s=0.1)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: "weight 25%" in panel(app), what="at 25%")
            moved = json.loads(json.dumps(ROLLOUT_RUNNING))
            moved["weight"] = 50
            moved["history"].append({"time": moved["started"] + 90, "weight": 25, "gates": []})
            source.rollout = moved
            await wait_for(pilot, lambda: "weight 50%" in panel(app), what="at 50%")
            assert "10% ✓ → 25% ✓ → 50% ● → 100%" in panel(app)

    def test_the_json_snapshot_carries_the_rollout_block_as_status_reports_it(self) -> None:
        state = replace(CANARY, rollout=rollout_from_json(ROLLOUT_ROLLED_BACK))
        snapshot = build_snapshot("local", state, Metrics.unavailable("up", ""), Votes("up"))
        block = json.loads(json.dumps(snapshot.to_json()))["rollout"]
        for key in ("state", "weight", "reason", "gates", "history", "started", "finished"):
            assert block[key] == ROLLOUT_ROLLED_BACK[key], key
        no_rollout = build_snapshot("local", CANARY, Metrics.unavailable("up", ""), Votes("up"))
        assert no_rollout.to_json()["rollout"] is None


# ---------------------------------------------------------------- a stand-in local system
@dataclass
class FakeLocalSystem:
    """`voting up`'s control API and its Prometheus, faked over real HTTP.

    Every Prometheus query answers one series of voting-app 2.0: a healthy canary
    (10 req/s, all successful, p99 40 ms, all mutual TLS) unless `success` is lowered.
    """

    state_dir: Path
    step: int = 4
    documents: list[dict[str, Any]] = field(default_factory=lambda: render_step(4))
    rollout: dict[str, Any] | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    success: float = 1.0
    prometheus_url: str = ""

    def status(self) -> dict[str, Any]:
        name = resolve_step(self.step).name
        return {
            "step": {"number": self.step, "name": name},
            "services": [],
            "workloads": [
                {"name": f"voting-app-{v.replace('.', '-')}", "app": "voting-app", "version": v}
                | {"ready": 1, "desired": 1}
                for v in ("1.0", "2.0")
            ],
            "events": [],
            "ingress": None,
            "prometheus": self.prometheus_url,
            "rollout": self.rollout,
        }

    def control_app(self) -> web.Application:
        async def status(request: web.Request) -> web.Response:
            return web.json_response(self.status())

        async def step(request: web.Request) -> web.Response:
            self.step = resolve_step(str((await request.json())["step"])).number
            self.steps.append(self.step)
            self.documents = render_step(self.step)
            return web.json_response(self.status())

        async def documents(request: web.Request) -> web.Response:
            name = resolve_step(self.step).name
            return web.json_response(
                {"step": {"number": self.step, "name": name}, "documents": self.documents}
            )

        async def apply(request: web.Request) -> web.Response:
            self.documents = (await request.json())["documents"]
            return web.json_response(self.status())

        async def rollout(request: web.Request) -> web.Response:
            self.rollout = await request.json()
            self.reports.append(self.rollout)
            return web.json_response({"ok": True})

        async def queue_command(request: web.Request) -> web.Response:
            body = await request.json()
            try:  # the real system's check: refused when it does not apply now
                check_command(self.rollout, body["verb"])
            except CommandRefused as exc:
                return web.json_response({"error": str(exc)}, status=409)
            self.commands.append(body)
            return web.json_response({"queued": body["verb"]})

        async def take_commands(request: web.Request) -> web.Response:
            taken, self.commands[:] = list(self.commands), []
            return web.json_response({"commands": taken})

        app = web.Application()
        app.router.add_get("/status", status)
        app.router.add_post("/step", step)
        app.router.add_get("/documents", documents)
        app.router.add_post("/apply", apply)
        app.router.add_put("/rollout", rollout)
        app.router.add_post("/rollout/commands", queue_command)
        app.router.add_delete("/rollout/commands", take_commands)
        return app

    def prometheus_app(self) -> web.Application:
        async def query(request: web.Request) -> web.Response:
            promql = str((await request.post()).get("query", ""))
            if "histogram_quantile" in promql:
                value = 40.0
            elif 'response_code!~"5.."' in promql:
                value = self.success
            elif "connection_security_policy" in promql or "group_left" in promql:
                value = 1.0
            else:
                value = 10.0
            labels = {"destination_service_name": "voting-app", "destination_version": "2.0"}
            result = [{"metric": labels, "value": [time.time(), str(value)]}]
            return web.json_response(
                {"status": "success", "data": {"resultType": "vector", "result": result}}
            )

        async def query_range(request: web.Request) -> web.Response:
            return web.json_response(
                {"status": "success", "data": {"resultType": "matrix", "result": []}}
            )

        app = web.Application()
        app.router.add_post("/api/v1/query", query)
        app.router.add_post("/api/v1/query_range", query_range)
        return app


@pytest.fixture
async def fake_system(aiohttp_server: ServerFactory, tmp_path: Path) -> FakeLocalSystem:
    system = FakeLocalSystem(tmp_path)
    control = await aiohttp_server(system.control_app())
    prometheus = await aiohttp_server(system.prometheus_app())
    system.prometheus_url = str(prometheus.make_url("")).rstrip("/")
    (tmp_path / "control.json").write_text(json.dumps({"pid": 0, "port": control.port}))
    return system


def quick(**changes: Any) -> RolloutSpec:
    """A rollout that judges every 0.2 s (the fake Prometheus answers at once)."""
    return replace(
        RolloutSpec(weights=(50, 100), interval=0.2, min_requests=1, max_inconclusive=2),
        **changes,
    )


def messages(app: ObserverApp) -> list[str]:
    return app.query_one(EventLog).messages


# ---------------------------------------------------------------- the rollout key
class TestRolloutKey:
    async def test_the_rollout_key_asks_first_and_cancelling_starts_nothing(
        self, fake_system: FakeLocalSystem
    ) -> None:
        app = ObserverApp(LocalSource(fake_system.state_dir), refresh_s=0.2, rollout_spec=quick())
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.state is not None, what="first state")
            await pilot.press("R")
            assert isinstance(app.screen, ConfirmRollout)
            await pilot.press("n")
            await pilot.pause(0.5)
            assert fake_system.reports == [] and not app.rollout_running

    async def test_a_confirmed_rollout_runs_promotes_and_logs_its_events(
        self, fake_system: FakeLocalSystem
    ) -> None:
        app = ObserverApp(LocalSource(fake_system.state_dir), refresh_s=0.2, rollout_spec=quick())
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.state is not None, what="first state")
            await pilot.press("R", "y")
            await wait_for(
                pilot, lambda: "✓ promoted" in panel(app), timeout=30, what="promoted on the panel"
            )
            assert [r["weight"] for r in fake_system.reports if r["state"] == "running"][:1] == [50]
            assert fake_system.steps == [5]  # finalize
            log = messages(app)
            assert "rollout started from the dashboard" in log
            assert any(m.startswith("[rollout] weight 50% to v2-0") for m in log), log
            assert any(m.startswith("rollout promoted: every gate passed") for m in log), log
            assert "50% ✓ → 100% ✓" in panel(app)

    async def test_the_keys_pause_resume_and_confirm_the_gate_it_waits_at(
        self, fake_system: FakeLocalSystem
    ) -> None:
        """p, p, c: the panel shows the pause, the gate and who confirmed it (the verbs go
        through the control API as `voting rollout pause|resume|confirm` do)."""
        gated = quick(
            weights=(100,),
            webhooks=parse_spec(
                {"webhooks": [{"name": "release-manager", "type": "confirm-promotion"}]}
            ).webhooks,
        )
        app = ObserverApp(LocalSource(fake_system.state_dir), refresh_s=0.2, rollout_spec=gated)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.state is not None, what="first state")
            await pilot.press("R", "y")
            await wait_for(
                pilot,
                lambda: "waiting for confirmation" in panel(app),
                what="held at the gate",
                shown=lambda: panel(app),
            )
            text = panel(app)
            assert "waiting for confirm-promotion (release-manager)" in text
            assert "c confirms the gate" in text
            await pilot.press("p")
            await wait_for(
                pilot, lambda: "PAUSED" in panel(app), what="paused", shown=lambda: panel(app)
            )
            assert "paused by" in panel(app)
            await pilot.press("p")
            await wait_for(pilot, lambda: "PAUSED" not in panel(app), what="resumed")
            await pilot.press("c")
            await wait_for(
                pilot, lambda: "✓ promoted" in panel(app), what="promoted", shown=lambda: panel(app)
            )
            assert fake_system.steps == [5]
            events = [e["message"] for e in fake_system.rollout["events"]]
            user = f"{getpass.getuser()} (dashboard)"
            assert events[:3] == [
                f"paused by {user}",
                f"resumed by {user}",
                f"confirm-promotion confirmed by {user}",
            ]
            await wait_for(pilot, lambda: "rollout confirm sent" in messages(app), what="logged")

    async def test_a_key_that_does_not_apply_now_says_why(
        self, fake_system: FakeLocalSystem
    ) -> None:
        app = RecordingApp(LocalSource(fake_system.state_dir), refresh_s=0.2, rollout_spec=quick())
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.state is not None, what="first state")
            await pilot.press("c")
            await wait_for(
                pilot, lambda: any("rollout confirm" in n for n in app.notes), what="a note"
            )
            assert any("no rollout to confirm" in n for n in app.notes), app.notes

    async def test_a_second_press_while_a_rollout_runs_says_so(
        self, fake_system: FakeLocalSystem
    ) -> None:
        app = RecordingApp(
            LocalSource(fake_system.state_dir), refresh_s=0.2, rollout_spec=quick(interval=30)
        )
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.state is not None, what="first state")
            await pilot.press("R", "y")
            await wait_for(pilot, lambda: "weight 50%" in panel(app), what="running at 50%")
            await pilot.press("R")
            assert not isinstance(app.screen, ConfirmRollout)
            assert app.notes[-1] == "a rollout is already running (weight 50%)"

    async def test_quitting_rolls_back_the_rollout_it_started_then_quits(
        self, fake_system: FakeLocalSystem
    ) -> None:
        app = ObserverApp(
            LocalSource(fake_system.state_dir), refresh_s=0.2, rollout_spec=quick(interval=30)
        )
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.state is not None, what="first state")
            await pilot.press("R", "y")
            await wait_for(pilot, lambda: fake_system.reports != [], what="first report")
            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running, what="quit after the rollback")
        assert fake_system.steps == [3]  # lock-down: all traffic back on 1.x
        assert fake_system.rollout is not None
        assert fake_system.rollout["state"] == "aborted"
        assert fake_system.rollout["reason"] == "rollout cancelled"

    async def test_a_failing_gate_rolls_back_and_the_panel_says_why(
        self, fake_system: FakeLocalSystem
    ) -> None:
        fake_system.success = 0.8
        app = ObserverApp(LocalSource(fake_system.state_dir), refresh_s=0.2, rollout_spec=quick())
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.state is not None, what="first state")
            await pilot.press("R", "y")
            await wait_for(
                pilot, lambda: "↩ rolled back" in panel(app), timeout=30, what="rolled back"
            )
            text = panel(app)
            assert "reason: gate failed at weight 50%: success-rate 0.8" in text
            assert "80.0% ≥ 99%      ✗ fail" in text
            assert any("rolled back" in m for m in messages(app))

    async def test_a_rollout_that_cannot_start_is_logged_and_the_app_keeps_running(
        self, tmp_path: Path
    ) -> None:
        app = ObserverApp(LocalSource(tmp_path / "nothing"), refresh_s=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("R", "y")
            await wait_for(
                pilot,
                lambda: any(m.startswith("rollout failed: no local system") for m in messages(app)),
                what="the failure in the event log",
            )
            assert app.is_running and not app.rollout_running

    async def test_on_the_cluster_source_the_key_points_to_voting_rollout_context(self) -> None:
        app = RecordingApp(RolloutSource(None, kind="cluster"), refresh_s=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("R")
            assert not isinstance(app.screen, ConfirmRollout)
            assert app.notes == [CLUSTER_ROLLOUT]
            assert "use `voting rollout --context`" in CLUSTER_ROLLOUT

    async def test_observe_once_json_includes_the_rollout_block(
        self, fake_system: FakeLocalSystem
    ) -> None:
        fake_system.rollout = ROLLOUT_RUNNING
        done = await asyncio.create_subprocess_exec(
            *VOTING,
            "observe",
            "--once",
            "--json",
            "--state-dir",
            str(fake_system.state_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        out, err = await asyncio.wait_for(done.communicate(), 60)
        assert done.returncode == 0, err.decode()
        block = json.loads(out)["rollout"]
        assert block["state"] == "running" and block["weight"] == 25
        assert block["gates"] == ROLLOUT_RUNNING["gates"]
        assert [h["weight"] for h in block["history"]] == [10, 25]


# ---------------------------------------------------------------- against a real local system
# Ports of this module's own `voting up` (kept apart from the session's system in conftest),
# and a Redis database of its own (tests/e2e use 9-14), emptied of its votes afterwards.
E2E_PORTS = {"port": 18310, "control": 18311, "prometheus": 18312, "base": 23400}
E2E_REDIS_DB = 8


@pytest.fixture(scope="module")
def rollout_system() -> Iterator[Path]:
    """A real `voting up --detach` at the canary step with telemetry, always `voting down`."""
    if shutil.which("prometheus") is None:
        pytest.skip("no prometheus on PATH: a rollout needs telemetry")
    state_dir = Path(tempfile.mkdtemp(prefix="obs-rollout-state-"))
    database = f"voting_obs_rollout_{uuid.uuid4().hex[:8]}"
    argv = [
        *VOTING,
        "up",
        "--detach",
        "--step",
        "canary",
        "--state-dir",
        str(state_dir),
        "--port",
        str(E2E_PORTS["port"]),
        "--control-port",
        str(E2E_PORTS["control"]),
        "--prometheus-port",
        str(E2E_PORTS["prometheus"]),
        "--base-port",
        str(E2E_PORTS["base"]),
        "--mysql-database",
        database,
        "--redis-url",
        f"redis://127.0.0.1:6379/{E2E_REDIS_DB}",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env, cwd=REPO)
        if done.returncode != 0:
            pytest.fail(f"voting up failed: {done.stdout}\n{done.stderr}")
        yield state_dir
    finally:
        subprocess.run(
            [*VOTING, "down", "--state-dir", str(state_dir)], capture_output=True, timeout=60
        )
        subprocess.run(
            ["mysql", "-uroot", "-e", f"DROP DATABASE IF EXISTS `{database}`"],
            capture_output=True,
            timeout=30,
        )
        client = redis.Redis(host="127.0.0.1", port=6379, db=E2E_REDIS_DB)
        keys = list(client.scan_iter(match="voting:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.mark.e2e
class TestRolloutOnTheLocalSystem:
    async def test_the_rollout_key_with_demo_traffic_moves_the_weight_on_the_panel(
        self, rollout_system: Path
    ) -> None:
        spec = RolloutSpec(
            weights=(10, 50, 100),
            interval=5.0,
            min_requests=5,
            max_inconclusive=5,
            gates=SPEED_INDEPENDENT_GATES,  # the subject is the key and the panel
        )
        source = LocalSource(rollout_system, window="5s")
        app = ObserverApp(source, refresh_s=0.5, rollout_spec=spec)
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(pilot, lambda: app.state is not None, 30, "first state")
                await pilot.press("t")  # demo traffic: 10 req/s, a quarter with the cookie
                await pilot.press("R")
                assert isinstance(app.screen, ConfirmRollout)
                await pilot.press("y")
                seen = lambda: f"{panel(app)}\n" + "\n".join(messages(app)[-12:])  # noqa: E731
                await wait_for(pilot, lambda: "weight 10%" in panel(app), 60, "weight 10%", seen)
                await wait_for(pilot, lambda: "weight 50%" in panel(app), 90, "weight 50%", seen)
                text = panel(app)
                assert "10% ✓ → 50% ● → 100%" in text
                assert "  10%  ✓✓✓✓  pass" in text
                assert any(m.startswith("[rollout] weight 50%") for m in messages(app))
                await pilot.press("q")  # rolls the canary back before quitting
                await wait_for(pilot, lambda: not app.is_running, 60, "rolled back and quit")
        finally:
            await source.aclose()
        status = json.loads(
            subprocess.run(
                [*VOTING, "status", "--json", "--state-dir", str(rollout_system)],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
        )
        assert status["rollout"]["state"] == "aborted"
        assert status["step"]["name"] == "lock-down"
