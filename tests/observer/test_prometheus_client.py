"""The Prometheus client's three outcomes when the server misbehaves (a tiny aiohttp stand-in)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from observer.metrics import MetricsReader
from telemetry.errors import PrometheusQueryError, PrometheusUnreachable
from telemetry.prometheus import PrometheusClient

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


async def serve(
    aiohttp_server: ServerFactory, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> str:
    app = web.Application()
    app.router.add_post("/api/v1/query", handler)
    app.router.add_post("/api/v1/query_range", handler)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_a_slow_prometheus_is_unreachable_after_the_deadline(
    aiohttp_server: ServerFactory,
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": []}}
        )

    async with PrometheusClient(await serve(aiohttp_server, slow), timeout=0.3) as client:
        with pytest.raises(PrometheusUnreachable, match=r"no answer .* within 0\.3s"):
            await client.query("up")


async def test_a_proxy_error_page_is_unreachable_not_a_result(
    aiohttp_server: ServerFactory,
) -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")

    async with PrometheusClient(await serve(aiohttp_server, html)) as client:
        with pytest.raises(PrometheusUnreachable, match="HTTP 502"):
            await client.query("up")


async def test_an_overloaded_prometheus_is_a_query_error(aiohttp_server: ServerFactory) -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "error",
                "errorType": "timeout",
                "error": "query timed out in expression evaluation",
            },
            status=503,
        )

    async with PrometheusClient(await serve(aiohttp_server, busy)) as client:
        with pytest.raises(PrometheusQueryError, match="timeout"):
            await client.query("up")


async def test_an_empty_answer_is_no_data_for_every_version(aiohttp_server: ServerFactory) -> None:
    async def empty(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": []}}
        )

    async with PrometheusClient(await serve(aiohttp_server, empty)) as client:
        metrics = await MetricsReader(client).read()
    assert metrics.state == "up"
    assert metrics.versions == {} and metrics.edges == ()
