"""The fake Kubernetes API fixtures of tests/mesh/cluster, for `voting apply --context`."""

from tests.mesh.cluster.conftest import cached_render, fake, kubeconfig

__all__ = ["cached_render", "fake", "kubeconfig"]
