"""vote's views: the page, casting a vote, and the feature-flag cookie.

The page never waits on results for more than its deadline and never fails because
of them: it shows "results unavailable" instead. A vote, by contrast, is never lost
silently: if storage does not confirm it, the user gets a 503 page saying so.
"""

from __future__ import annotations

import http
import logging
import re
import uuid

from aiohttp import web

from functions.runtime.client import HTTP_SESSION, call_json, deadline, tracing_headers
from functions.runtime.errors import FunctionError, InvalidInput, Unavailable, UpstreamError
from functions.runtime.logs import request_id_var
from functions.storage.events import VoteCast, VotesReset, encode
from functions.vote.keys import SETTINGS
from functions.vote.page import UNAVAILABLE, Details, PageView, render_error, render_page
from functions.vote.settings import RESET

FEATUREFLAG_COOKIE = "featureflag"
FEATUREFLAG_MAX_AGE = 15 * 60
RESULTS_UNAVAILABLE = "results unavailable"
# What a vote_id (the idempotency key) may look like; ours are UUIDs.
_VOTE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_NO_STORE = {"Cache-Control": "no-store"}

log = logging.getLogger(__name__)


async def index(request: web.Request) -> web.Response:
    """Render the page with the current results (or a clear note that they are missing)."""
    settings = request.app[SETTINGS]
    details = Details(host=settings.pod_name, app_version=settings.function_version)
    try:
        analytics = await call_json(
            request.app[HTTP_SESSION],
            "GET",
            f"{settings.analytics_url}/analytics",
            service="analytics",
            timeout=deadline(settings.analytics_timeout_s),
            headers=tracing_headers(request),
        )
        results = _text(analytics)
        store = analytics.get("store")
        store = store if isinstance(store, dict) else {}
        details = Details(
            host=settings.pod_name,
            app_version=settings.function_version,
            analytics_version=str(analytics.get("version", UNAVAILABLE)),
            store=str(store.get("name", UNAVAILABLE)),
            store_version=str(store.get("version", UNAVAILABLE)),
        )
    except FunctionError as exc:
        log.warning("results unavailable: %s", exc.message)
        results = RESULTS_UNAVAILABLE
    view = PageView(
        title=settings.title,
        options=settings.options,
        results=results,
        vote_id=str(uuid.uuid4()),
        app_version=settings.function_version,
        details=details if settings.showdetails else None,
        featureflag=_flag_is_on(request) if settings.featureflag else None,
    )
    return web.Response(text=render_page(view), content_type="text/html", headers=_NO_STORE)


async def cast(request: web.Request) -> web.Response:
    """Record the form's vote (an option or `reset`) through storage, then go back to /."""
    settings = request.app[SETTINGS]
    try:
        form = await request.post()
    except ValueError as exc:  # a malformed multipart body or charset: the client's fault
        raise InvalidInput("Malformed form: send the vote as a form field.") from exc
    choice = form.get("vote")
    if not isinstance(choice, str) or choice not in (*settings.options, RESET):
        raise InvalidInput(
            f"Unknown vote. Choose {settings.vote1value}, {settings.vote2value} or reset."
        )
    event_id = _event_id(form.get("vote_id"))
    command = VotesReset(event_id) if choice == RESET else VoteCast(event_id, choice)
    headers, body = encode(command, source=f"/voting-app/{settings.function_version}")
    try:
        await call_json(
            request.app[HTTP_SESSION],
            "POST",
            f"{settings.storage_url}/votes",
            service="storage",
            timeout=deadline(settings.storage_timeout_s),
            headers={**tracing_headers(request), **headers},
            data=body,
        )
    except Unavailable as exc:
        # Not confirmed is not lost: offer to re-send the same vote with the same id.
        log.warning("vote not confirmed: %s", exc.message)
        return html_error(
            request,
            503,
            "Your vote was not confirmed: the vote store is unavailable. "
            "Try again; it will be counted only once.",
            retry=(choice, event_id),
            headers={"Retry-After": str(exc.retry_after)},
        )
    except UpstreamError as exc:
        raise UpstreamError("Your vote was not recorded: the vote store failed.") from exc
    raise web.HTTPSeeOther("/")


async def featureflag_set(request: web.Request) -> web.Response:
    """Opt in to the canary: the mesh routes `featureflag=on` to vote 2.0."""
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        FEATUREFLAG_COOKIE, "on", path="/", max_age=FEATUREFLAG_MAX_AGE, samesite="Lax"
    )
    raise response


async def featureflag_clear(request: web.Request) -> web.Response:
    """Opt out of the canary."""
    response = web.HTTPSeeOther("/")
    response.del_cookie(FEATUREFLAG_COOKIE, path="/")
    raise response


def html_error(
    request: web.Request,
    status: int,
    message: str,
    *,
    retry: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The runtime's error renderer for vote: a page, since people read vote's errors."""
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    return web.Response(
        text=render_error(status, reason, message, retry),
        status=status,
        content_type="text/html",
        headers={**_NO_STORE, **(headers or {})},
    )


def _text(analytics: dict[str, object]) -> str:
    text = analytics.get("text")
    if not isinstance(text, str):
        raise UpstreamError("analytics answered without text")
    return text


def _flag_is_on(request: web.Request) -> bool:
    """Whether the canary cookie is set; anything malformed counts as not set."""
    try:
        return request.cookies.get(FEATUREFLAG_COOKIE) == "on"
    except Exception:  # a cookie header the parser rejects is simply ignored
        return False


def _event_id(vote_id: object) -> str:
    """The idempotency key: the form's vote_id, else x-request-id, else a new UUID.

    The request-id context holds the caller's x-request-id when it sent one and a
    fresh UUID otherwise, which is exactly the fallback order of docs/contracts.md.
    """
    if vote_id is None or vote_id == "":
        return request_id_var.get()
    if not isinstance(vote_id, str) or not _VOTE_ID.fullmatch(vote_id):
        raise InvalidInput("Invalid vote_id: reload the page and vote again.")
    return vote_id
