"""storage settings, parsed once from the environment (names as in docs/contracts.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from functions.runtime.errors import ConfigError
from functions.runtime.settings import (
    env_int,
    env_max_in_flight,
    env_str,
    function_version,
    pod_name,
)

# Version → backend, as in the tutorial: 1.0 on Redis, 2.0 on MySQL.
STORES = {"1.0": "redis", "2.0": "mysql"}
# A database name safe to put in CREATE DATABASE / USE (identifiers cannot be bound).
_DB_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True)
class StorageSettings:
    """Where the votes live. The password never appears in repr, logs or /metrics."""

    function_version: str
    # Admission limit: requests served at once before the excess gets 503 (0: no limit).
    max_in_flight: int = 0
    pod_name: str = "localhost"
    redis_url: str = field(default="redis://voting-redis:6379/0", repr=False)
    mysql_host: str = "voting-mysql"
    mysql_port: int = 3306
    mysql_user: str = ""
    mysql_password: str = field(default="", repr=False)
    mysql_database: str = "azurevote"
    # Not from the environment: isolates tests (and co-tenants) sharing one Redis.
    redis_prefix: str = "voting:"
    # How long an event id is remembered for de-duplication.
    event_ttl_s: int = 24 * 3600
    # Deadline for one backend command or transaction; connects get half of it.
    timeout_s: float = 1.0

    def __post_init__(self) -> None:
        if not _DB_NAME.fullmatch(self.mysql_database):
            raise ConfigError("MYSQL_DATABASE may contain only letters, digits and _")

    @property
    def store(self) -> str:
        """`redis` or `mysql`."""
        return STORES[self.function_version]

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, version: str | None = None
    ) -> StorageSettings:
        """Settings for the version given (or FUNCTION_VERSION)."""
        chosen = function_version(env, "storage", STORES, version)
        settings = cls(
            function_version=chosen,
            max_in_flight=env_max_in_flight(env),
            pod_name=pod_name(env),
            redis_url=env_str(env, "REDIS_URL", cls.redis_url),
            mysql_host=env_str(env, "MYSQL_HOST", cls.mysql_host),
            mysql_port=env_int(env, "MYSQL_PORT", cls.mysql_port),
            mysql_user=env.get("MYSQL_USER", ""),
            mysql_password=env.get("MYSQL_PASSWORD", ""),
            mysql_database=env_str(env, "MYSQL_DATABASE", cls.mysql_database),
        )
        if settings.store == "mysql" and not settings.mysql_user:
            raise ConfigError("storage 2.0 needs MYSQL_USER (and MYSQL_PASSWORD) from the secret")
        return settings
