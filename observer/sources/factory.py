"""The one place that knows the source names: builds a source from `voting observe` options."""

from __future__ import annotations

import argparse

from observer.sources.base import ObserverSource


async def make_source(args: argparse.Namespace) -> ObserverSource:
    """`--source local` (default) reads `voting up`; `--source cluster` (or naming a
    `--context`/`--kubeconfig`) a Kubernetes namespace, as `mesh.router.factory.router_for` decides."""
    if args.source == "cluster" or args.context or args.kubeconfig:
        from observer.sources.cluster import ClusterSource

        return ClusterSource.from_kubeconfig(
            args.context,
            namespace=args.namespace,
            kubeconfig=args.kubeconfig,
            prometheus_url=args.prometheus_url,
            ingress_url=args.ingress_url,
            window=args.window,
        )
    from observer.sources.local import LocalSource

    return LocalSource(args.state_dir, prometheus_url=args.prometheus_url, window=args.window)
