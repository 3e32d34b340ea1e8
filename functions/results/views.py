"""results' view: GET /analytics, in the original's JSON shape plus who answered.

    {"category1": {"name": "Cats", "count": 2}, "category2": {"name": "Dogs", "count": 4},
     "text": "Cats: 2/6 (33%) | Dogs: 4/6 (67%)",
     "version": "1.1", "store": {"name": "redis", "version": "1.0"}}

Storage down or slow → 503 + Retry-After (from the runtime's error middleware).
"""

from __future__ import annotations

from aiohttp import web

from functions.results.keys import SETTINGS
from functions.results.tally import summary
from functions.runtime.client import HTTP_SESSION, call_json, deadline, tracing_headers
from functions.runtime.errors import UpstreamError


async def analytics(request: web.Request) -> web.Response:
    """Read the counts from storage and summarise them for this analytics version."""
    settings = request.app[SETTINGS]
    answer = await call_json(
        request.app[HTTP_SESSION],
        "GET",
        f"{settings.storage_url}/counts",
        service="storage",
        timeout=deadline(settings.timeout_s),
        headers=tracing_headers(request),
    )
    counts = answer.get("counts")
    if not isinstance(counts, dict):
        raise UpstreamError("storage answered without counts")
    first = (settings.vote1value, _count(counts, settings.vote1value))
    second = (settings.vote2value, _count(counts, settings.vote2value))
    return web.json_response(
        {
            "category1": {"name": first[0], "count": first[1]},
            "category2": {"name": second[0], "count": second[1]},
            "text": summary(settings.function_version, first, second),
            "version": settings.function_version,
            "store": {
                "name": str(answer.get("store", "unknown")),
                "version": str(answer.get("version", "unknown")),
            },
        }
    )


def _count(counts: dict[str, object], option: str) -> int:
    """One option's count; storage omits options nobody voted for."""
    value = counts.get(option, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UpstreamError("storage answered with an invalid count")
    return value
