"""vote settings, parsed once from the environment (names as in docs/contracts.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from functions import names
from functions.runtime.errors import ConfigError
from functions.runtime.settings import (
    env_bool,
    env_max_in_flight,
    env_str,
    function_version,
    pod_name,
)

VERSIONS = names.VERSIONS["voting-app"]
RESET = "reset"


@dataclass(frozen=True)
class VoteSettings:
    """What the page shows and where its two backends are."""

    function_version: str
    # Admission limit: requests served at once before the excess gets 503 (0: no limit).
    max_in_flight: int = 0
    pod_name: str = "localhost"
    title: str = "AKS Voting App"
    vote1value: str = "Cats"
    vote2value: str = "Dogs"
    showdetails: bool = False
    featureflag: bool = False
    analytics_url: str = "http://voting-analytics:8080"
    storage_url: str = "http://voting-storage:8080"
    # Deadlines for the two calls; the page is answered within 2 s whatever happens.
    analytics_timeout_s: float = 1.5
    storage_timeout_s: float = 1.5

    def __post_init__(self) -> None:
        options = (self.vote1value, self.vote2value)
        if self.vote1value == self.vote2value or RESET in options:
            raise ConfigError("VOTE1VALUE and VOTE2VALUE must differ and not be 'reset'")
        if any(len(option) > 64 for option in options):
            raise ConfigError("VOTE1VALUE and VOTE2VALUE must be at most 64 characters")

    @property
    def options(self) -> tuple[str, str]:
        """The two options, in button order."""
        return (self.vote1value, self.vote2value)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, version: str | None = None
    ) -> VoteSettings:
        """Settings for the version given (or FUNCTION_VERSION)."""
        return cls(
            function_version=function_version(env, "vote", VERSIONS, version),
            max_in_flight=env_max_in_flight(env),
            pod_name=pod_name(env),
            title=env_str(env, "TITLE", cls.title),
            vote1value=env_str(env, "VOTE1VALUE", cls.vote1value),
            vote2value=env_str(env, "VOTE2VALUE", cls.vote2value),
            showdetails=env_bool(env, "SHOWDETAILS"),
            featureflag=env_bool(env, "FEATUREFLAG"),
            analytics_url=env_str(env, "ANALYTICS_URL", cls.analytics_url).rstrip("/"),
            storage_url=env_str(env, "STORAGE_URL", cls.storage_url).rstrip("/"),
        )
