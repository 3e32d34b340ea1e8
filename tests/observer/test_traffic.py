"""`voting traffic` against a tiny real aiohttp server that plays the voting app."""

from __future__ import annotations

import asyncio
import math
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
from tests.support.observer_env import REPO
from tests.support.ports import free_port


@dataclass
class Seen:
    """What the fake app received."""

    arrivals: list[float] = field(default_factory=list)
    cookies: list[bool] = field(default_factory=list)
    votes: list[str] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)  # when slow answers were sent


# Slow answers take longer than the whole plan's schedule (under a second), so an open-loop
# generator has sent every request before the first answer: true on any machine that does
# not stall for seconds, unlike a bound close to the schedule itself.
SLOW_S = 3.0
HANG_S = 5.0


def fake_app(seen: Seen, mode: str = "ok", slow_s: float = 1.0) -> web.Application:
    """The page answers with app 2.0 for featureflag=on users, else 1.0; votes redirect."""

    async def page(request: web.Request) -> web.StreamResponse:
        seen.arrivals.append(time.monotonic())
        flagged = "featureflag=on" in request.headers.get("Cookie", "")
        seen.cookies.append(flagged)
        if mode == "slow":
            await asyncio.sleep(slow_s)
            seen.answers.append(time.monotonic())
        if mode == "error":
            return web.Response(status=500, text="boom")
        if mode == "hang":
            await asyncio.sleep(HANG_S)  # far longer than the client's timeout
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


async def _serve(
    aiohttp_server: ServerFactory, seen: Seen, mode: str = "ok", slow_s: float = 1.0
) -> str:
    server = await aiohttp_server(fake_app(seen, mode, slow_s))
    return str(server.make_url("/"))


def arrival_rate(arrivals: list[float]) -> float:
    """Requests per second from a least-squares line through (index, arrival time).

    Every arrival counts, so one late first or last request (a busy machine's stall) moves
    the estimate by a fraction of what it moves (last - first) / (n - 1).
    """
    n = len(arrivals)
    mean_i, mean_t = (n - 1) / 2, sum(arrivals) / n
    slope = sum((i - mean_i) * (t - mean_t) for i, t in enumerate(arrivals)) / sum(
        (i - mean_i) ** 2 for i in range(n)
    )
    return 1 / slope


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.02)


class TestOpenLoopRate:
    async def test_traffic_holds_its_rate_within_ten_percent(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        result = await run_traffic(TrafficPlan(url, rate=50, duration=3))
        assert result.sent == 150 and len(seen.arrivals) == 150
        assert arrival_rate(seen.arrivals) == pytest.approx(50, rel=0.10)

    async def test_traffic_stops_by_itself_after_its_duration(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        # It ends by itself (a deadline far below anything but "never"), after its whole
        # schedule: the last of 30 requests is due 1.45 s after the first.
        result = await asyncio.wait_for(run_traffic(TrafficPlan(url, rate=20, duration=1.5)), 30)
        assert result.finished is not None and result.scheduled == 30
        assert result.elapsed >= 29 / 20

    async def test_slow_responses_do_not_lower_the_offered_rate(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen, mode="slow", slow_s=SLOW_S)
        result = await run_traffic(TrafficPlan(url, rate=20, duration=1, timeout=10))
        assert result.sent == 20
        # Open loop: no request waited for an answer, so all arrived before the first one.
        assert len(seen.arrivals) == 20 and max(seen.arrivals) < min(seen.answers)
        assert result.statuses[200] == 20

    async def test_requests_beyond_the_concurrency_bound_are_counted_as_not_sent(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen, mode="slow", slow_s=SLOW_S)
        plan = TrafficPlan(url, rate=20, duration=1, concurrency=5, timeout=10)
        result = await run_traffic(plan)
        # No slot frees before the last request is due (SLOW_S): exactly 5 sent.
        assert result.sent == 5
        assert result.not_sent == 15

    async def test_a_background_runner_stops_early_when_asked(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        runner = TrafficRunner(TrafficPlan(url, rate=20, duration=60))
        runner.start()
        await wait_until(lambda: runner.result.sent >= 5, 30, "5 requests sent")
        assert runner.running
        sent_when_asked = runner.result.sent
        result = await asyncio.wait_for(runner.stop(), 10)
        assert not runner.running
        # Not one more request after the stop (the plan had 1200).
        assert result.sent == sent_when_asked
        await asyncio.sleep(0.5)  # 10 more would be due by now if it still ran
        assert len(seen.arrivals) <= sent_when_asked


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
        # 0.45 s of schedule + 0.3 s timeout; waiting for any answer would take HANG_S.
        assert time.monotonic() - started < HANG_S - 2

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
        # Slots for all 100: a stall that makes requests due at once must not drop any.
        plan = TrafficPlan(url, rate=200, duration=0.5, cookie_share=0.25, concurrency=100)
        result = await run_traffic(plan)
        assert result.sent == 100
        assert sum(seen.cookies) == 25
        plan = TrafficPlan(url, cookie_share=0.25)
        assert [plan.has_cookie(u) for u in range(8)] == [
            plan.has_cookie(u + 100) for u in range(8)
        ]

    async def test_app_version_is_judged_from_the_page(self, aiohttp_server: ServerFactory) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        plan = TrafficPlan(url, rate=200, duration=0.5, cookie_share=0.25, concurrency=100)
        result = await run_traffic(plan)
        assert result.versions == {"2.0": 25, "1.0": 75}
        assert result.version_share("2.0") == 0.25

    async def test_vote_share_sends_that_share_as_votes_for_cats_and_dogs(
        self, aiohttp_server: ServerFactory
    ) -> None:
        seen = Seen()
        url = await _serve(aiohttp_server, seen)
        plan = TrafficPlan(url, rate=200, duration=0.5, vote_share=0.5, concurrency=100)
        result = await run_traffic(plan)
        assert result.sent == 100
        assert result.votes == len(seen.votes) == result.statuses[303]
        # Each request draws vote-or-page: 4 standard deviations of a binomial count.
        assert abs(result.votes - 50) <= 4 * math.sqrt(result.sent * 0.25)
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
