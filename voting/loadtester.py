"""`voting loadtester`: the webhook receiver rollouts call for smoke and load tests.

It lives in `voting/` because it wires two areas that must not import each other: the
rollout's webhooks (rollout/webhooks.py) and the traffic generator (observer/traffic.py).

After Flagger's loadtester (fluxcd/flagger cmd/loadtester): a small HTTP service a rollout's
webhooks point at, so a spec needs no scripts of its own. It never runs a shell command
from a payload (Flagger's runs `metadata.cmd`); it knows two tests:

    POST /smoke     one page view of the canary through the ingress (the featureflag cookie
                    reaches 2.0 at step 4): 200 when 2.0 answered it, 502 with what came back
    POST /traffic   keep `voting traffic` running: starts a run of `metadata.duration`
                    (default 60s) at `metadata.rate` req/s (default 10) when none runs, and
                    answers 200; once a run has ended with more than 1 % of its requests
                    failing (5xx, timeouts, connection errors) it answers 500 with the summary
                    (a failed check), then starts the next run
    GET  /healthz   200

Metadata values are strings, as in Flagger; `header` (NAME=VALUE) and `header-share` send A/B
users too. Bad metadata answers 400 naming the key.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aiohttp
from aiohttp import web

from mesh.model.fields import parse_duration
from observer.traffic import TrafficPlan, TrafficResult, TrafficRunner, page_version

FAILED_SHARE = 0.01


class LoadTester:
    """One ingress URL; at most one traffic run at a time; the last finished run's result."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner: TrafficRunner | None = None
        self.task: asyncio.Task[TrafficResult] | None = None
        self.finished: TrafficResult | None = None

    async def smoke(self) -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=10)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(self.url, headers={"Cookie": "featureflag=on"}) as response,
            ):
                body = await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 502, f"smoke: no answer from {self.url}: {exc}"
        version = page_version(body)
        if response.status == 200 and version == "2.0":
            return 200, "smoke: app 2.0 answered 200"
        return 502, f"smoke: HTTP {response.status} from app {version} (expected 200 from 2.0)"

    def traffic(self, metadata: dict[str, str]) -> tuple[int, str]:
        plan = plan_from_metadata(self.url, metadata)
        if self.task is not None and self.task.done():
            self.finished, self.task = self.task.result(), None
        verdict = self._judge_finished()
        if self.task is None:
            self.runner = TrafficRunner(plan)
            self.task = self.runner.start()
        if verdict:
            return 500, verdict
        return 200, f"traffic: running, {self.runner.result.sent} sent" if self.runner else "ok"

    def _judge_finished(self) -> str | None:
        result, self.finished = self.finished, None
        if result is None or not result.completed:
            return None
        failed = result.failed
        if failed / result.completed > FAILED_SHARE:
            return f"traffic: {failed} of {result.completed} requests failed\n{result.summary()}"
        return None

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.stop()


STATE = web.AppKey("loadtester", LoadTester)


def plan_from_metadata(url: str, metadata: dict[str, str]) -> TrafficPlan:
    known = {"rate", "duration", "header", "header-share"}
    unknown = sorted(set(metadata) - known)
    if unknown:
        raise ValueError(f"metadata.{unknown[0]}: unknown (known: {', '.join(sorted(known))})")
    try:
        rate = float(metadata.get("rate", "10"))
    except ValueError as exc:
        raise ValueError(f"metadata.rate: a number, got {metadata['rate']!r}") from exc
    duration = parse_duration(metadata.get("duration", "60s"), "metadata.duration")
    header = None
    if "header" in metadata:
        name, sep, value = metadata["header"].partition("=")
        if not sep or not name:
            raise ValueError(f"metadata.header: NAME=VALUE, got {metadata['header']!r}")
        header = (name.lower(), value)
    share = float(metadata.get("header-share", "0.5" if header else "0"))
    return TrafficPlan(url=url, rate=rate, duration=duration, header=header, header_share=share)


async def _metadata(request: web.Request) -> dict[str, str]:
    try:
        body = await request.json()
    except ValueError:
        body = {}
    metadata = (body or {}).get("metadata") if isinstance(body, dict) else None
    return {str(k): str(v) for k, v in (metadata or {}).items()}


async def _smoke(request: web.Request) -> web.Response:
    status, text = await request.app[STATE].smoke()
    return web.Response(status=status, text=text)


async def _traffic(request: web.Request) -> web.Response:
    from mesh.errors import MeshError

    try:
        status, text = request.app[STATE].traffic(await _metadata(request))
    except (ValueError, MeshError) as exc:
        return web.Response(status=400, text=f"traffic: {exc}")
    return web.Response(status=status, text=text)


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def loadtester_app(url: str) -> web.Application:
    app = web.Application()
    app[STATE] = LoadTester(url)
    app.router.add_post("/smoke", _smoke)
    app.router.add_post("/traffic", _traffic)
    app.router.add_get("/healthz", _healthz)

    async def close(app: web.Application) -> None:
        await app[STATE].close()

    app.on_cleanup.append(close)
    return app


def register(subparsers: argparse._SubParsersAction) -> None:
    tester = subparsers.add_parser(
        "loadtester",
        help="the webhook receiver for rollouts' smoke and load tests (after Flagger's loadtester)",
    )
    tester.add_argument("--port", type=int, default=9090, help="where it listens (loopback)")
    tester.add_argument(
        "--url", default="http://127.0.0.1:8080/", help="the ingress the tests send to"
    )
    tester.set_defaults(func=cmd_loadtester)


def cmd_loadtester(args: argparse.Namespace) -> int:
    try:
        serve(args.url, args.port)
    except OSError as exc:
        print(f"voting: loadtester: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def serve(url: str, port: int) -> None:
    web.run_app(loadtester_app(url), host="127.0.0.1", port=port, print=_say)


def _say(message: Any) -> None:
    print(message, flush=True)
