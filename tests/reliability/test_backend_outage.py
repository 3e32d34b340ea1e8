"""The vote store goes down under load: answers turn into 503 + Retry-After quickly (no
hang), no acknowledged vote is lost, and the system recovers by itself when it returns.

The store is the suite's private Redis or MariaDB (never the machine's shared servers),
stopped with SIGSTOP and continued with SIGCONT: a hung server, the harder case for "no
hang" (every call runs into its deadline instead of failing at once). Killing and
restarting it on the same port is not reliable here: the suite's ports lie inside Linux's
ephemeral range, and a client reconnecting in a loop to a closed local port can end up
connected to itself (TCP self-connect), holding the port so the server cannot bind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.reliability.servers import PrivateServer
from tests.reliability.traffic import COOKIE_ON, Outcome, SteadyVotes, resend, reset
from tests.support.reliability_mesh import Mesh

pytestmark = pytest.mark.e2e

# "Within 2 s": every answer during the outage, plus slack for a loaded 2-core machine.
NO_HANG_S = 2.5
RECOVERY_S = 20.0


def outage(mesh: Mesh, server: PrivateServer, cookie: str | None) -> SteadyVotes:
    """Votes and pages at 20 req/s; the store stopped for 5 s in the middle."""
    load = SteadyVotes(mesh.url, rate=20, cookie=cookie)
    load.start()
    paused = False
    try:
        load.wait_for_acknowledged(15)  # votes acknowledged before the outage (about 2 s)
        server.pause()
        paused = True
        time.sleep(5)
        server.resume()
        paused = False
        deadline = time.monotonic() + RECOVERY_S
        acked = len(load.acknowledged())
        while time.monotonic() < deadline:
            time.sleep(0.5)
            recent = [o for _, o in load.votes[-5:]]
            if len(load.acknowledged()) > acked and all(o.status == 303 for o in recent):
                break
        load.wait_for_completed(load.completed + 20)  # after recovery (about 1 s)
    finally:
        if paused:
            server.resume()
        load.stop()
    return load


def check(load: SteadyVotes, counted: Callable[[], int], url: str, cookie: str | None) -> None:
    votes = [o for _, o in load.votes]
    statuses = {o.status for o in votes}
    assert statuses <= {303, 503}, sorted(str(s) for s in statuses)
    unavailable = [o for o in votes if o.status == 503]
    assert unavailable, "the outage was not seen"
    assert all(o.retry_after for o in unavailable), "a 503 without Retry-After"
    slow = [
        (kind, o.status, round(o.seconds, 2))
        for kind, outcomes in (("vote", votes), ("page", load.page_outcomes))
        for o in outcomes
        if o.seconds > NO_HANG_S
    ]
    assert slow == [], "answers slower than the no-hang bound"
    assert all(o.status == 200 for o in load.page_outcomes), _statuses(load.page_outcomes)
    # Recovered by itself: the last votes are acknowledged again.
    assert [o.status for o in votes[-3:]] == [303, 303, 303]

    acknowledged = load.acknowledged()
    assert counted() >= len(acknowledged), "an acknowledged vote was lost"
    # Re-sending the others with their own ids (the 503 page's button) counts each once.
    pending = load.unacknowledged()
    assert asyncio.run(resend(url, pending, cookie)) == set(pending)
    assert counted() == len(load.votes)


def _statuses(outcomes: list[Outcome]) -> list[str]:
    return sorted({str(o.status or o.error) for o in outcomes})


def test_redis_outage_gives_503_with_retry_after_and_loses_no_acknowledged_vote(
    mesh: Mesh,
) -> None:
    mesh.system.step("lock-down")
    reset(mesh.url)
    load = outage(mesh, mesh.backends.redis, cookie=None)
    check(load, lambda: mesh.redis_counts().get("Cats", 0), mesh.url, None)


def test_mysql_outage_gives_503_with_retry_after_and_loses_no_acknowledged_vote(
    mesh: Mesh,
) -> None:
    mesh.system.step("canary")
    reset(mesh.url, COOKIE_ON)
    load = outage(mesh, mesh.backends.mariadb, cookie=COOKIE_ON)
    check(load, lambda: mesh.mysql_counts().get("Cats", 0), mesh.url, COOKIE_ON)
