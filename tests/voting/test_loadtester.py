"""`voting loadtester`'s two tests over real HTTP, against a stand-in ingress (an aiohttp app
serving the vote page's version mark); the e2e confirm-gate scenario calls it on the real
local mesh (tests/e2e/test_progressive_delivery.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from voting.loadtester import STATE, loadtester_app


def ingress(state: dict[str, Any]) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        version = "2.0" if "featureflag=on" in request.headers.get("Cookie", "") else "1.0"
        version = state.get("canary", version) if version == "2.0" else version
        state["seen"] = state.get("seen", 0) + 1
        status = state.get("status", 200)
        return web.Response(status=status, text=f'<span id="app-version">{version}</span>')

    app = web.Application()
    app.router.add_get("/", page)
    return app


async def post(
    client: aiohttp.ClientSession, url: str, metadata: dict[str, str]
) -> tuple[int, str]:
    async with client.post(url, json={"name": "voting-app", "metadata": metadata}) as response:
        return response.status, await response.text()


async def test_smoke_passes_only_when_2_0_answers_through_the_ingress(aiohttp_server: Any) -> None:
    state: dict[str, Any] = {}
    target: TestServer = await aiohttp_server(ingress(state))
    tester: TestServer = await aiohttp_server(loadtester_app(str(target.make_url("/"))))
    async with aiohttp.ClientSession() as client:
        assert await post(client, str(tester.make_url("/smoke")), {}) == (
            200,
            "smoke: app 2.0 answered 200",
        )
        state["canary"] = "1.0"  # the canary step is not in force: the cookie reaches 1.0
        status, text = await post(client, str(tester.make_url("/smoke")), {})
        assert status == 502 and "from app 1.0 (expected 200 from 2.0)" in text


async def test_traffic_keeps_a_run_going_and_fails_the_check_after_a_failing_run(
    aiohttp_server: Any,
) -> None:
    state: dict[str, Any] = {}
    target: TestServer = await aiohttp_server(ingress(state))
    tester: TestServer = await aiohttp_server(loadtester_app(str(target.make_url("/"))))
    url = str(tester.make_url("/traffic"))
    run = {"rate": "40", "duration": "500ms"}
    async with aiohttp.ClientSession() as client:
        status, text = await post(client, url, run)
        assert status == 200 and text.startswith("traffic: running")
        while state.get("seen", 0) < 20:  # the run sends on its own
            await asyncio.sleep(0.05)
        state["status"] = 503
        await run_ended(tester)
        status, text = await post(client, url, run)
        assert status == 200, text  # the first run had no failures
        await run_ended(tester)
        status, text = await post(client, url, run)
        assert status == 500 and "requests failed" in text and "HTTP 503" in text


async def run_ended(tester: TestServer, timeout: float = 30) -> None:
    """Wait until the loadtester's current run has finished (a busy machine only slows it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not tester.app[STATE].task.done():
        assert asyncio.get_running_loop().time() < deadline, "the traffic run never ended"
        await asyncio.sleep(0.05)


async def test_bad_metadata_is_refused_naming_the_key(aiohttp_server: Any) -> None:
    tester: TestServer = await aiohttp_server(loadtester_app("http://127.0.0.1:9/"))
    async with aiohttp.ClientSession() as client:
        url = str(tester.make_url("/traffic"))
        assert await post(client, url, {"cmd": "rm -rf /"}) == (
            400,
            "traffic: metadata.cmd: unknown (known: duration, header, header-share, rate)",
        )
        status, text = await post(client, url, {"duration": "soon"})
        assert status == 400 and "metadata.duration: invalid duration 'soon'" in text
