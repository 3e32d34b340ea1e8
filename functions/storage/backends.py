"""The one place that knows which vote stores exist: Redis (storage 1.0), MySQL (2.0).

Each driver is imported only when its store is chosen, to keep start-up fast and so that
storage 1.0 never loads the MySQL driver.
"""

from __future__ import annotations

from functions.storage.settings import StorageSettings
from functions.storage.store import VoteStore


async def open_store(settings: StorageSettings) -> VoteStore:
    """The store for `settings.store`; does not fail if the backend is down right now."""
    if settings.store == "redis":
        from functions.storage.redis_store import RedisStore

        return RedisStore(settings)
    from functions.storage.mysql_store import MySQLStore

    store = MySQLStore(settings)
    await store.start()
    return store
