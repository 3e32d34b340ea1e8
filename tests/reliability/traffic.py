"""Voters for the reliability tests: concurrent clients that know which votes were acknowledged.

A vote is acknowledged when the app answers 303 (the redirect back to the page): only
then has storage confirmed it. Every vote carries its own `vote_id`, as the page's form
does, and a client that gets no acknowledgement re-sends the *same* vote_id (what the 503
page's "Try again" button does), so the count must equal the acknowledged votes exactly.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from tests.support.waiting import wait_until

COOKIE_ON = "featureflag=on"


@dataclass
class Outcome:
    """One HTTP exchange: status (None: no answer), seconds, Retry-After, when it started."""

    status: int | None
    seconds: float
    retry_after: str | None
    started: float
    error: str | None = None


@dataclass
class Tally:
    """What a set of voters saw."""

    acknowledged: set[str] = field(default_factory=set)
    outcomes: list[Outcome] = field(default_factory=list)
    sent: int = 0

    def statuses(self) -> Counter[str]:
        return Counter(str(o.status) if o.status else (o.error or "error") for o in self.outcomes)


async def cast(
    session: aiohttp.ClientSession,
    url: str,
    option: str,
    vote_id: str,
    cookie: str | None = None,
    timeout: float = 10.0,
) -> Outcome:
    headers = {"Cookie": cookie} if cookie else {}
    started = time.monotonic()
    try:
        async with session.post(
            url,
            data={"vote": option, "vote_id": vote_id},
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            await response.read()
            return Outcome(
                response.status,
                time.monotonic() - started,
                response.headers.get("Retry-After"),
                started,
            )
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Outcome(None, time.monotonic() - started, None, started, type(exc).__name__)


async def voters(
    url: str,
    *,
    clients: int,
    votes_each: int,
    option: str = "Cats",
    cookie: str | None = None,
    resend_every: int = 0,
    max_attempts: int = 5,
) -> Tally:
    """`clients` concurrent voters, each casting `votes_each` distinct votes.

    A vote not acknowledged is re-sent with the same vote_id (up to `max_attempts`);
    with `resend_every=n`, every n-th acknowledged vote is sent once more on purpose
    (a double click), which must not count twice.
    """
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def voter() -> None:
            for n in range(votes_each):
                vote_id = str(uuid.uuid4())
                tally.sent += 1
                for _ in range(max_attempts):
                    outcome = await cast(session, url, option, vote_id, cookie)
                    tally.outcomes.append(outcome)
                    if outcome.status == 303:
                        tally.acknowledged.add(vote_id)
                        break
                    await asyncio.sleep(0.2)
                if resend_every and n % resend_every == 0 and vote_id in tally.acknowledged:
                    tally.outcomes.append(await cast(session, url, option, vote_id, cookie))

        await asyncio.gather(*(voter() for _ in range(clients)))
    return tally


class SteadyVotes(threading.Thread):
    """Votes (and optionally page views) at a steady rate until stopped; never re-sends.

    A test that needs a number of requests (before or after something it does) waits for
    them with `wait_for_completed`, never for a number of seconds: a busy machine delays
    the sender and the answers.
    """

    def __init__(
        self, url: str, rate: float, cookie: str | None = None, pages: bool = True
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.rate, self.cookie, self.pages = url, rate, cookie, pages
        self.votes: list[tuple[str, Outcome]] = []
        self.page_outcomes: list[Outcome] = []
        self._halt = threading.Event()

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as session:
            tasks = []
            start = time.monotonic()
            n = 0
            while not self._halt.is_set():
                n += 1
                tasks.append(asyncio.create_task(self._one(session, n)))
                await asyncio.sleep(max(0.0, start + n / self.rate - time.monotonic()))
            await asyncio.gather(*tasks)

    async def _one(self, session: aiohttp.ClientSession, n: int) -> None:
        if self.pages and n % 2 == 0:
            headers = {"Cookie": self.cookie} if self.cookie else {}
            started = time.monotonic()
            try:
                async with session.get(
                    self.url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
                ) as response:
                    await response.read()
                    self.page_outcomes.append(
                        Outcome(
                            response.status,
                            time.monotonic() - started,
                            response.headers.get("Retry-After"),
                            started,
                        )
                    )
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.page_outcomes.append(
                    Outcome(None, time.monotonic() - started, None, started, type(exc).__name__)
                )
            return
        vote_id = str(uuid.uuid4())
        outcome = await cast(session, self.url, "Cats", vote_id, self.cookie)
        self.votes.append((vote_id, outcome))

    @property
    def completed(self) -> int:
        """Requests answered (or failed) so far: votes and page views."""
        return len(self.votes) + len(self.page_outcomes)

    def wait_for_completed(self, count: int, timeout: float = 60) -> None:
        """Block until `count` requests in all have completed; fail after `timeout` s."""
        wait_until(
            lambda: self.completed >= count,
            timeout,
            f"{count} requests of the steady votes (completed {self.completed})",
        )

    def wait_for_acknowledged(self, count: int, timeout: float = 60) -> None:
        """Block until `count` votes in all were acknowledged; fail after `timeout` s."""
        wait_until(
            lambda: len(self.acknowledged()) >= count,
            timeout,
            f"{count} acknowledged votes (so far {len(self.acknowledged())})",
        )

    def stop(self) -> None:
        self._halt.set()
        self.join(30)
        assert not self.is_alive(), "the steady votes did not stop"

    def acknowledged(self) -> set[str]:
        return {vote_id for vote_id, o in list(self.votes) if o.status == 303}

    def unacknowledged(self) -> list[str]:
        acked = self.acknowledged()
        return [vote_id for vote_id, _ in self.votes if vote_id not in acked]


async def resend(url: str, vote_ids: list[str], cookie: str | None = None) -> set[str]:
    """Re-send votes with their own ids (the retry button); returns those now acknowledged."""
    acked = set()
    async with aiohttp.ClientSession() as session:
        for vote_id in vote_ids:
            outcome = await cast(session, url, "Cats", vote_id, cookie)
            if outcome.status == 303:
                acked.add(vote_id)
    return acked


def reset(url: str, cookie: str | None = None) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession() as session:
            outcome = await cast(session, url, "reset", str(uuid.uuid4()), cookie)
            assert outcome.status == 303, outcome

    asyncio.run(go())
