"""Vote counts as users see them: the voting-app page, with and without the feature flag.

Read through the ingress rather than from Redis/MySQL directly so the same code works for the
local mesh and a cluster (where storage is only reachable over mutual TLS inside the mesh),
and so the panel shows exactly what each group of users is served. At step 4 the two groups
land on different stacks (app 1.0 -> Redis, app 2.0 -> MySQL), which is why their counts
differ. The cost is two page views per read (the dashboard reads every 5 s, 0.4 req/s), which
also appear in the request share: a share is of all traffic, the observer's included.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp

from observer.model import VoteReading, Votes

AUDIENCES: tuple[tuple[str, dict[str, str]], ...] = (
    ("no cookie", {}),
    ("featureflag=on", {"Cookie": "featureflag=on"}),
)


async def read_votes(ingress_url: str | None, *, timeout: float = 3.0) -> Votes:
    """GET the page once per audience; never raises, the result says what went wrong."""
    if not ingress_url:
        return Votes(state="unconfigured", detail="no ingress URL (pass --ingress-url)")
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout), cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        readings = await asyncio.gather(
            *(_read(session, ingress_url, audience, headers) for audience, headers in AUDIENCES)
        )
    failed = [r for r in readings if r.error]
    if len(failed) == len(readings):
        return Votes(
            state="unreachable",
            detail=f"ingress {ingress_url}: {failed[0].error}",
            readings=tuple(readings),
        )
    return Votes(state="up", readings=tuple(readings))


async def _read(
    session: aiohttp.ClientSession, url: str, audience: str, headers: dict[str, str]
) -> VoteReading:
    try:
        async with session.get(url, headers=headers) as response:
            html = await response.text()
            if response.status != 200:
                return VoteReading(audience, error=f"HTTP {response.status}")
    except TimeoutError:
        return VoteReading(audience, error="timed out")
    except aiohttp.ClientError as exc:
        return VoteReading(audience, error=f"{exc.__class__.__name__}: {exc}")
    return parse_page(audience, html)


_RESULTS = re.compile(r'<div id="results">\s*(.*?)\s*</div>', re.S)
_SPAN = r'<span id="{}">\s*(.*?)\s*</span>'
_COUNT = re.compile(r"([^:|]+?):\s*(\d+)")


def parse_page(audience: str, html: str) -> VoteReading:
    """Read the results line and the version markers from a voting-app page."""

    def span(name: str) -> str | None:
        match = re.search(_SPAN.format(name), html)
        return match.group(1) if match else None

    results = _RESULTS.search(html)
    text = results.group(1) if results else ""
    counts = tuple((n.strip(), int(c)) for n, c in _COUNT.findall(text))
    return VoteReading(
        audience=audience,
        app_version=span("app-version"),
        store=span("store"),
        store_version=span("store-version"),
        counts=counts,
        text=text,
        error=None if results else "no results on the page",
    )
