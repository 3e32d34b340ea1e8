"""`voting observe` (the dashboard, or one snapshot for scripts) and `voting traffic`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or any(c in name for c in " :\t"):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip().lower(), value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    from mesh.local.paths import default_state_dir

    observe = subparsers.add_parser(
        "observe", help="dashboard: configured routes and mTLS vs observed traffic"
    )
    observe.add_argument("--source", choices=("local", "cluster"), default="local")
    observe.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="local system (default: %(default)s)",
    )
    observe.add_argument(
        "--prometheus-url", help="Prometheus to query (local default: the one `voting up` runs)"
    )
    observe.add_argument("--context", help="kubeconfig context (cluster source)")
    observe.add_argument(
        "--kubeconfig", help="kubeconfig file (cluster source; default: $KUBECONFIG)"
    )
    observe.add_argument("--namespace", default="voting", help="namespace (cluster source)")
    observe.add_argument(
        "--ingress-url", help="where users reach the app (cluster source; local: from status)"
    )
    observe.add_argument(
        "--window",
        default="1m",
        help="rate window of shares and rates (PromQL duration, default 1m)",
    )
    observe.add_argument(
        "--rollout-spec",
        type=Path,
        help="the spec the rollout key (R) runs (default: built-in); an A/B spec makes the "
        "demo traffic (t) send its header too",
    )
    observe.add_argument("--once", action="store_true", help="print one snapshot and exit")
    observe.add_argument("--json", action="store_true", help="with --once: as JSON")
    observe.add_argument("--refresh", type=float, default=1.0, help="seconds between reads")
    observe.set_defaults(func=cmd_observe)

    traffic = subparsers.add_parser("traffic", help="open-loop demo/test traffic to the ingress")
    traffic.add_argument("--url", default="http://127.0.0.1:8080/")
    traffic.add_argument("--rate", type=float, default=10.0, help="requests per second (held)")
    traffic.add_argument("--duration", type=float, default=30.0, help="seconds")
    traffic.add_argument(
        "--cookie-share", type=_share, default=0.0, help="share of users with featureflag=on"
    )
    traffic.add_argument(
        "--vote-share", type=_share, default=0.0, help="share of requests that are votes"
    )
    traffic.add_argument(
        "--header",
        type=_header,
        help="NAME=VALUE sent by the A/B users (e.g. x-canary=insider); their pages are counted apart",
    )
    traffic.add_argument(
        "--header-share", type=_share, default=0.0, help="share of users sending --header"
    )
    traffic.add_argument("--concurrency", type=int, default=64, help="max requests in flight")
    traffic.add_argument("--timeout", type=float, default=5.0, help="per-request timeout, s")
    traffic.add_argument("--json", action="store_true", help="print the result as JSON")
    traffic.add_argument(
        "--plaintext-to",
        metavar="SERVICE",
        choices=sorted(PLAINTEXT_PATHS),
        help="a client outside the mesh (no sidecar, no certificate): plaintext HTTP straight "
        "to SERVICE's first pod on the local system, as Istio's mTLS-migration task sends "
        "from a namespace without sidecars (refused once the service is STRICT)",
    )
    traffic.add_argument("--state-dir", type=Path, help="with --plaintext-to: the local system")
    traffic.set_defaults(func=cmd_traffic)


# ---------------------------------------------------------------- observe
def cmd_observe(args: argparse.Namespace) -> int:
    if args.once:
        return asyncio.run(_once(args))
    return asyncio.run(_dashboard(args))


async def _dashboard(args: argparse.Namespace) -> int:
    from observer.app import ObserverApp
    from observer.errors import ObserverError
    from observer.sources import make_source
    from rollout.spec import SpecError, load_spec

    try:
        spec = load_spec(args.rollout_spec)
    except SpecError as exc:
        print(f"voting observe: --rollout-spec: {exc}", file=sys.stderr)
        return 2
    try:
        source = await make_source(args)
    except ObserverError as exc:
        print(f"voting observe: {exc}", file=sys.stderr)
        return 1
    try:
        await ObserverApp(source, refresh_s=args.refresh, rollout_spec=spec).run_async()
    finally:
        await source.aclose()
    return 0


async def _once(args: argparse.Namespace) -> int:
    from rich.console import Console

    from observer.errors import ObserverError
    from observer.model import build_snapshot
    from observer.sources import make_source
    from observer.widgets.mesh import mtls_text
    from observer.widgets.rollout import rollout_text
    from observer.widgets.services import services_text
    from observer.widgets.votes import votes_text

    try:
        source = await make_source(args)
    except ObserverError as exc:
        print(f"voting observe: {exc}", file=sys.stderr)
        return 1
    try:
        state = await source.state()
        metrics, votes = await asyncio.gather(source.metrics(), source.votes())
    except ObserverError as exc:
        print(f"voting observe: {exc}", file=sys.stderr)
        return 1
    finally:
        await source.aclose()
    snapshot = build_snapshot(source.kind, state, metrics, votes)
    if args.json:
        print(json.dumps(snapshot.to_json(), indent=2))
        return 0
    console = Console(width=100, highlight=False)
    step = snapshot.step
    console.print(f"step {step.number} ({step.name})" if step else "step ? (custom configuration)")
    if metrics.state != "up":
        console.print(f"metrics: {metrics.detail}")
    if snapshot.rollout is not None:
        console.print(rollout_text(snapshot.rollout, 100))
        console.print()
    for text in (services_text(snapshot, 100), mtls_text(snapshot, 70), votes_text(votes, 70)):
        console.print(text)
        console.print()
    return 0


# ---------------------------------------------------------------- traffic
PLAINTEXT_PATHS = {"voting-app": "/", "voting-analytics": "/analytics", "voting-storage": "/counts"}
"""What a client outside the mesh asks each service for (the functions' GET routes)."""


def plaintext_url(service: str, state_dir: Path | None) -> str:
    """The first ready pod of `service`: its sidecar's inbound port, where a plaintext client
    lands (PERMISSIVE takes it, STRICT resets the connection)."""
    from mesh.local.paths import default_state_dir
    from mesh.router.factory import router_for

    async def status() -> dict[str, Any]:
        router = router_for(state_dir=state_dir or default_state_dir())
        try:
            return await router.status()
        finally:
            await router.close()

    workloads = asyncio.run(status()).get("workloads", [])
    pods = [p for w in workloads if w.get("app") == service for p in w["pods"] if p["ready"]]
    if not pods:
        raise ValueError(f"no ready pod of {service} on the local system")
    return f"http://127.0.0.1:{pods[0]['inbound_port']}{PLAINTEXT_PATHS[service]}"


def cmd_traffic(args: argparse.Namespace) -> int:
    from mesh.errors import MeshError
    from mesh.router.base import RouterError
    from observer.traffic import TrafficPlan, TrafficRunner

    try:
        url = args.url
        if args.plaintext_to:
            url = plaintext_url(args.plaintext_to, args.state_dir)
        plan = TrafficPlan(
            url=url,
            rate=args.rate,
            duration=args.duration,
            cookie_share=args.cookie_share,
            vote_share=args.vote_share,
            header=args.header,
            header_share=args.header_share,
            concurrency=args.concurrency,
            timeout=args.timeout,
        )
    except (ValueError, RouterError, MeshError) as exc:
        print(f"voting traffic: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        runner = TrafficRunner(plan)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, runner.request_stop)
        result = await runner.start()
        print(json.dumps(result.to_json(), indent=2) if args.json else result.summary())
        return 0 if result.sent else 1

    return asyncio.run(run())
