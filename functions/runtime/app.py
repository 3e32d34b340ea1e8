"""The app factory every function builds on: health, readiness, metrics, errors, session.

A function's own `create_app(settings)` calls `create_function_app(...)`, appends its
routes and readiness checks, and registers its resources in `cleanup_ctx`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from functions.runtime.client import http_session_ctx
from functions.runtime.errors import FunctionError
from functions.runtime.metrics import Metrics
from functions.runtime.middleware import (
    ERROR_RENDERER,
    METRICS,
    ErrorRenderer,
    admission,
    errors,
    json_error,
    observe,
)

# A readiness check raises a FunctionError (usually Unavailable) when not ready.
ReadinessCheck = Callable[[web.Application], Awaitable[None]]

READINESS_CHECKS = web.AppKey("readiness_checks", list[ReadinessCheck])

log = logging.getLogger("functions.readiness")

# Votes and CloudEvents are tiny; anything bigger is refused with 413 before parsing.
MAX_BODY_BYTES = 16 * 1024


def create_function_app(
    function: str,
    version: str,
    *,
    error_renderer: ErrorRenderer = json_error,
    outbound_http: bool = True,
    max_in_flight: int = 0,
) -> web.Application:
    """An application with the runtime's middlewares and platform routes in place.

    `max_in_flight` > 0 admits that many requests at once and sheds the excess with a fast
    503 + Retry-After (see `admission`): past saturation, waiting requests would only make
    every answer slower, and a shed vote is one the client may safely send again.
    """
    middlewares = (
        [observe, admission(max_in_flight), errors] if max_in_flight else [observe, errors]
    )
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app[METRICS] = Metrics(function, version)
    app[ERROR_RENDERER] = error_renderer
    app[READINESS_CHECKS] = []
    if outbound_http:
        app.cleanup_ctx.append(http_session_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def healthz(request: web.Request) -> web.Response:
    """Alive: the event loop answers. Never looks at dependencies."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: every dependency answered within its deadline, else 503 with the reasons."""
    checks = request.app[READINESS_CHECKS]
    outcomes = await asyncio.gather(
        *(check(request.app) for check in checks), return_exceptions=True
    )
    reasons = []
    for outcome in outcomes:
        if isinstance(outcome, FunctionError):
            reasons.append(outcome.message)
        elif isinstance(outcome, BaseException):
            log.error("readiness check failed unexpectedly", exc_info=outcome)
            reasons.append("internal error in a readiness check")
    if reasons:
        return web.json_response(
            {"status": "unavailable", "reasons": reasons},
            status=503,
            headers={"Retry-After": "2"},
        )
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this app's registry."""
    body, content_type = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": content_type})
