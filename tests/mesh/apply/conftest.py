"""The fake Kubernetes API fixtures of tests/mesh/cluster, for `voting apply --context`
(defined once in tests/support/kubernetes.py)."""

from tests.support.kubernetes import cached_render, fake, kubeconfig

__all__ = ["cached_render", "fake", "kubeconfig"]  # fixtures: imported so pytest finds them
