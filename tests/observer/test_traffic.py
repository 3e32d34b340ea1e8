"""`voting traffic` against a tiny real aiohttp server that plays the voting app."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from observer.traffic import TrafficPlan, TrafficRunner, run_traffic
from tests.observer.conftest import REPO, free_port


@dataclass
class Seen:
    """What the fake app received."""

    arrivals: list[float] = field(default_factory=list)
    cookies: list[bool] = field(default_factory=list)
    votes: list[str] = field(default_factory=list)


def fake_app(seen: Seen, mode: str = "ok") -> web.Application:
    """The page answers with app 2.0 for featureflag=on users, else 1.0; votes redirect."""

    async def page(request: web.Request) -> web.StreamResponse:
        seen.arrivals.append(time.monotonic())
        flagged = "featureflag=on" in request.headers.get("Cookie", "")
        seen.cookies.append(flagged)
        if mode == "slow":
            await asyncio.sleep(1.0)
        if mode == "error":
            return web.Response(status=500, text="boom")
        if mode == "hang":
            await asyncio.sleep(2.0)  # longer than the client's timeout
        if mode == "drop":
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(0.2)
        if request.method == "POST":
            seen.votes.append((await request.post())["vote"])
            raise web.HTTPSeeOther("/")
        version = "2.0" if flagged else "1.0"
        return web.Response(
            text=f'<div id="results"> Cats: 1 | Dogs: 2 </div><span id="app-version">{version}</span>',
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_route("*", "/", page)
    return app


ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


async def _serve(aiohttp_server: ServerFactory, seen: Seen, mode: str = "ok") -> str:
    server = await aiohttp_server(fake_app(seen, mode))
    return str(server.make_url("/"))


class TestOpenLoopRate:
    async def test_traffic_holds_its_rate_within_ten_percent(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        result = await run_traffic(TrafficPlan(url, rate=50, duration=3))
        assert result.sent == 150
        observed = (len(seen.arrivals) - 1) / (seen.arrivals[-1] - seen.arrivals[0])
        assert observed == pytest.approx(50, rel=0.10)

    async def test_traffic_stops_by_itself_after_its_duration(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        started = time.monotonic()
        result = await run_traffic(TrafficPlan(url, rate=20, duration=1.5))
        assert time.monotonic() - started < 3.0
        assert result.finished is not None and result.scheduled == 30

    async def test_slow_responses_do_not_lower_the_offered_rate(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen, mode="slow")
        result = await run_traffic(TrafficPlan(url, rate=20, duration=1, timeout=5))
        assert result.sent == 20
        assert seen.arrivals[-1] - seen.arrivals[0] < 1.2
        assert result.statuses[200] == 20

    async def test_requests_beyond_the_concurrency_bound_are_counted_as_not_sent(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen, mode="slow")
        result = await run_traffic(TrafficPlan(url, rate=20, duration=1, concurrency=5, timeout=5))
        assert result.sent == 5
        assert result.not_sent == 15

    async def test_a_background_runner_stops_early_when_asked(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        runner = TrafficRunner(TrafficPlan(url, rate=20, duration=60))
        runner.start()
        await asyncio.sleep(0.5)
        assert runner.running
        result = await asyncio.wait_for(runner.stop(), 2)
        assert not runner.running
        assert 5 <= result.sent <= 15


class TestOutcomes:
    async def test_http_errors_are_counted_by_status_code(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen, mode="error")
        result = await run_traffic(TrafficPlan(url, rate=20, duration=0.5))
        assert result.statuses == {500: 10}

    async def test_answers_slower_than_the_timeout_count_as_timeouts(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen, mode="hang")
        started = time.monotonic()
        result = await run_traffic(TrafficPlan(url, rate=20, duration=0.5, timeout=0.3))
        assert result.timeouts == 10 and not result.statuses
        assert time.monotonic() - started < 1.5

    async def test_dropped_connections_count_as_connection_errors(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen, mode="drop")
        result = await run_traffic(TrafficPlan(url, rate=20, duration=0.5))
        assert result.connection_errors == 10 and not result.statuses

    async def test_connection_refused_is_a_connection_error(self) -> None:
        url = f"http://127.0.0.1:{free_port()}/"
        result = await run_traffic(TrafficPlan(url, rate=20, duration=0.5))
        assert result.connection_errors == result.sent == 10

    async def test_cookie_users_are_a_sticky_exact_share_of_requests(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        await run_traffic(TrafficPlan(url, rate=200, duration=0.5, cookie_share=0.25))
        assert sum(seen.cookies) == 25
        plan = TrafficPlan(url, cookie_share=0.25)
        assert [plan.has_cookie(u) for u in range(8)] == [
            plan.has_cookie(u + 100) for u in range(8)
        ]

    async def test_app_version_is_judged_from_the_page(self, aiohttp_server: ServerFactory) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        result = await run_traffic(TrafficPlan(url, rate=200, duration=0.5, cookie_share=0.25))
        assert result.versions == {"2.0": 25, "1.0": 75}
        assert result.version_share("2.0") == 0.25

    async def test_vote_share_sends_that_share_as_votes_for_cats_and_dogs(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        result = await run_traffic(TrafficPlan(url, rate=200, duration=0.5, vote_share=0.5))
        assert result.votes == len(seen.votes) == result.statuses[303]
        assert 30 <= result.votes <= 70
        assert set(seen.votes) == {"Cats", "Dogs"}


# ---------------------------------------------------------------- the CLI
@pytest.fixture
def thread_app() -> Iterator[str]:
    """A threaded stand-in for the app, for a `voting traffic` subprocess."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            version = "2.0" if "featureflag=on" in self.headers.get("Cookie", "") else "1.0"
            body = f'<span id="app-version">{version}</span>'.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_voting_traffic_prints_what_it_sent_when_done(thread_app: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "voting",
            "traffic",
            "--url",
            thread_app,
            "--rate",
            "40",
            "--duration",
            "1",
            "--cookie-share",
            "0.25",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "sent 40 of 40 scheduled requests" in done.stdout
    assert "HTTP 200 x40" in done.stdout
    assert "1.0 30 (75%), 2.0 10 (25%)" in done.stdout
