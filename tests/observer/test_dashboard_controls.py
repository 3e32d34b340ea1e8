"""Dashboard controls with a scripted source (no mesh needed): keys, screens, traffic, events."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from observer.app import ObserverApp
from observer.model import MeshState, Route
from observer.screens import ConfirmStep, HelpScreen
from observer.widgets.chrome import StatusLine
from observer.widgets.events import EventLog
from rollout.spec import parse_spec
from tests.observer.fakes import CANARY, FixedSource

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


class ScriptedSource(FixedSource):
    """The fixed canary reading, but with a state the test can change and steps it records."""

    def __init__(self, ingress_url: str | None = None) -> None:
        super().__init__()
        self.current: MeshState = CANARY
        self.applied: list[int] = []
        self._ingress = ingress_url

    @property
    def ingress_url(self) -> str | None:  # type: ignore[override]
        return self._ingress

    async def state(self) -> MeshState:
        return self.current

    async def apply_step(self, step: int) -> MeshState:
        self.applied.append(step)
        return self.current


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 30) -> None:
    """Let the app run until `condition()` holds (polled: a busy machine only slows it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def test_the_next_step_key_asks_first_and_applies_only_when_confirmed() -> None:
    source = ScriptedSource()
    app = ObserverApp(source, refresh_s=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state is not None)
        await pilot.press("n")
        assert isinstance(app.screen, ConfirmStep) and app.screen.step == 5
        await pilot.press("n")  # cancel
        assert source.applied == []
        await pilot.press("n", "y")
        await wait_for(pilot, lambda: source.applied == [5])


async def test_clicking_a_step_in_the_step_bar_asks_to_apply_it() -> None:
    source = ScriptedSource()
    app = ObserverApp(source, refresh_s=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state is not None)
        await pilot.click("#step-2")
        assert isinstance(app.screen, ConfirmStep) and app.screen.step == 2
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: source.applied == [2])


async def test_a_refused_step_is_notified_and_logged() -> None:
    app = ObserverApp(FixedSource(), refresh_s=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state is not None)
        await pilot.press("3", "y")
        log = app.query_one(EventLog)
        await wait_for(pilot, lambda: any("applies no steps" in m for m in log.messages))


async def test_changed_routes_are_logged_as_an_event() -> None:
    source = ScriptedSource()
    app = ObserverApp(source, refresh_s=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state is not None)
        app_service = source.current.service("voting-app")
        assert app_service is not None
        finalized = replace(app_service, routes=(Route("all", "v2-0", "2.0"),))
        source.current = replace(
            CANARY,
            services=tuple(finalized if s.name == "voting-app" else s for s in CANARY.services),
        )
        log = app.query_one(EventLog)
        await wait_for(
            pilot,
            lambda: any(
                m.startswith("routes changed: voting-app: all → v2-0") for m in log.messages
            ),
        )


async def test_the_help_screen_opens_and_closes_from_the_keyboard() -> None:
    app = ObserverApp(FixedSource(), refresh_s=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_the_traffic_key_starts_and_stops_demo_traffic(aiohttp_server: ServerFactory) -> None:
    hits: list[str] = []

    async def page(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Cookie", ""))
        return web.Response(text='<span id="app-version">1.0</span>', content_type="text/html")

    web_app = web.Application()
    web_app.router.add_route("*", "/", page)
    server = await aiohttp_server(web_app)
    app = ObserverApp(ScriptedSource(str(server.make_url("/"))), refresh_s=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        status = app.query_one(StatusLine)
        await pilot.press("t")
        await wait_for(pilot, lambda: len(hits) >= 5 and "traffic ● 10/s" in status.plain)
        await pilot.press("t")
        await wait_for(pilot, lambda: "traffic ● off" in status.plain)
        await pilot.pause(0.5)  # a request already on its way when stopped may still land
        sent = len(hits)
        await pilot.pause(1.0)  # 10 more would have arrived if it still ran
        assert len(hits) == sent
        assert any("featureflag=on" in h for h in hits)


async def test_with_an_ab_rollout_spec_demo_traffic_sends_its_header_too(
    aiohttp_server: ServerFactory,
) -> None:
    """Without users that match, an A/B canary gets no traffic and is never judged."""
    hits: list[str] = []

    async def page(request: web.Request) -> web.Response:
        hits.append(request.headers.get("x-canary", ""))
        return web.Response(text='<span id="app-version">1.0</span>', content_type="text/html")

    web_app = web.Application()
    web_app.router.add_route("*", "/", page)
    server = await aiohttp_server(web_app)
    spec = parse_spec({"iterations": 2, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]})
    app = ObserverApp(ScriptedSource(str(server.make_url("/"))), refresh_s=0.2, rollout_spec=spec)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        await wait_for(pilot, lambda: hits.count("insider") >= 3 and hits.count("") >= 3)
        status = app.query_one(StatusLine)
        await wait_for(pilot, lambda: "A/B 0/" in status.plain)  # counted apart; none on 2.0
        await pilot.press("t")
        log = app.query_one(EventLog).messages
        assert any("30% A/B users (x-canary: insider)" in m for m in log), log


async def test_q_quits() -> None:
    app = ObserverApp(FixedSource(), refresh_s=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
