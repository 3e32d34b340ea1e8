"""results settings, parsed once from the environment (names as in docs/contracts.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from functions import names
from functions.runtime.settings import env_max_in_flight, env_str, function_version, pod_name

VERSIONS = names.VERSIONS["voting-analytics"]


@dataclass(frozen=True)
class ResultsSettings:
    """Which two options to report and where storage is."""

    function_version: str
    # Admission limit: requests served at once before the excess gets 503 (0: no limit).
    max_in_flight: int = 0
    pod_name: str = "localhost"
    vote1value: str = "Cats"
    vote2value: str = "Dogs"
    storage_url: str = "http://voting-storage:8080"
    # Deadline for storage; well inside the 2 s vote gives a whole page.
    timeout_s: float = 0.8

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, version: str | None = None
    ) -> ResultsSettings:
        """Settings for the version given (or FUNCTION_VERSION)."""
        return cls(
            function_version=function_version(env, "results", VERSIONS, version),
            max_in_flight=env_max_in_flight(env),
            pod_name=pod_name(env),
            vote1value=env_str(env, "VOTE1VALUE", cls.vote1value),
            vote2value=env_str(env, "VOTE2VALUE", cls.vote2value),
            storage_url=env_str(env, "STORAGE_URL", cls.storage_url).rstrip("/"),
        )
