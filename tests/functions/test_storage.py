"""storage against the real Redis and MariaDB: exactly-once counting, errors, outages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncmy
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from functions.storage.app import create_app
from functions.storage.backends import open_store
from functions.storage.events import VOTE_CAST, VOTES_RESET, VoteCast, VotesReset, decode, encode
from functions.storage.settings import StorageSettings
from tests.support.functions_servers import SHARED_MYSQL, PrivateServer

ClientFactory = Callable[[web.Application], Awaitable[TestClient]]


async def _post(client: TestClient, command: VoteCast | VotesReset) -> ClientResponse:
    headers, body = encode(command, source="/tests")
    return await client.post("/votes", headers=headers, data=body)


def _ce_headers(**overrides: str) -> dict[str, str]:
    headers = {
        "ce-id": "e-1",
        "ce-source": "/tests",
        "ce-type": VOTE_CAST,
        "ce-specversion": "1.0",
        "content-type": "application/json",
    }
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return headers


async def test_a_vote_is_counted_and_the_counts_are_returned(
    aiohttp_client: ClientFactory, storage_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(storage_settings))
    resp = await _post(client, VoteCast("v-1", "Cats"))
    assert resp.status == 201
    assert await resp.json() == {
        "counts": {"Cats": 1},
        "duplicate": False,
        "store": storage_settings.store,
        "version": storage_settings.function_version,
    }


async def test_the_same_event_id_twice_counts_once(
    aiohttp_client: ClientFactory, storage_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(storage_settings))
    await _post(client, VoteCast("same-id", "Cats"))
    again = await _post(client, VoteCast("same-id", "Cats"))
    assert again.status == 200
    assert (await again.json())["duplicate"] is True
    assert (await (await client.get("/counts")).json())["counts"] == {"Cats": 1}


async def test_500_concurrent_votes_count_exactly(
    aiohttp_client: ClientFactory, storage_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(storage_settings))
    votes = [VoteCast(f"c-{i}", "Cats" if i % 5 else "Dogs") for i in range(500)]
    statuses = await asyncio.gather(*(_status(client, vote) for vote in votes))
    assert statuses == [201] * 500
    counts = (await (await client.get("/counts")).json())["counts"]
    assert counts == {"Cats": 400, "Dogs": 100}


async def _status(client: TestClient, command: VoteCast) -> int:
    resp = await _post(client, command)
    resp.release()
    return resp.status


async def test_reset_sets_every_count_to_zero(
    aiohttp_client: ClientFactory, storage_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(storage_settings))
    await _post(client, VoteCast("a", "Cats"))
    await _post(client, VoteCast("b", "Dogs"))
    resp = await _post(client, VotesReset("r"))
    assert (await resp.json())["counts"] == {}


async def test_counts_name_the_store_and_its_version(
    aiohttp_client: ClientFactory, storage_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(storage_settings))
    body = await (await client.get("/counts")).json()
    expected_store = {"1.0": "redis", "2.0": "mysql"}[storage_settings.function_version]
    assert body == {
        "counts": {},
        "store": expected_store,
        "version": storage_settings.function_version,
    }


async def test_event_without_ce_headers_is_a_400_naming_them(
    aiohttp_client: ClientFactory, redis_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(redis_settings))
    resp = await client.post("/votes", json={"option": "Cats"})
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert "ce-id" in error and "ce-type" in error


async def test_event_of_unknown_type_is_a_400(
    aiohttp_client: ClientFactory, redis_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(redis_settings))
    resp = await client.post(
        "/votes", headers=_ce_headers(ce_type="com.example.other"), data=b'{"option":"Cats"}'
    )
    assert resp.status == 400
    assert "unknown CloudEvent type" in (await resp.json())["error"]


async def test_vote_event_without_an_option_is_a_400(
    aiohttp_client: ClientFactory, redis_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(redis_settings))
    resp = await client.post("/votes", headers=_ce_headers(), data=b"not json")
    assert resp.status == 400
    assert "option" in (await resp.json())["error"]


async def test_event_with_an_unsupported_specversion_is_a_400(
    aiohttp_client: ClientFactory, redis_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(redis_settings))
    resp = await client.post(
        "/votes", headers=_ce_headers(ce_specversion="0.1"), data=b'{"option":"Cats"}'
    )
    assert resp.status == 400
    assert "specversion" in (await resp.json())["error"]


async def test_event_with_a_malformed_time_is_a_400(
    aiohttp_client: ClientFactory, redis_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(redis_settings))
    resp = await client.post(
        "/votes", headers=_ce_headers(ce_time="yesterday"), data=b'{"option":"Cats"}'
    )
    assert resp.status == 400
    assert "invalid CloudEvent" in (await resp.json())["error"]


async def test_event_body_over_16_kib_is_a_413(
    aiohttp_client: ClientFactory, redis_settings: StorageSettings
) -> None:
    client = await aiohttp_client(create_app(redis_settings))
    resp = await client.post("/votes", headers=_ce_headers(), data=b" " * (17 * 1024))
    assert resp.status == 413


async def test_mysql_password_appears_in_neither_repr_nor_metrics(
    aiohttp_client: ClientFactory,
) -> None:
    settings = StorageSettings(
        function_version="2.0",
        mysql_host="127.0.0.1",
        mysql_port=1,
        mysql_user="someone",
        mysql_password="s3cret-pw",
    )
    client = await aiohttp_client(create_app(settings))
    await client.get("/counts")
    metrics = await (await client.get("/metrics")).text()
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in metrics


async def test_redis_down_is_a_503_with_retry_after_then_recovers_without_restart(
    aiohttp_client: ClientFactory, private_redis: PrivateServer
) -> None:
    settings = StorageSettings(
        function_version="1.0", redis_url=f"redis://127.0.0.1:{private_redis.port}/0"
    )
    client = await aiohttp_client(create_app(settings))
    assert (await _post(client, VoteCast("before", "Cats"))).status == 201

    private_redis.stop()
    down = await _post(client, VoteCast("during", "Cats"))
    assert down.status == 503
    assert int(down.headers["Retry-After"]) >= 1
    assert (await down.json())["error"] == "redis is unavailable"
    assert (await client.get("/readyz")).status == 503

    private_redis.start()
    back = await _post(client, VoteCast("after", "Dogs"))
    assert back.status == 201
    assert (await client.get("/readyz")).status == 200


async def test_mysql_down_is_a_503_with_retry_after_then_recovers_without_restart(
    aiohttp_client: ClientFactory, private_mariadb: PrivateServer
) -> None:
    settings = StorageSettings(
        function_version="2.0",
        mysql_host="127.0.0.1",
        mysql_port=private_mariadb.port,
        mysql_user="root",
        mysql_database="azurevote",
    )
    client = await aiohttp_client(create_app(settings))
    assert (await _post(client, VoteCast("before", "Cats"))).status == 201

    private_mariadb.stop()
    down = await _post(client, VoteCast("during", "Cats"))
    assert down.status == 503
    assert int(down.headers["Retry-After"]) >= 1
    assert (await down.json())["error"] == "mysql is unavailable"

    private_mariadb.start()
    back = await _post(client, VoteCast("after", "Dogs"))
    assert back.status == 201
    assert (await back.json())["counts"] == {"Cats": 1, "Dogs": 1}


async def test_mysql_storage_starts_while_the_database_is_down_and_serves_once_it_is_up(
    aiohttp_client: ClientFactory, private_mariadb: PrivateServer
) -> None:
    private_mariadb.stop()
    settings = StorageSettings(
        function_version="2.0",
        mysql_host="127.0.0.1",
        mysql_port=private_mariadb.port,
        mysql_user="root",
        mysql_database="azurevote",
    )
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/counts")).status == 503

    private_mariadb.start()
    assert (await _post(client, VoteCast("first", "Cats"))).status == 201


async def test_a_redis_restart_between_votes_loses_no_vote(
    aiohttp_client: ClientFactory, private_redis: PrivateServer
) -> None:
    settings = StorageSettings(
        function_version="1.0", redis_url=f"redis://127.0.0.1:{private_redis.port}/0"
    )
    client = await aiohttp_client(create_app(settings))
    assert (await _post(client, VoteCast("before", "Cats"))).status == 201
    private_redis.stop()
    private_redis.start()
    assert (await _post(client, VoteCast("after", "Cats"))).status == 201


async def test_a_mysql_restart_between_votes_loses_no_vote(
    aiohttp_client: ClientFactory, private_mariadb: PrivateServer
) -> None:
    settings = StorageSettings(
        function_version="2.0",
        mysql_host="127.0.0.1",
        mysql_port=private_mariadb.port,
        mysql_user="root",
    )
    client = await aiohttp_client(create_app(settings))
    assert (await _post(client, VoteCast("before", "Cats"))).status == 201
    private_mariadb.stop()
    private_mariadb.start()
    back = await _post(client, VoteCast("after", "Cats"))
    assert back.status == 201
    assert (await back.json())["counts"] == {"Cats": 2}


async def test_mysql_forgets_event_ids_older_than_their_ttl(
    mysql_settings: StorageSettings,
) -> None:
    store = await open_store(mysql_settings)
    try:
        await store.record(VoteCast("old", "Cats"))
        await store.record(VoteCast("new", "Cats"))
        conn = await asyncmy.connect(
            **SHARED_MYSQL, db=mysql_settings.mysql_database, autocommit=True
        )
        async with conn.cursor() as cur:
            await cur.execute(
                "UPDATE vote_events SET received_at = NOW() - INTERVAL 2 DAY WHERE event_id = 'old'"
            )
        conn.close()
        assert await store.forget_old_events() == 1
        assert (await store.record(VoteCast("old", "Cats"))).duplicate is False
        assert (await store.record(VoteCast("new", "Cats"))).duplicate is True
    finally:
        await store.close()


@pytest.mark.parametrize(
    "command",
    [VoteCast('a b%c/é"x', "Cats é"), VoteCast("id-1", "Dogs"), VotesReset("r-1")],
)
def test_encode_writes_what_the_cloudevents_sdk_writes(command: VoteCast | VotesReset) -> None:
    from cloudevents.core.bindings.http import to_binary_event
    from cloudevents.core.v1.event import CloudEvent

    attributes = {"id": command.event_id, "source": "/voting-app/1.0"}
    if isinstance(command, VoteCast):
        attributes |= {"type": VOTE_CAST, "datacontenttype": "application/json"}
        expected = to_binary_event(CloudEvent(attributes, {"option": command.option}))
    else:
        expected = to_binary_event(CloudEvent(attributes | {"type": VOTES_RESET}))
    headers, body = encode(command, source="/voting-app/1.0")
    assert body == expected.body
    assert list(headers) == list(expected.headers)
    for name in headers:
        if name != "ce-time":
            assert headers[name] == expected.headers[name], name
    assert headers["ce-time"].endswith("Z") and decode(headers, body) == command
