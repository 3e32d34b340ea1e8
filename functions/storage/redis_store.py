"""Storage 1.0: votes in Redis, one hash field per option.

One Lua script makes "have we seen this event id?" and "count it" a single atomic
step: SET NX with a TTL on the id key, then HINCRBY (or DEL for a reset) only if the
SET succeeded. A retried call is therefore safe: it reports a duplicate, never a
double count.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from functions.runtime.errors import BackendUnavailable
from functions.storage.events import VoteCast, VoteCommand
from functions.storage.settings import StorageSettings
from functions.storage.store import Recorded

# KEYS: event-id key, counts hash. ARGV: ttl seconds, "cast"|"reset", option.
_RECORD = """
local fresh = redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1])
if fresh then
  if ARGV[2] == 'reset' then
    redis.call('DEL', KEYS[2])
  else
    redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
  end
end
return {fresh and 0 or 1, redis.call('HGETALL', KEYS[2])}
"""


class RedisStore:
    """A VoteStore on redis.asyncio with a bounded, self-healing connection pool."""

    name = "redis"

    def __init__(self, settings: StorageSettings) -> None:
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=32,
            timeout=settings.timeout_s,
            socket_connect_timeout=settings.timeout_s / 2,
            socket_timeout=settings.timeout_s / 2,
            # One immediate retry replaces a connection the server dropped (restart).
            retry=Retry(NoBackoff(), 1),
            health_check_interval=10,
            decode_responses=True,
        )
        self._redis = Redis.from_pool(pool)
        self._ttl = settings.event_ttl_s
        self._counts_key = f"{settings.redis_prefix}counts"
        self._event_prefix = f"{settings.redis_prefix}event:"
        self._record = self._redis.register_script(_RECORD)

    async def record(self, command: VoteCommand) -> Recorded:
        kind, option = ("cast", command.option) if isinstance(command, VoteCast) else ("reset", "")
        keys = [self._event_prefix + command.event_id, self._counts_key]
        try:
            duplicate, flat = await self._record(keys=keys, args=[self._ttl, kind, option])
        except (RedisError, OSError) as exc:
            raise BackendUnavailable("redis is unavailable") from exc
        return Recorded(counts=_pairs(flat), duplicate=bool(duplicate))

    async def counts(self) -> dict[str, int]:
        try:
            raw = await self._redis.hgetall(self._counts_key)
        except (RedisError, OSError) as exc:
            raise BackendUnavailable("redis is unavailable") from exc
        return {option: int(count) for option, count in raw.items()}

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise BackendUnavailable("redis is unavailable") from exc

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


def _pairs(flat: list[Any]) -> dict[str, int]:
    """HGETALL's flat [field, value, ...] reply from Lua, as a dict."""
    return {str(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
