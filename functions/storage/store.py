"""The boundary between storage's HTTP views and a database.

A `VoteStore` counts each event id at most once, atomically, and reads counts in O(1)
(one counter per option, never a row per vote). Every failure to reach the database
within the deadline surfaces as `BackendUnavailable`. Which backends exist is known only
to `functions/storage/backends.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from functions.storage.events import VoteCommand


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
