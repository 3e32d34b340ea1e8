"""Helpers for the task tests: apply a task folder and always undo it, fetch many pages.

`task_applied` runs the user's own verbs (`voting apply -f` / `voting delete -f`), so each
task test also proves that the task's YAML applies on top of the step and that deleting it
gives the step back unchanged (nothing left `applied on top`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from mesh.proxyconfig.dump import fetch_json
from tests.e2e.local_system import LocalSystem
from tests.support.tasks import TASK_STEP, task_path
from tests.support.waiting import wait_until

LIVE_DEADLINE_S = 30  # for an applied change to be live; tenths of a second when quiet
APP_VERSION = re.compile(r'<span id="app-version">(.*?)</span>')
ANALYTICS_VERSION = re.compile(r'<span id="analytics-version">(.*?)</span>')


@dataclass
class AppliedTask:
    """A task being applied on the shared system: what was applied, to undo in reverse."""

    system: LocalSystem
    applied: list[Path] = field(default_factory=list)

    def apply(self, task: str) -> subprocess.CompletedProcess[str]:
        """`voting apply -f mesh/tasks/<task>` (a folder or one file of a sequence)."""
        path = task_path(task)
        done = self.system.cli("apply", "-f", str(path))
        assert done.returncode == 0, f"voting apply -f {path}: {done.stderr}"
        self.applied.append(path)
        return done

    def delete(self, task: str) -> subprocess.CompletedProcess[str]:
        """`voting delete -f mesh/tasks/<task>`: undo one folder or file explicitly."""
        path = task_path(task)
        done = self.system.cli("delete", "-f", str(path))
        assert done.returncode == 0, f"voting delete -f {path}: {done.stderr}"
        self.applied.remove(path)
        return done

    def undo(self) -> None:
        """Delete what was applied, newest first; the step must then be back as rendered."""
        errors = []
        for path in reversed(self.applied):
            done = self.system.cli("delete", "-f", str(path), "--ignore-not-found")
            if done.returncode != 0:
                errors.append(f"voting delete -f {path}: {done.stderr.strip()}")
        self.applied.clear()
        left = self.system.status().get("applied") or []
        if left or errors:
            self.system.step(TASK_STEP)  # the next test starts from the step, whatever
        assert not errors, "\n".join(errors)
        assert not left, f"left on top of step {TASK_STEP} after delete: {left}"


@contextlib.contextmanager
def task_applied(system: LocalSystem, *tasks: str) -> Iterator[AppliedTask]:
    """Apply the task folders (or files) in order; delete them afterwards, even on failure.

    Afterwards the step is back exactly as rendered (`voting status` shows nothing applied
    on top); if a delete failed, the step is applied again before the test fails.
    """
    applied = AppliedTask(system)
    try:
        for task in tasks:
            applied.apply(task)
        yield applied
    finally:
        applied.undo()


@dataclass
class Answer:
    """One answered request: status, versions on the page (if any) and how long it took."""

    status: int
    elapsed: float
    app_version: str | None
    analytics_version: str | None
    body: str
    headers: dict[str, str] = field(default_factory=dict)  # the response's, names lowercased


async def _fetch(
    session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str]
) -> Answer:
    start = time.monotonic()
    async with session.request(method, url, headers=headers, allow_redirects=False) as response:
        body = await response.text()
    elapsed = time.monotonic() - start

    def first(pattern: re.Pattern[str]) -> str | None:
        match = pattern.search(body)
        return match.group(1) if match else None

    return Answer(
        response.status,
        elapsed,
        first(APP_VERSION),
        first(ANALYTICS_VERSION),
        body[:300],
        {k.lower(): v for k, v in response.headers.items()},
    )


def requests(
    system: LocalSystem,
    count: int,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    path: str = "/",
    concurrency: int = 4,
    data: dict[str, str] | None = None,
) -> list[Answer]:
    """`count` requests through the ingress, `concurrency` at a time; every answer kept."""

    async def main() -> list[Answer]:
        limit = asyncio.Semaphore(concurrency)
        timeout = aiohttp.ClientTimeout(total=60)
        url = system.url.rstrip("/") + path
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def one() -> Answer:
                async with limit:
                    if data is None:
                        return await _fetch(session, method, url, headers or {})
                    start = time.monotonic()
                    async with session.request(
                        method, url, headers=headers or {}, data=data, allow_redirects=False
                    ) as response:
                        body = await response.text()
                    return Answer(response.status, time.monotonic() - start, None, None, body)

            return await asyncio.gather(*(one() for _ in range(count)))

    return asyncio.run(main())


def request(system: LocalSystem, **kwargs: object) -> Answer:
    """One request through the ingress (see `requests`)."""
    return requests(system, 1, **kwargs)[0]  # type: ignore[arg-type]


def wait_for(system: LocalSystem, condition: object, what: str, **kwargs: object) -> None:
    """Wait until one request (see `requests`) satisfies `condition(answer)`."""
    wait_until(
        lambda: condition(request(system, **kwargs)),  # type: ignore[operator]
        LIVE_DEADLINE_S,
        what,
        interval=0.1,
    )


def _walk(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def envoy_routes(system: LocalSystem, proxy: str = "ingress") -> dict[str, dict[str, Any]]:
    """The routes one Envoy holds, by route name, read with `voting proxy-config -o json`."""
    done = system.cli("proxy-config", proxy, "routes", "-o", "json")
    assert done.returncode == 0, done.stderr
    return {
        str(node["name"]): node
        for node in _walk(json.loads(done.stdout))
        if "match" in node and "route" in node and "name" in node
    }


def workload_requests(system: LocalSystem, workload: str, counter: str) -> int:
    """`counter` summed over every stat that ends with it, on every pod of `workload`
    (`voting-app-1-0`), the admin listener's own left out."""
    pods = [pod for w in system.status()["workloads"] if w["name"] == workload for pod in w["pods"]]
    assert pods, f"no pods of {workload}"
    total = 0
    for pod in pods:
        stats = fetch_json(int(pod["admin_port"]), "/stats?format=json")["stats"]
        total += sum(
            int(s["value"])
            for s in stats
            if "value" in s
            and s["name"].endswith(counter)
            and not s["name"].startswith("http.admin.")
        )
    return total


def envoy_counters(system: LocalSystem, contains: str, proxy: str = "ingress") -> dict[str, int]:
    """The counters of one Envoy's admin `/stats` whose names contain `contains`."""
    status = system.status()
    if proxy == "ingress":
        port = status["ingress_admin_port"]
    else:
        pods = [pod for w in status["workloads"] for pod in w["pods"]]
        port = next(pod["admin_port"] for pod in pods if pod["name"].startswith(proxy))
    stats = fetch_json(int(port), "/stats?format=json")["stats"]
    return {s["name"]: int(s["value"]) for s in stats if "value" in s and contains in s["name"]}
