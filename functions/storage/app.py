"""storage's app factory: the runtime plus a VoteStore opened in cleanup_ctx."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import Counter

from functions.runtime.app import READINESS_CHECKS, create_function_app
from functions.runtime.middleware import METRICS
from functions.storage.backends import open_store
from functions.storage.keys import RECORDED, SETTINGS, STORE
from functions.storage.routes import routes
from functions.storage.settings import StorageSettings


def create_app(settings: StorageSettings) -> web.Application:
    """The storage function for `settings` (Redis for 1.0, MySQL for 2.0)."""
    app = create_function_app(
        "storage",
        settings.function_version,
        max_in_flight=settings.max_in_flight,
        outbound_http=False,
    )
    app[SETTINGS] = settings
    app[RECORDED] = Counter(
        "votes_recorded",
        "Vote events received, by type and whether they were counted or duplicates.",
        ("type", "outcome"),
        registry=app[METRICS].registry,
    )
    app.cleanup_ctx.append(_store_ctx)
    app[READINESS_CHECKS].append(_store_ready)
    app.add_routes(routes)
    return app


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the store at start-up (tolerating a down backend) and close it at shutdown."""
    app[STORE] = await open_store(app[SETTINGS])
    yield
    await app[STORE].close()


async def _store_ready(app: web.Application) -> None:
    await app[STORE].ping()
