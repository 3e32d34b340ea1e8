"""results' app factory: the runtime plus one route; its only backend is storage."""

from __future__ import annotations

from aiohttp import web

from functions.results.keys import SETTINGS
from functions.results.routes import routes
from functions.results.settings import ResultsSettings
from functions.runtime.app import READINESS_CHECKS, create_function_app
from functions.runtime.client import upstream_check


def create_app(settings: ResultsSettings) -> web.Application:
    """The results (voting-analytics) function for `settings`."""
    app = create_function_app(
        "results", settings.function_version, max_in_flight=settings.max_in_flight
    )
    app[SETTINGS] = settings
    app[READINESS_CHECKS].append(upstream_check(settings.storage_url, "storage"))
    app.add_routes(routes)
    return app
