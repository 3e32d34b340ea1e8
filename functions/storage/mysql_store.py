"""Storage 2.0: votes in MySQL/MariaDB, one counter row per option.

Each event is one transaction: insert its id into `vote_events` (primary key, so a
repeat fails with a duplicate-key error and changes nothing), then bump the option's
row in `vote_counts` (or empty it for a reset). Reads never scan votes.

The pool heals itself: asyncmy drops broken connections when they are taken, so once
the server is back the next request connects again. The schema (and the database, if
the user may create it) is applied lazily until it has succeeded once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from importlib import resources

import asyncmy
from asyncmy.connection import Connection
from asyncmy.errors import IntegrityError, MySQLError, OperationalError

from functions.runtime.errors import BackendUnavailable
from functions.storage.events import VoteCast, VoteCommand
from functions.storage.settings import StorageSettings
from functions.storage.store import Recorded

log = logging.getLogger(__name__)

_DUPLICATE_KEY = 1062
_DEADLOCK = 1213
_ACCESS_DENIED_TO_DB = 1044
_DEADLOCK_RETRIES = 5

_COUNTS = "SELECT option_name, votes FROM vote_counts"
_INSERT_EVENT = "INSERT INTO vote_events (event_id) VALUES (%s)"
_BUMP = (
    "INSERT INTO vote_counts (option_name, votes) VALUES (%s, 1) "
    "ON DUPLICATE KEY UPDATE votes = votes + 1"
)
_RESET = "DELETE FROM vote_counts"
# Event ids are kept for event_ttl_s (like Redis' key TTL), then forgotten in batches.
_FORGET = "DELETE FROM vote_events WHERE received_at < NOW() - INTERVAL %s SECOND LIMIT 5000"
FORGET_EVERY_S = 600


class MySQLStore:
    """A VoteStore on an asyncmy pool with per-operation deadlines."""

    name = "mysql"

    def __init__(self, settings: StorageSettings) -> None:
        self._settings = settings
        self._timeout = settings.timeout_s
        self._pool: asyncmy.Pool | None = None
        self._lock = asyncio.Lock()
        self._forgetter: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Try to connect and apply the schema now; a down server is retried later."""
        try:
            await self._ready_pool()
        except BackendUnavailable as exc:
            log.warning("mysql not reachable at start; will retry: %s", exc.__cause__)
        self._forgetter = asyncio.create_task(self._forget_periodically())

    async def forget_old_events(self) -> int:
        """Delete up to one batch of event ids older than the TTL; returns how many."""
        async with self._connection() as conn, conn.cursor() as cur:
            return await cur.execute(_FORGET, (self._settings.event_ttl_s,))

    async def _forget_periodically(self) -> None:
        """Keep vote_events bounded to about a TTL's worth of votes."""
        while True:
            await asyncio.sleep(FORGET_EVERY_S)
            try:
                await self.forget_old_events()
            except BackendUnavailable:
                log.info("mysql unavailable; old event ids will be forgotten later")

    async def record(self, command: VoteCommand) -> Recorded:
        for attempt in range(_DEADLOCK_RETRIES):
            try:
                return await self._record_once(command)
            except OperationalError as exc:
                if exc.args[0] != _DEADLOCK or attempt == _DEADLOCK_RETRIES - 1:
                    raise BackendUnavailable("mysql is unavailable") from exc
        raise AssertionError("unreachable")

    async def _record_once(self, command: VoteCommand) -> Recorded:
        async with self._connection() as conn, conn.cursor() as cur:
            await conn.begin()
            try:
                await cur.execute(_INSERT_EVENT, (command.event_id,))
            except IntegrityError as exc:
                if exc.args[0] != _DUPLICATE_KEY:
                    raise
                await conn.rollback()
                await cur.execute(_COUNTS)
                return Recorded(counts=_rows(await cur.fetchall()), duplicate=True)
            if isinstance(command, VoteCast):
                await cur.execute(_BUMP, (command.option,))
            else:
                await cur.execute(_RESET)
            await cur.execute(_COUNTS)
            counts = _rows(await cur.fetchall())
            await conn.commit()
            return Recorded(counts=counts, duplicate=False)

    async def counts(self) -> dict[str, int]:
        async with self._connection() as conn, conn.cursor() as cur:
            await cur.execute(_COUNTS)
            return _rows(await cur.fetchall())

    async def ping(self) -> None:
        async with self._connection() as conn, conn.cursor() as cur:
            await cur.execute("SELECT 1")
            await cur.fetchall()

    async def close(self) -> None:
        if self._forgetter is not None:
            self._forgetter.cancel()
            with suppress(asyncio.CancelledError):
                await self._forgetter
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A pooled connection, its work bounded by the deadline; closed if it failed.

        Waiting for a free pooled connection has its own, longer allowance: a burst of
        votes queues there instead of failing while the database is healthy.
        """
        pool = await self._ready_pool()
        try:
            async with asyncio.timeout(self._timeout * 3):
                conn = await pool.acquire()
        except (TimeoutError, OSError, MySQLError) as exc:
            raise BackendUnavailable("mysql is unavailable") from exc
        try:
            async with asyncio.timeout(self._timeout):
                yield conn
        except (TimeoutError, OSError, MySQLError) as exc:
            conn.close()
            if isinstance(exc, OperationalError) and exc.args[0] == _DEADLOCK:
                raise
            raise BackendUnavailable("mysql is unavailable") from exc
        except BaseException:
            conn.close()
            raise
        finally:
            pool.release(conn)

    async def _ready_pool(self) -> asyncmy.Pool:
        """The pool, creating database, pool and schema first if not done yet."""
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                try:
                    async with asyncio.timeout(self._timeout * 3):
                        self._pool = await self._create()
                except (TimeoutError, OSError, MySQLError) as exc:
                    raise BackendUnavailable("mysql is unavailable") from exc
        return self._pool

    async def _create(self) -> asyncmy.Pool:
        s = self._settings
        common = {
            "host": s.mysql_host,
            "port": s.mysql_port,
            "user": s.mysql_user,
            "password": s.mysql_password,
            "connect_timeout": self._timeout / 2,
            "autocommit": True,
            "charset": "utf8mb4",
        }
        conn = await asyncmy.connect(**common)
        try:
            async with conn.cursor() as cur:
                try:
                    await cur.execute(f"CREATE DATABASE IF NOT EXISTS `{s.mysql_database}`")
                except OperationalError as exc:
                    if exc.args[0] != _ACCESS_DENIED_TO_DB:
                        raise
                await cur.execute(f"USE `{s.mysql_database}`")
                for statement in _schema_statements():
                    await cur.execute(statement)
        finally:
            conn.close()
        pool = await asyncmy.create_pool(
            minsize=1, maxsize=10, pool_recycle=300, db=s.mysql_database, **common
        )
        log.info("mysql schema ready", extra={"database": s.mysql_database})
        return pool


def _schema_statements() -> list[str]:
    """The statements of schema.sql, comments dropped."""
    text = resources.files("functions.storage").joinpath("schema.sql").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def _rows(rows: list[tuple[str, int]] | tuple[tuple[str, int], ...]) -> dict[str, int]:
    return {str(option): int(votes) for option, votes in rows}
