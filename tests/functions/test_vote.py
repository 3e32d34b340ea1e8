"""vote (voting-app): the page, votes through storage, the feature flag, faults."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

from functions.storage.settings import StorageSettings
from functions.vote.app import create_app
from functions.vote.settings import VoteSettings
from tests.support.functions_servers import PrivateServer, StackFactory

ClientFactory = Callable[[web.Application], Awaitable[TestClient]]
Starter = Callable[[web.Application], Awaitable[str]]

RESULTS_LINE = re.compile(r'<div id="results"> (.*) </div>')


def _results(page: str) -> str:
    match = RESULTS_LINE.search(page)
    assert match, "no results line"
    return match.group(1)


def _vote_id(page: str) -> str:
    match = re.search(r'name="vote_id" value="([^"]+)"', page)
    assert match, "no vote_id"
    return match.group(1)


async def _vote(client: TestClient, choice: str, vote_id: str | None = None) -> int:
    form = {"vote": choice} if vote_id is None else {"vote": choice, "vote_id": vote_id}
    resp = await client.post("/", data=form, allow_redirects=False)
    resp.release()
    return resp.status


async def test_page_shows_title_buttons_and_the_results_line(stack: StackFactory) -> None:
    s = await stack()
    resp = await s.vote.get("/")
    page = await resp.text()
    assert resp.status == 200
    assert "<title>AKS Voting App</title>" in page
    assert 'value="Cats">Cats</button>' in page and 'value="Dogs">Dogs</button>' in page
    assert 'value="reset">Reset</button>' in page
    assert '    <div id="results"> Cats: 0/0 (0%) | Dogs: 0/0 (0%) </div>\n' in page


async def test_vote_is_recorded_and_redirects_to_the_page(stack: StackFactory) -> None:
    s = await stack()
    resp = await s.vote.post("/", data={"vote": "Cats"}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/"
    await _vote(s.vote, "Cats")
    await _vote(s.vote, "Dogs")
    assert _results(await (await s.vote.get("/")).text()) == "Cats: 2/3 (67%) | Dogs: 1/3 (33%)"


async def test_analytics_1_0_shows_plain_counts_on_the_page(stack: StackFactory) -> None:
    s = await stack(analytics_version="1.0")
    for choice in ("Cats", "Cats", "Dogs", "Dogs", "Dogs", "Dogs"):
        await _vote(s.vote, choice)
    assert _results(await (await s.vote.get("/")).text()) == "Cats: 2 | Dogs: 4"


async def test_resubmitting_the_same_form_counts_once(stack: StackFactory) -> None:
    s = await stack()
    vote_id = _vote_id(await (await s.vote.get("/")).text())
    assert await _vote(s.vote, "Cats", vote_id) == 303
    assert await _vote(s.vote, "Cats", vote_id) == 303
    assert _results(await (await s.vote.get("/")).text()).startswith("Cats: 1/1")


async def test_each_render_carries_a_fresh_vote_id(stack: StackFactory) -> None:
    s = await stack()
    first = _vote_id(await (await s.vote.get("/")).text())
    second = _vote_id(await (await s.vote.get("/")).text())
    assert first != second


async def test_without_vote_id_the_request_id_is_the_idempotency_key(
    stack: StackFactory,
) -> None:
    s = await stack()
    for _ in range(2):
        resp = await s.vote.post(
            "/", data={"vote": "Dogs"}, headers={"x-request-id": "retry-1"}, allow_redirects=False
        )
        assert resp.status == 303
    assert _results(await (await s.vote.get("/")).text()).endswith("Dogs: 1/1 (100%)")


async def test_reset_sets_the_results_back_to_zero(stack: StackFactory) -> None:
    s = await stack()
    await _vote(s.vote, "Cats")
    assert await _vote(s.vote, "reset") == 303
    assert _results(await (await s.vote.get("/")).text()) == "Cats: 0/0 (0%) | Dogs: 0/0 (0%)"


async def test_votes_on_2_0_go_to_mysql(
    stack: StackFactory, mysql_settings: StorageSettings
) -> None:
    s = await stack(
        vote=VoteSettings(function_version="2.0", showdetails=True),
        analytics_version="2.0",
        storage=mysql_settings,
    )
    await _vote(s.vote, "Dogs")
    page = await (await s.vote.get("/")).text()
    assert _results(page) == "Cats: 0/1 (0%) | Dogs: 1/1 (100%)"
    assert '<span id="store">mysql</span> <span id="store-version">2.0</span>' in page


async def test_a_vote_that_is_not_an_option_is_a_400_with_a_clear_message(
    stack: StackFactory,
) -> None:
    s = await stack()
    resp = await s.vote.post("/", data={"vote": "Horses"}, allow_redirects=False)
    page = await resp.text()
    assert resp.status == 400
    assert "Unknown vote. Choose Cats, Dogs or reset." in page
    assert _results(await (await s.vote.get("/")).text()).startswith("Cats: 0/0")


async def test_a_malformed_vote_id_is_a_400(stack: StackFactory) -> None:
    s = await stack()
    resp = await s.vote.post("/", data={"vote": "Cats", "vote_id": "x" * 200})
    assert resp.status == 400


async def test_a_form_over_16_kib_is_a_413(stack: StackFactory) -> None:
    s = await stack()
    resp = await s.vote.post("/", data={"vote": "Cats", "pad": "x" * (17 * 1024)})
    assert resp.status == 413
    assert "Traceback" not in await resp.text()


async def test_options_and_title_are_escaped_in_the_page(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    settings = VoteSettings(
        function_version="1.0",
        title='Vote "now" & <b>win</b>',
        vote1value="<script>",
        vote2value="Dogs",
        analytics_url=closed_url,
        storage_url=closed_url,
    )
    page = await (await (await aiohttp_client(create_app(settings))).get("/")).text()
    assert "<script>" not in page
    assert 'value="&lt;script&gt;">&lt;script&gt;</button>' in page
    assert "<title>Vote &quot;now&quot; &amp; &lt;b&gt;win&lt;/b&gt;</title>" in page


async def test_results_text_from_analytics_is_escaped(
    aiohttp_client: ClientFactory, start_app: Starter
) -> None:
    async def analytics(request: web.Request) -> web.Response:
        return web.json_response({"text": "<img src=x onerror=alert(1)>", "version": "<v>"})

    fake = web.Application()
    fake.router.add_get("/analytics", analytics)
    url = await start_app(fake)
    settings = VoteSettings(
        function_version="1.0", showdetails=True, analytics_url=url, storage_url=url
    )
    page = await (await (await aiohttp_client(create_app(settings))).get("/")).text()
    assert _results(page) == "&lt;img src=x onerror=alert(1)&gt;"
    assert '<span id="analytics-version">&lt;v&gt;</span>' in page


async def test_vote_option_with_a_script_tag_is_counted_and_shown_escaped(
    stack: StackFactory,
) -> None:
    s = await stack(vote=VoteSettings(function_version="1.0", vote1value="<script>"))
    assert await _vote(s.vote, "<script>") == 303
    page = await (await s.vote.get("/")).text()
    assert _results(page) == "&lt;script&gt;: 1/1 (100%) | Dogs: 0/1 (0%)"


async def test_page_renders_within_2_s_with_results_unavailable_when_analytics_is_down(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    settings = VoteSettings(
        function_version="1.0", showdetails=True, analytics_url=closed_url, storage_url=closed_url
    )
    client = await aiohttp_client(create_app(settings))
    started = time.monotonic()
    resp = await client.get("/")
    page = await resp.text()
    assert time.monotonic() - started < 2
    assert resp.status == 200
    assert _results(page) == "results unavailable"
    assert '<span id="analytics-version">unavailable</span>' in page


async def test_page_renders_within_2_s_when_analytics_hangs(
    aiohttp_client: ClientFactory, slow_url: Callable[[], Awaitable[str]]
) -> None:
    url = await slow_url()
    settings = VoteSettings(function_version="1.0", analytics_url=url, storage_url=url)
    client = await aiohttp_client(create_app(settings))
    started = time.monotonic()
    resp = await client.get("/")
    page = await resp.text()
    assert time.monotonic() - started < 2
    assert _results(page) == "results unavailable"


async def test_page_says_results_unavailable_when_storage_behind_analytics_is_down(
    aiohttp_client: ClientFactory, start_app: Starter, closed_url: str
) -> None:
    from functions.results.app import create_app as create_results
    from functions.results.settings import ResultsSettings

    results_url = await start_app(
        create_results(ResultsSettings(function_version="1.1", storage_url=closed_url))
    )
    settings = VoteSettings(
        function_version="1.0", analytics_url=results_url, storage_url=closed_url
    )
    page = await (await (await aiohttp_client(create_app(settings))).get("/")).text()
    assert _results(page) == "results unavailable"


async def test_vote_is_a_503_page_with_retry_after_when_storage_is_unreachable(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    settings = VoteSettings(
        function_version="1.0", analytics_url=closed_url, storage_url=closed_url
    )
    client = await aiohttp_client(create_app(settings))
    resp = await client.post("/", data={"vote": "Cats"}, allow_redirects=False)
    page = await resp.text()
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) >= 1
    assert resp.content_type == "text/html"
    assert "Your vote was not confirmed" in page
    assert "Traceback" not in page
    assert '<button class="button" name="vote" value="Cats">Try again</button>' in page


async def test_try_again_after_an_outage_resends_the_same_vote_id_and_counts_once(
    stack: StackFactory, private_redis: PrivateServer
) -> None:
    storage = StorageSettings(
        function_version="1.0", redis_url=f"redis://127.0.0.1:{private_redis.port}/0"
    )
    s = await stack(storage=storage)
    private_redis.stop()
    failed = await s.vote.post("/", data={"vote": "Cats", "vote_id": "form-1"})
    assert failed.status == 503
    assert '<input type="hidden" name="vote_id" value="form-1">' in await failed.text()

    private_redis.start()
    assert await _vote(s.vote, "Cats", "form-1") == 303
    assert await _vote(s.vote, "Cats", "form-1") == 303
    assert _results(await (await s.vote.get("/")).text()) == "Cats: 1/1 (100%) | Dogs: 0/1 (0%)"


async def test_vote_passes_on_storage_503_and_its_retry_after(
    aiohttp_client: ClientFactory, start_app: Starter
) -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": "redis is unavailable"}, status=503, headers={"Retry-After": "9"}
        )

    fake = web.Application()
    fake.router.add_post("/votes", busy)
    url = await start_app(fake)
    settings = VoteSettings(function_version="1.0", analytics_url=url, storage_url=url)
    client = await aiohttp_client(create_app(settings))
    resp = await client.post("/", data={"vote": "Dogs"}, allow_redirects=False)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "9"


async def test_tracing_headers_are_forwarded_to_analytics_and_storage(
    aiohttp_client: ClientFactory, start_app: Starter
) -> None:
    seen: dict[str, dict[str, str]] = {}

    async def analytics(request: web.Request) -> web.Response:
        seen["analytics"] = dict(request.headers)
        return web.json_response({"text": "ok"})

    async def votes(request: web.Request) -> web.Response:
        seen["storage"] = dict(request.headers)
        return web.json_response({"counts": {}, "duplicate": False}, status=201)

    fake = web.Application()
    fake.router.add_get("/analytics", analytics)
    fake.router.add_post("/votes", votes)
    url = await start_app(fake)
    client = await aiohttp_client(
        create_app(VoteSettings(function_version="1.0", analytics_url=url, storage_url=url))
    )
    tracing = {
        "x-request-id": "req-1",
        "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
        "x-b3-spanid": "e457b5a2e4d86bd1",
        "x-b3-parentspanid": "05e3ac9a4f6e3b90",
        "x-b3-sampled": "1",
        "x-b3-flags": "0",
        "x-ot-span-context": "ctx",
        "traceparent": "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01",
        "tracestate": "vendor=1",
    }
    await client.get("/", headers=tracing)
    await client.post("/", data={"vote": "Cats"}, headers=tracing, allow_redirects=False)
    for service in ("analytics", "storage"):
        forwarded = {k.lower(): v for k, v in seen[service].items()}
        assert {k: forwarded.get(k) for k in tracing} == tracing, service
    assert seen["storage"]["ce-type"] == "com.azure.samples.voting.vote.cast"


async def test_featureflag_set_sets_the_cookie_for_15_minutes_and_redirects(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    settings = VoteSettings(
        function_version="1.0", analytics_url=closed_url, storage_url=closed_url
    )
    client = await aiohttp_client(create_app(settings))
    resp = await client.post("/featureflag/set", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/"
    cookie = resp.cookies["featureflag"]
    assert cookie.value == "on"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == "900"


async def test_featureflag_clear_expires_the_cookie_and_redirects(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    settings = VoteSettings(
        function_version="1.0", analytics_url=closed_url, storage_url=closed_url
    )
    client = await aiohttp_client(create_app(settings))
    resp = await client.post("/featureflag/clear", allow_redirects=False)
    assert resp.status == 303
    cookie = resp.cookies["featureflag"]
    assert cookie.value == ""
    assert cookie["max-age"] == "0"


async def test_footer_toggle_offers_set_when_the_flag_is_off_and_clear_when_on(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    settings = VoteSettings(
        function_version="1.0", featureflag=True, analytics_url=closed_url, storage_url=closed_url
    )
    client = await aiohttp_client(create_app(settings))
    off = await (await client.get("/")).text()
    assert 'action="/featureflag/set"' in off
    assert '<span class="active" id="featureflag-clear">clear</span>' in off
    on = await (await client.get("/", headers={"Cookie": "featureflag=on"})).text()
    assert 'action="/featureflag/clear"' in on
    assert '<span class="active" id="featureflag-set">set</span>' in on


async def test_footer_has_no_toggle_when_featureflag_is_false(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    settings = VoteSettings(
        function_version="1.0", analytics_url=closed_url, storage_url=closed_url
    )
    page = await (await (await aiohttp_client(create_app(settings))).get("/")).text()
    assert "feature flag" not in page
    assert 'id="host"' not in page


async def test_malformed_cookies_are_ignored(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    settings = VoteSettings(
        function_version="1.0", featureflag=True, analytics_url=closed_url, storage_url=closed_url
    )
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/", headers={"Cookie": 'featureflag="on; ;;=; $Path=/; a=b"c; =x'})
    assert resp.status == 200
    assert 'action="/featureflag/set"' in await resp.text()


async def test_details_footer_shows_host_and_every_version(stack: StackFactory) -> None:
    s = await stack(
        vote=VoteSettings(function_version="1.0", pod_name="voting-app-1-0-x", showdetails=True)
    )
    page = await (await s.vote.get("/")).text()
    assert '<span id="host">voting-app-1-0-x</span>' in page
    assert '<span id="app-version">1.0</span>' in page
    assert '<span id="analytics-version">1.1</span>' in page
    assert '<span id="store">redis</span>' in page
    assert '<span id="store-version">1.0</span>' in page


async def test_version_2_0_is_marked_with_a_banner_and_1_0_is_not(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    pages = {}
    for version in ("1.0", "2.0"):
        settings = VoteSettings(
            function_version=version, analytics_url=closed_url, storage_url=closed_url
        )
        pages[version] = await (await (await aiohttp_client(create_app(settings))).get("/")).text()
    assert '<div id="banner">v2.0</div>' in pages["2.0"] and 'class="v2"' in pages["2.0"]
    assert 'id="banner"' not in pages["1.0"] and 'class="v1"' in pages["1.0"]


async def test_readyz_is_503_while_analytics_or_storage_is_down(
    aiohttp_client: ClientFactory, closed_url: str
) -> None:
    settings = VoteSettings(
        function_version="1.0", analytics_url=closed_url, storage_url=closed_url
    )
    resp = await (await aiohttp_client(create_app(settings))).get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["reasons"] == ["analytics is unreachable", "storage is unreachable"]


async def test_readyz_is_ok_when_the_stack_is_up(stack: StackFactory) -> None:
    s = await stack()
    assert (await s.vote.get("/readyz")).status == 200
