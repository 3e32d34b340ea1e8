"""The admission limit: past MAX_IN_FLIGHT a function sheds at once, it does not queue."""

from __future__ import annotations

import asyncio

from aiohttp import web

from functions.runtime.app import create_function_app


def held_app(limit: int) -> tuple[web.Application, asyncio.Event, list[str]]:
    """A function whose /work view waits for `release`; `reached` lists the views entered."""
    app = create_function_app("test", "1.0", outbound_http=False, max_in_flight=limit)
    release = asyncio.Event()
    reached: list[str] = []

    async def work(request: web.Request) -> web.Response:
        reached.append(request.query.get("n", ""))
        await release.wait()
        return web.json_response({"ok": True})

    app.router.add_post("/work", work)
    return app, release, reached


async def test_requests_past_the_limit_get_503_with_retry_after_while_the_admitted_wait(
    aiohttp_client,
) -> None:
    app, release, reached = held_app(limit=2)
    client = await aiohttp_client(app)
    admitted = [asyncio.create_task(client.post(f"/work?n={n}")) for n in range(2)]
    while len(reached) < 2:  # both admitted requests are inside the view
        await asyncio.sleep(0.01)
    shed = [await client.post(f"/work?n=x{n}") for n in range(3)]  # answered while held
    assert [r.status for r in shed] == [503, 503, 503]
    assert all(r.headers["Retry-After"] == "1" for r in shed)
    assert reached == ["0", "1"], "a shed request reached the view"
    health = await client.get("/healthz")  # the platform routes are always admitted
    assert health.status == 200
    release.set()
    assert [(await t).status for t in admitted] == [200, 200]
    metrics = await (await client.get("/metrics")).text()
    assert "http_requests_shed_total 3.0" in metrics


async def test_once_the_admitted_finish_new_requests_are_admitted_again(aiohttp_client) -> None:
    app, release, reached = held_app(limit=1)
    release.set()
    client = await aiohttp_client(app)
    statuses = [(await client.post(f"/work?n={n}")).status for n in range(5)]
    assert statuses == [200] * 5 and len(reached) == 5


async def test_no_limit_admits_everything_at_once(aiohttp_client) -> None:
    app, release, reached = held_app(limit=0)
    client = await aiohttp_client(app)
    tasks = [asyncio.create_task(client.post(f"/work?n={n}")) for n in range(50)]
    while len(reached) < 50:
        await asyncio.sleep(0.01)
    release.set()
    assert {(await t).status for t in tasks} == {200}
