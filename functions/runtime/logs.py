"""JSON-lines logging on stderr, one object per line, each with the request id.

The request id is the caller's `x-request-id` (Envoy sets one at the edge and keeps it
across retries), so one grep follows a vote through vote, results and storage.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from functools import lru_cache

# The current request's id; "-" outside a request (start-up, shutdown).
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; exceptions become a one-line `error` field."""

    def __init__(self, static: dict[str, str] | None = None) -> None:
        super().__init__()
        self._static = static or {}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": f"{_second(int(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
            **self._static,
        }
        attributes = record.__dict__
        for key in attributes.keys() - _STANDARD:  # what was passed through `extra=`
            if not key.startswith("_"):
                entry[key] = attributes[key]
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["where"] = _innermost_frame(exc)
        return json.dumps(entry, default=str, ensure_ascii=False)


@lru_cache(maxsize=4)
def _second(epoch: int) -> str:
    """The UTC timestamp of a whole second (an access log asks for the same one often)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))


def _innermost_frame(exc: BaseException) -> str:
    """`file:line` where the exception was raised: enough to find it, no full trace."""
    tb = exc.__traceback__
    if tb is None:
        return "?"
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"


def configure_logging(function: str, version: str, level: str = "INFO") -> None:
    """Send every logger to stderr as JSON lines tagged with the function and version."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter({"function": function, "version": version}))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's own access log would duplicate the runtime's request log line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
