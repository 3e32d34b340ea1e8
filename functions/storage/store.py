"""The boundary between storage's HTTP views and a database.

A `VoteStore` counts each event id at most once, atomically, and reads counts in O(1)
(one counter per option, never a row per vote). Every failure to reach the database
within the deadline surfaces as `BackendUnavailable`; only `open_store` knows which
backends exist, and it imports the chosen driver lazily to keep start-up fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from functions.storage.events import VoteCommand
from functions.storage.settings import StorageSettings


@dataclass(frozen=True, slots=True)
class Recorded:
    """The counts right after an event, and whether its id had been seen before."""

    counts: dict[str, int]
    duplicate: bool


class VoteStore(Protocol):
    """Exactly-once vote counting on one backend."""

    name: str

    async def record(self, command: VoteCommand) -> Recorded:
        """Apply `command` unless its event id was already applied; return the counts."""
        ...

    async def counts(self) -> dict[str, int]:
        """Current count per option (options never voted for are absent)."""
        ...

    async def ping(self) -> None:
        """Return when the backend answers; raise BackendUnavailable otherwise."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


async def open_store(settings: StorageSettings) -> VoteStore:
    """The store for `settings.store`; does not fail if the backend is down right now."""
    if settings.store == "redis":
        from functions.storage.redis_store import RedisStore

        return RedisStore(settings)
    from functions.storage.mysql_store import MySQLStore

    store = MySQLStore(settings)
    await store.start()
    return store
