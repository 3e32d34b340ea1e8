"""vote's app factory: the runtime, an HTML error page, and readiness on both backends."""

from __future__ import annotations

from aiohttp import web

from functions.runtime.app import READINESS_CHECKS, create_function_app
from functions.runtime.client import upstream_check
from functions.vote.keys import SETTINGS
from functions.vote.routes import routes
from functions.vote.settings import VoteSettings
from functions.vote.views import html_error


def create_app(settings: VoteSettings) -> web.Application:
    """The vote (voting-app) function for `settings`."""
    app = create_function_app(
        "vote",
        settings.function_version,
        max_in_flight=settings.max_in_flight,
        error_renderer=html_error,
    )
    app[SETTINGS] = settings
    app[READINESS_CHECKS].extend(
        [
            upstream_check(settings.analytics_url, "analytics"),
            upstream_check(settings.storage_url, "storage"),
        ]
    )
    app.add_routes(routes)
    return app
