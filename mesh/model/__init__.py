"""One typed model of the Kubernetes and Istio objects the mesh acts on.

`resources` parses applied documents strictly (an unknown field or kind is an error naming
it); `policy` computes Istio's rules on that model (which PeerAuthentication is in force for a
workload, the TLS a client uses, which VirtualService rules apply to a proxy), once, for the
local compiler, the local status and tls-check alike.
"""
