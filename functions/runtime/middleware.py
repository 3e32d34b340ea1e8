"""The two middlewares every function gets.

`observe` (outermost) sets the request id, logs one access line and counts the request
in /metrics; `errors` turns whatever a view raised into a response, so neither a stack
trace nor a bare 500 from aiohttp ever reaches a user.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from functions.runtime.errors import FunctionError, Unavailable
from functions.runtime.logs import request_id_var
from functions.runtime.metrics import Metrics

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorRenderer = Callable[[web.Request, int, str], web.Response]

METRICS = web.AppKey("metrics", Metrics)
ERROR_RENDERER = web.AppKey("error_renderer", ErrorRenderer)

log = logging.getLogger("functions.http")

# Request ids are echoed into logs and outbound headers: accept only tame ones.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
# Routes polled by the platform; logged at debug so they do not drown the access log.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
# Headers of an aiohttp HTTPException worth keeping on the rendered error page.
_KEPT_HEADERS = ("Allow", "Retry-After", "Location")


def json_error(request: web.Request, status: int, message: str) -> web.Response:
    """The default error body: a small JSON object, for functions called by functions."""
    return web.json_response({"error": message, "status": status}, status=status)


def route_name(request: web.Request) -> str:
    """The matched route's template (bounded label set), or `unmatched`."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind the request id, then log and count the request once it is answered."""
    header = request.headers.get("x-request-id", "")
    request_id = header if _REQUEST_ID.fullmatch(header) else uuid.uuid4().hex
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away before the answer (nginx's convention)
        raise
    finally:
        seconds = time.perf_counter() - started
        route = route_name(request)
        request.app[METRICS].observe(route, request.method, status, seconds)
        log.log(
            logging.DEBUG if route in _QUIET_ROUTES else logging.INFO,
            "%s %s %d",
            request.method,
            request.path,
            status,
            extra={"status": status, "route": route, "ms": round(seconds * 1000, 1)},
        )
        request_id_var.reset(token)


SHED_RETRY_AFTER_S = 1


def admission(limit: int) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """At most `limit` requests in a handler at once; the next get 503 + Retry-After at once.

    The platform routes (/healthz, /readyz, /metrics) are always admitted: a busy function is
    alive, and its metrics are how an operator sees it is shedding. A shed request never
    reaches a view, so a shed vote is never stored and the client's retry counts it once.
    """
    in_flight = 0

    @web.middleware
    async def admit(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight
        if request.path in _QUIET_ROUTES:
            return await handler(request)
        if in_flight >= limit:
            request.app[METRICS].shed()
            response = request.app[ERROR_RENDERER](
                request, 503, "Too many requests at once; try again in a moment"
            )
            response.headers["Retry-After"] = str(SHED_RETRY_AFTER_S)
            return response
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return admit


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Translate domain errors and aiohttp's HTTP errors; hide anything unexpected."""
    render = request.app[ERROR_RENDERER]
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = render(request, exc.status, exc.text or exc.reason)
        for name in _KEPT_HEADERS:
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except FunctionError as exc:
        level = logging.WARNING if exc.status >= 500 else logging.INFO
        log.log(level, "%s: %s", type(exc).__name__, exc.message, exc_info=exc.__cause__)
        response = render(request, exc.status, exc.message)
        if isinstance(exc, Unavailable):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return render(request, 500, "Internal server error")
