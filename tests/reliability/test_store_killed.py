"""Durable stores: the vote store killed with SIGKILL under load and restarted on the same
port and data loses no acknowledged vote, and the system recovers by itself.

The store is the suite's private Redis or MariaDB (never the machine's shared servers).
Redis runs with `appendfsync everysec` for the test, as `voting up` runs it: Redis writes
the append-only file before it answers, so a killed process (not a lost machine) loses
nothing it acknowledged. MariaDB commits through InnoDB's redo log (flushed at each
commit) and recovers from it on restart. The suite's ports lie below the kernel's
ephemeral range, so the restarted server can bind its old port (no TCP self-connect).

Votes that got no acknowledgement while the store was down are re-sent with their own ids
afterwards (the 503 page's button): in the end every vote is counted exactly once.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import pytest

from tests.reliability.servers import PrivateServer
from tests.reliability.traffic import COOKIE_ON, SteadyVotes, resend, reset
from tests.support.reliability_mesh import Mesh
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

RECOVERY_S = 60.0  # generous: MariaDB's crash recovery on a busy 2-core machine


def killed_and_restarted(mesh: Mesh, server: PrivateServer, cookie: str | None) -> SteadyVotes:
    """Votes and pages at 20 req/s; the store killed with SIGKILL midway, then restarted."""
    load = SteadyVotes(mesh.url, rate=20, cookie=cookie)
    load.start()
    down = False
    try:
        load.wait_for_acknowledged(15)  # votes acknowledged before the kill
        server.stop(signal.SIGKILL)
        down = True
        before = len(load.votes)
        wait_until(  # the outage is seen: a vote after the kill not acknowledged
            lambda: any(o.status != 303 for _, o in load.votes[before:]),
            30,
            "a vote refused while the store is down",
        )
        server.start(timeout=RECOVERY_S)
        down = False
        acked = len(load.acknowledged())

        def recovered() -> bool:
            recent = [o for _, o in load.votes[-5:]]
            return len(load.acknowledged()) >= acked + 5 and all(o.status == 303 for o in recent)

        wait_until(recovered, RECOVERY_S, "votes acknowledged again after the restart")
    finally:
        if down:  # never leave the suite without its store
            server.start(timeout=RECOVERY_S)
        load.stop()
    return load


def check(load: SteadyVotes, counted: Callable[[], int], url: str, cookie: str | None) -> None:
    votes = [o for _, o in load.votes]
    assert any(o.status != 303 for o in votes), "the kill was not seen"
    assert [o.status for o in votes[-3:]] == [303, 303, 303], "not recovered by itself"
    acknowledged = load.acknowledged()
    pending = load.unacknowledged()
    assert acknowledged.isdisjoint(pending)
    # Nothing acknowledged was lost; a vote the store took without answering may count too.
    before_resend = counted()
    print(  # shown with -s: what the kill did
        f"{len(load.votes)} votes: {len(acknowledged)} acknowledged, {len(pending)} not, "
        f"{before_resend} counted before the re-send"
    )
    assert len(acknowledged) <= before_resend <= len(acknowledged) + len(pending)
    # Re-sending the others with their own ids counts each once, never twice.
    resent = asyncio.run(resend(url, pending, cookie))
    assert resent == set(pending)
    assert counted() == len(acknowledged) + len(resent) == len(load.votes)


def test_redis_killed_and_restarted_keeps_every_acknowledged_vote_once(mesh: Mesh) -> None:
    mesh.system.step("lock-down")
    reset(mesh.url)
    client = mesh.backends.redis_client()
    try:
        client.config_set("appendfsync", "everysec")  # as `voting up` runs its Redis
    finally:
        client.close()
    load = killed_and_restarted(mesh, mesh.backends.redis, cookie=None)
    check(load, lambda: mesh.redis_counts().get("Cats", 0), mesh.url, None)


def test_mariadb_killed_and_restarted_keeps_every_acknowledged_vote_once(mesh: Mesh) -> None:
    mesh.system.step("canary")
    reset(mesh.url, COOKIE_ON)
    load = killed_and_restarted(mesh, mesh.backends.mariadb, cookie=COOKIE_ON)
    check(load, lambda: mesh.mysql_counts().get("Cats", 0), mesh.url, COOKIE_ON)
