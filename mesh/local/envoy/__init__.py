"""Compile Istio resources into Envoy configuration, per proxy, the way istiod does.

common    type URLs, names, MeshView/ProxyConfig, the small builders every proxy shares
outbound  VirtualService rules → route table and clusters (sidecar outbound, gateway)
inbound   PeerAuthentication → inbound filter chains (mTLS / plaintext) and local clusters
rbac      AuthorizationPolicy → RBAC filter
faults    fault injection (delay filter, counted abort clusters)
retries   retry policy (Istio's default and VirtualService `retries`)
proxies   whole sidecars and the ingress gateway
"""

from mesh.local.envoy.common import MeshView, ProxyConfig, version_tag
from mesh.local.envoy.proxies import compile_ingress, compile_sidecar

__all__ = ["MeshView", "ProxyConfig", "compile_ingress", "compile_sidecar", "version_tag"]
