"""The shared host: health, metrics, errors, logs and settings parsing."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from functions.runtime.app import READINESS_CHECKS, create_function_app
from functions.runtime.errors import InvalidInput, UpstreamUnavailable
from functions.runtime.logs import JsonFormatter, request_id_var

ClientFactory = Callable[[web.Application], Awaitable[TestClient]]


def _app() -> web.Application:
    """A bare function with a few views that exercise the error middleware."""
    app = create_function_app("probe", "9.9", outbound_http=False)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    async def invalid(request: web.Request) -> web.Response:
        raise InvalidInput("that is not a vote")

    async def down(request: web.Request) -> web.Response:
        raise UpstreamUnavailable("analytics is unavailable", retry_after=7)

    async def whoami(request: web.Request) -> web.Response:
        return web.json_response({"request_id": request_id_var.get()})

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app.router.add_get("/boom", boom)
    app.router.add_get("/invalid", invalid)
    app.router.add_get("/down", down)
    app.router.add_get("/whoami", whoami)
    app.router.add_post("/echo", echo)
    return app


async def test_healthz_answers_ok(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_readyz_is_503_with_reasons_when_a_check_fails(
    aiohttp_client: ClientFactory,
) -> None:
    app = _app()

    async def backend_down(app: web.Application) -> None:
        raise UpstreamUnavailable("storage is unreachable")

    app[READINESS_CHECKS].append(backend_down)
    client = await aiohttp_client(app)
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert resp.headers["Retry-After"]
    assert await resp.json() == {"status": "unavailable", "reasons": ["storage is unreachable"]}


async def test_metrics_count_requests_by_route_and_status(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(_app())
    await client.get("/invalid")
    await client.get("/nowhere")
    text = await (await client.get("/metrics")).text()
    assert 'http_requests_total{method="GET",route="/invalid",status="400"} 1.0' in text
    assert 'http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'function_info{function="probe",version="9.9"} 1.0' in text
    assert "http_request_duration_seconds_bucket" in text


async def test_unexpected_exception_becomes_a_plain_500_without_trace(
    aiohttp_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(_app())
    with caplog.at_level(logging.ERROR):
        resp = await client.get("/boom")
    body = await resp.text()
    assert resp.status == 500
    assert await resp.json() == {"error": "Internal server error", "status": 500}
    assert "Traceback" not in body and "secret" not in body
    assert any("unhandled error" in record.getMessage() for record in caplog.records)


async def test_domain_error_becomes_its_status_with_its_message(
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/invalid")
    assert resp.status == 400
    assert (await resp.json())["error"] == "that is not a vote"


async def test_unavailable_error_carries_retry_after(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/down")
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "7"


async def test_body_over_16_kib_is_refused_with_413(aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(_app())
    resp = await client.post("/echo", data=b"x" * (16 * 1024 + 1))
    assert resp.status == 413


async def test_request_id_comes_from_the_x_request_id_header(
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/whoami", headers={"x-request-id": "abc-123"})
    assert await resp.json() == {"request_id": "abc-123"}


async def test_request_id_is_generated_when_the_header_is_absent_or_unsafe(
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/whoami", headers={"x-request-id": "<bad id>"})
    request_id = (await resp.json())["request_id"]
    assert len(request_id) == 32 and request_id.isalnum()


def test_json_log_line_carries_the_request_id_and_a_one_line_error() -> None:
    formatter = JsonFormatter({"function": "vote", "version": "1.0"})
    token = request_id_var.set("req-42")
    try:
        raise ValueError("bad thing")
    except ValueError as exc:
        record = logging.makeLogRecord(
            {
                "msg": "failed %s",
                "args": ("x",),
                "levelname": "ERROR",
                "exc_info": (type(exc), exc, exc.__traceback__),
            }
        )
        line = formatter.format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["request_id"] == "req-42"
    assert entry["msg"] == "failed x"
    assert entry["error"] == "ValueError: bad thing"
    assert entry["function"] == "vote"
