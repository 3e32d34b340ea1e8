"""results (voting-analytics) reading real counts from storage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient

from functions.results.app import create_app
from functions.results.settings import ResultsSettings
from functions.storage.app import create_app as create_storage
from functions.storage.events import VoteCast, encode
from functions.storage.settings import StorageSettings

ClientFactory = Callable[[web.Application], Awaitable[TestClient]]
Starter = Callable[[web.Application], Awaitable[str]]


async def _storage_with_votes(
    start_app: Starter, settings: StorageSettings, cats: int, dogs: int
) -> str:
    """Start storage and cast `cats` and `dogs` votes through its HTTP API."""
    url = await start_app(create_storage(settings))
    async with aiohttp.ClientSession() as session:
        for i, option in enumerate(["Cats"] * cats + ["Dogs"] * dogs):
            headers, body = encode(VoteCast(f"seed-{i}", option), source="/tests")
            async with session.post(f"{url}/votes", headers=headers, data=body) as resp:
                assert resp.status == 201
    return url


async def test_analytics_1_1_returns_the_original_shape_plus_versions(
    aiohttp_client: ClientFactory, start_app: Starter, redis_settings: StorageSettings
) -> None:
    storage_url = await _storage_with_votes(start_app, redis_settings, 2, 4)
    client = await aiohttp_client(
        create_app(ResultsSettings(function_version="1.1", storage_url=storage_url))
    )
    resp = await client.get("/analytics")
    assert resp.status == 200
    assert await resp.json() == {
        "category1": {"name": "Cats", "count": 2},
        "category2": {"name": "Dogs", "count": 4},
        "text": "Cats: 2/6 (33%) | Dogs: 4/6 (67%)",
        "version": "1.1",
        "store": {"name": "redis", "version": "1.0"},
    }


async def test_analytics_1_0_reports_plain_counts_from_mysql(
    aiohttp_client: ClientFactory, start_app: Starter, mysql_settings: StorageSettings
) -> None:
    storage_url = await _storage_with_votes(start_app, mysql_settings, 2, 4)
    client = await aiohttp_client(
        create_app(ResultsSettings(function_version="1.0", storage_url=storage_url))
    )
    body = await (await client.get("/analytics")).json()
    assert body["text"] == "Cats: 2 | Dogs: 4"
    assert body["store"] == {"name": "mysql", "version": "2.0"}


async def test_analytics_is_a_503_with_retry_after_when_storage_is_unreachable(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    client = await aiohttp_client(
        create_app(ResultsSettings(function_version="1.1", storage_url=closed_url))
    )
    resp = await client.get("/analytics")
    assert resp.status == 503
    assert resp.headers["Retry-After"]
    assert (await resp.json())["error"] == "storage is unreachable"


async def test_analytics_gives_up_on_a_slow_storage_within_its_deadline(
    aiohttp_client: ClientFactory, slow_url: Callable[[], Awaitable[str]]
) -> None:
    settings = ResultsSettings(function_version="1.1", storage_url=await slow_url())
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/analytics")
    assert resp.status == 503
    assert (await resp.json())["error"] == "storage did not answer in time"


async def test_readyz_follows_storage(aiohttp_client: ClientFactory, closed_url: str) -> None:
    client = await aiohttp_client(
        create_app(ResultsSettings(function_version="1.1", storage_url=closed_url))
    )
    assert (await client.get("/readyz")).status == 503
