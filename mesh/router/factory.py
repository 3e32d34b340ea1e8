"""`router_for`: the one place that knows which backends exist and picks one."""

from __future__ import annotations

from pathlib import Path

from mesh.router.base import Router
from mesh.router.local import LocalRouter


def router_for(
    context: str | None = None,
    *,
    namespace: str = "voting",
    kubeconfig: str | Path | None = None,
    state_dir: Path | None = None,
    cluster: bool | None = None,
    rollout_timeout: float = 300.0,
    images: dict[str, str] | None = None,
) -> Router:
    """The one place that chooses: a cluster when a context or kubeconfig is named (or
    `cluster=True`: then the kubeconfig's current context), else the local system.

    `rollout_timeout` bounds a cluster step's wait for its Deployments and `images` names the
    container images a cluster pulls (`{"voting-app": "<registry>/voting-app:0.1.0"}`); the
    local system has its own deadlines and runs the functions as processes."""
    if cluster is None:
        cluster = context is not None or kubeconfig is not None
    if cluster:
        from mesh.router.kubernetes import KubernetesRouter

        return KubernetesRouter.from_kubeconfig(
            context=context,
            kubeconfig=kubeconfig,
            namespace=namespace,
            timeout=rollout_timeout,
            images=images,
        )
    if state_dir is None:
        from mesh.local.paths import default_state_dir

        state_dir = default_state_dir()
    return LocalRouter(state_dir)
