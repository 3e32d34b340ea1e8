"""storage's views: CloudEvents in, counts out, as JSON.

    POST /votes   binary-mode CloudEvent → 201 {"counts", "duplicate": false, ...}
                                            200 {"counts", "duplicate": true, ...}
    GET  /counts  → 200 {"counts": {"Cats": 2, "Dogs": 4}, "store": "redis", "version": "1.0"}

Errors (from the runtime's middleware): 400 {"error": ...} for an invalid event, 413 for
a body over 16 KiB, 503 + Retry-After when the backend does not answer in time.
"""

from __future__ import annotations

from aiohttp import web

from functions.storage import keys
from functions.storage.events import VoteCast, decode


async def record_vote(request: web.Request) -> web.Response:
    """Count one vote (or reset) exactly once per CloudEvent id."""
    command = decode(request.headers, await request.read())
    recorded = await request.app[keys.STORE].record(command)
    kind = "cast" if isinstance(command, VoteCast) else "reset"
    outcome = "duplicate" if recorded.duplicate else "counted"
    request.app[keys.RECORDED].labels(kind, outcome).inc()
    return web.json_response(
        {"counts": recorded.counts, "duplicate": recorded.duplicate, **_identity(request)},
        status=200 if recorded.duplicate else 201,
    )


async def counts(request: web.Request) -> web.Response:
    """The current count per option."""
    current = await request.app[keys.STORE].counts()
    return web.json_response({"counts": current, **_identity(request)})


def _identity(request: web.Request) -> dict[str, str]:
    """Which store and storage version answered (shown in vote's footer)."""
    settings = request.app[keys.SETTINGS]
    return {"store": settings.store, "version": settings.function_version}
