"""Domain errors, translated to HTTP in exactly one place (the error middleware).

The data and client layers raise these, always `from` the lower-level exception, so a
view never deals with redis, asyncmy or aiohttp client errors directly::

    FunctionError                 status + a message that is safe to show a user
    ├── InvalidInput              400: the caller sent something we do not accept
    ├── UpstreamError             502: a service answered, but with something unusable
    └── Unavailable               503 + Retry-After: try again shortly
        ├── UpstreamUnavailable   another function did not answer in time
        └── BackendUnavailable    storage's Redis/MySQL did not answer in time

    ConfigError                   bad settings at start; the CLI exits 2 (never HTTP)
"""

from __future__ import annotations


class FunctionError(Exception):
    """Base of every error a view may let escape; `message` is shown to the caller."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(FunctionError):
    """The request itself is wrong; retrying it unchanged will not help."""

    status = 400


class UpstreamError(FunctionError):
    """Another function answered with an unexpected status or body."""

    status = 502


class Unavailable(FunctionError):
    """A dependency is down or slow; the caller should retry after `retry_after` s."""

    status = 503

    def __init__(self, message: str, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamUnavailable(Unavailable):
    """Another function could not be reached within its deadline."""


class BackendUnavailable(Unavailable):
    """The storage backend (Redis or MySQL) could not be reached within its deadline."""


class ConfigError(Exception):
    """Settings from the environment or the command line are invalid."""
