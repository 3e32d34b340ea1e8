"""What the local mesh's function host imports once, before it forks any function.

The libraries and the functions' own code: a forked child then finds them in memory it
shares with the host and its siblings. Freezing the collector's view of all of it at the end
means a collection in a child does not write to (and so copy) those shared pages. Code
edited after the host started (`voting up --watch`) is imported again by the child
(`forget_edited_code`), so a rolled pod runs the new code.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
import time

MODULES = (
    "argparse",
    "asyncio",
    "ctypes",
    "decimal",
    "json",
    "logging",
    "sysconfig",
    "uuid",
    "zoneinfo",
    "aiohttp",
    "aiohttp.web",
    "cloudevents.core.bindings.http",
    "cloudevents.core.v1.event",
    "dateutil.parser",
    "dateutil.tz",
    "prometheus_client",
    "prometheus_client.exposition",
    "redis.asyncio",
    "uvloop",
    "yarl",
    "functions.cli",
    "functions.runtime.app",
    "functions.vote.app",
    "functions.results.app",
    "functions.storage.app",
    "functions.storage.redis_store",
)
OPTIONAL = ("asyncmy", "functions.storage.mysql_store")  # storage 2.0's driver
OWN_CODE = ("functions",)
IMPORTED_AT = time.time()

for _name in MODULES:
    importlib.import_module(_name)
for _name in OPTIONAL:
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)

gc.freeze()


def forget_edited_code() -> None:
    """In a child: drop the host's copy of our own packages if any of their files changed."""
    own = [name for name in sys.modules if name.split(".")[0] in OWN_CODE]
    if any(_edited(sys.modules[name]) for name in own):
        for name in own:
            del sys.modules[name]


def _edited(module: object) -> bool:
    path = getattr(module, "__file__", None)
    try:
        return path is not None and os.stat(path).st_mtime > IMPORTED_AT
    except OSError:
        return True
