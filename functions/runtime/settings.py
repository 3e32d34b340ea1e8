"""Parsing helpers shared by every function's settings.

Each function owns a frozen dataclass whose field names are its environment variables
(lower-cased, see docs/contracts.md) and builds it once with `from_env`; these helpers
keep that parsing strict so a typo fails at start, not on the first request.
"""

from __future__ import annotations

import socket
from collections.abc import Collection, Mapping

from functions.runtime.errors import ConfigError

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    """The variable's value, or `default` when unset or blank."""
    value = env.get(name, "").strip()
    return value or default


def env_bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean that accepts the usual spellings and rejects anything else."""
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    """An integer, with a clear error naming the variable."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None


DEFAULT_MAX_IN_FLIGHT = 128
"""Requests one function process serves at once before it sheds the excess with 503."""


def env_max_in_flight(env: Mapping[str, str]) -> int:
    """MAX_IN_FLIGHT: the admission limit (0 turns it off), DEFAULT_MAX_IN_FLIGHT if unset."""
    value = env_int(env, "MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT)
    if value < 0:
        raise ConfigError(f"MAX_IN_FLIGHT must be 0 (no limit) or more, not {value}")
    return value


def function_version(
    env: Mapping[str, str], function: str, allowed: Collection[str], version: str | None = None
) -> str:
    """The version to run: the explicit one, else FUNCTION_VERSION; must be in `allowed`."""
    chosen = (version or env.get("FUNCTION_VERSION", "")).strip()
    if not chosen:
        raise ConfigError(f"{function}: set --version or FUNCTION_VERSION")
    if chosen not in allowed:
        raise ConfigError(
            f"{function} has no version {chosen!r} (known: {', '.join(sorted(allowed))})"
        )
    return chosen


def pod_name(env: Mapping[str, str]) -> str:
    """POD_NAME as Kubernetes' downward API sets it, else this machine's host name."""
    return env_str(env, "POD_NAME", socket.gethostname())
