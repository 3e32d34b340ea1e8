"""`voting traffic`: an open-loop load generator for demos and tests.

Open loop: request *i* is due at ``start + i / rate`` whatever earlier requests are doing, so a
slow mesh does not quietly lower the offered load (no coordinated omission). Concurrency is
bounded; a request due while every slot is busy is not sent and counted as such, never
queued. Simulated users are sticky: user *u* always carries (or never carries) the cookie
``featureflag=on``, and the cookie users are spread evenly so the share is exact over every
``users`` requests. Which app version answered is read from ``<span id="app-version">`` of
page views (a vote answers with a 303 redirect that names no version).

    result = await run_traffic(TrafficPlan(url, rate=10, duration=30, cookie_share=0.25))
    runner = TrafficRunner(plan); task = runner.start(); ...; await runner.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp

_APP_VERSION = re.compile(r'<span id="app-version">\s*([^<\s]+)')


def page_version(body: str) -> str:
    """The app version a vote page says served it ("unknown" when it carries no mark)."""
    match = _APP_VERSION.search(body)
    return match.group(1) if match else "unknown"


VOTE_OPTIONS = ("Cats", "Dogs")


@dataclass(frozen=True)
class TrafficPlan:
    """What to send: where, how fast, for how long, and which mix of users and actions."""

    url: str = "http://127.0.0.1:8080/"
    rate: float = 10.0
    duration: float = 30.0
    cookie_share: float = 0.0
    vote_share: float = 0.0
    header: tuple[str, str] | None = None  # A/B users send this header (name, value)
    header_share: float = 0.0
    concurrency: int = 64
    timeout: float = 5.0
    users: int = 100
    seed: int = 1

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.duration <= 0:
            raise ValueError("rate and duration must be positive")
        if not all(0 <= s <= 1 for s in (self.cookie_share, self.vote_share, self.header_share)):
            raise ValueError("cookie-share, vote-share and header-share are shares between 0 and 1")
        if self.header_share and self.header is None:
            raise ValueError("header-share needs a header (NAME=VALUE) for those users to send")
        if self.concurrency < 1 or self.users < 1 or self.timeout <= 0:
            raise ValueError("concurrency, users and timeout must be positive")

    def has_cookie(self, user: int) -> bool:
        """Sticky, evenly spread: exactly round(users * cookie_share) users carry the cookie."""
        return _spread(user, self.cookie_share)

    def has_header(self, user: int) -> bool:
        """A/B users: exactly round(users * header_share), spread from the other end, so that
        a user carries the cookie or the header, never both while the shares leave room."""
        return _spread(self.users - 1 - user, self.header_share)


def _spread(user: int, share: float) -> bool:
    return int((user + 1) * share + 1e-9) > int(user * share + 1e-9)


@dataclass
class TrafficResult:
    """What was sent and how it ended; updated live while a run is in progress."""

    plan: TrafficPlan
    scheduled: int = 0
    sent: int = 0
    page_views: int = 0
    votes: int = 0
    with_cookie: int = 0
    with_header: int = 0
    header_versions: Counter[str] = field(default_factory=Counter)  # A/B users' page views
    statuses: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0
    connection_errors: int = 0
    not_sent: int = 0
    cancelled: int = 0
    versions: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return max(0.0, end - self.started) if self.started else 0.0

    @property
    def sent_rate(self) -> float:
        """Requests sent per second over the run so far."""
        return self.sent / self.elapsed if self.elapsed else 0.0

    @property
    def failed(self) -> int:
        """Requests that failed: a 5xx, a timeout or a connection error."""
        return (
            self.timeouts
            + self.connection_errors
            + sum(n for code, n in self.statuses.items() if code >= 500)
        )

    @property
    def completed(self) -> int:
        return sum(self.statuses.values()) + self.timeouts + self.connection_errors

    def version_share(self, version: str) -> float | None:
        """Share of judged page views answered by this app version (None: none judged)."""
        judged = sum(n for v, n in self.versions.items() if v != "unknown")
        return self.versions[version] / judged if judged else None

    def summary(self) -> str:
        """The lines `voting traffic` prints when done."""
        plan = self.plan
        lines = [
            f"sent {self.sent} of {self.scheduled} scheduled requests in {self.elapsed:.1f}s"
            f" ({self.sent_rate:.1f} req/s; plan {plan.rate:g} req/s for {plan.duration:g}s to {plan.url})",
            f"  page views {self.page_views}, votes {self.votes};"
            f" with cookie featureflag=on {self.with_cookie}"
            + (f" ({self.with_cookie / self.sent:.0%})" if self.sent else ""),
            "  outcomes: "
            + (
                ", ".join(f"HTTP {code} x{n}" for code, n in sorted(self.statuses.items()))
                or "none"
            )
            + f"; timeouts {self.timeouts}; connection errors {self.connection_errors}",
        ]
        if self.not_sent or self.cancelled:
            lines.append(
                f"  not sent (all {plan.concurrency} slots busy) {self.not_sent}; cancelled at stop {self.cancelled}"
            )
        judged = sum(n for v, n in self.versions.items() if v != "unknown")
        if self.versions:
            parts = [
                f"{v} {n}" + (f" ({n / judged:.0%})" if judged and v != "unknown" else "")
                for v, n in sorted(self.versions.items())
            ]
            lines.append("  app version (page views): " + ", ".join(parts))
        if plan.header is not None:
            seen = ", ".join(f"{v} {n}" for v, n in sorted(self.header_versions.items()))
            lines.append(
                f"  A/B users ({plan.header[0]}: {plan.header[1]}): {self.with_header} requests;"
                f" their page views by version: {seen or 'none'}"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.plan.url,
            "rate": self.plan.rate,
            "duration": self.plan.duration,
            "scheduled": self.scheduled,
            "sent": self.sent,
            "elapsed_s": round(self.elapsed, 3),
            "page_views": self.page_views,
            "votes": self.votes,
            "with_cookie": self.with_cookie,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "timeouts": self.timeouts,
            "connection_errors": self.connection_errors,
            "not_sent": self.not_sent,
            "cancelled": self.cancelled,
            "versions": dict(self.versions),
            "with_header": self.with_header,
            "header_versions": dict(self.header_versions),
        }


async def _one(
    session: aiohttp.ClientSession,
    plan: TrafficPlan,
    result: TrafficResult,
    cookie: bool,
    vote: str | None,
    header: bool = False,
) -> None:
    headers = {"Cookie": "featureflag=on"} if cookie else {}
    if header and plan.header is not None:
        headers[plan.header[0]] = plan.header[1]
    try:
        if vote:
            request = session.post(
                plan.url, data={"vote": vote}, headers=headers, allow_redirects=False
            )
        else:
            request = session.get(plan.url, headers=headers)
        async with request as response:
            body = await response.text(errors="replace")
    except TimeoutError:
        result.timeouts += 1
        return
    except aiohttp.ClientError:
        result.connection_errors += 1
        return
    result.statuses[response.status] += 1
    if not vote:
        version = page_version(body)
        result.versions[version] += 1
        if header:
            result.header_versions[version] += 1


async def run_traffic(
    plan: TrafficPlan, *, stop: asyncio.Event | None = None, result: TrafficResult | None = None
) -> TrafficResult:
    """Send the plan's requests on schedule; return when done or when `stop` is set."""
    stop = stop or asyncio.Event()
    result = result or TrafficResult(plan)
    rng = random.Random(plan.seed)
    loop = asyncio.get_running_loop()
    total = max(1, round(plan.rate * plan.duration))
    in_flight: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=plan.concurrency, force_close=False)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=plan.timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as session:
        start = loop.time()
        result.started = time.monotonic()
        for i in range(total):
            delay = start + i / plan.rate - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                break
            result.scheduled += 1
            if len(in_flight) >= plan.concurrency:
                result.not_sent += 1
                continue
            cookie = plan.has_cookie(i % plan.users)
            header = plan.has_header(i % plan.users)
            vote = VOTE_OPTIONS[result.votes % 2] if rng.random() < plan.vote_share else None
            result.sent += 1
            result.with_cookie += cookie
            result.with_header += header
            if vote:
                result.votes += 1
            else:
                result.page_views += 1
            task = asyncio.create_task(_one(session, plan, result, cookie, vote, header))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if stop.is_set():
            # A task that counted its answer is done (counting is its last step), though its
            # done-callback may not have left `in_flight` yet: only the others are cancelled.
            pending = [task for task in in_flight if not task.done()]
            result.cancelled += len(pending)
            for task in pending:
                task.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
    result.finished = time.monotonic()
    return result


class TrafficRunner:
    """One plan run in the background of the current event loop, stoppable early."""

    def __init__(self, plan: TrafficPlan) -> None:
        self.plan = plan
        self.result = TrafficResult(plan)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[TrafficResult] | None = None

    async def run(self) -> TrafficResult:
        """Run in the caller's task (e.g. a Textual worker)."""
        return await run_traffic(self.plan, stop=self._stop, result=self.result)

    def start(self) -> asyncio.Task[TrafficResult]:
        """Run as a new task of the running loop."""
        self._task = asyncio.create_task(self.run())
        return self._task

    @property
    def running(self) -> bool:
        return self.result.started > 0 and self.result.finished is None

    def request_stop(self) -> None:
        """Ask the run to end; in-flight requests are cancelled."""
        self._stop.set()

    async def stop(self) -> TrafficResult:
        self.request_stop()
        if self._task is not None:
            return await self._task
        return self.result


AB_SHARE = 0.3  # the share of demo users that send an A/B rollout's header


def ab_users(plan: TrafficPlan, spec: Any) -> TrafficPlan:
    """The plan with A/B users when the rollout `spec` (rollout.spec.RolloutSpec) tests by
    an exact header: without them an A/B canary gets no traffic and is never judged."""
    for match in getattr(spec, "match", ()) or ():
        for name, value in (match.get("headers") or {}).items():
            if isinstance(value, dict) and "exact" in value and name.lower() != "cookie":
                return replace(
                    plan, header=(name.lower(), str(value["exact"])), header_share=AB_SHARE
                )
    return plan
