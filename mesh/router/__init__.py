"""How callers reach a mesh, whichever holds the routes (after Flagger's `pkg/router`).

- `base.py`: the `Router` Protocol, `Route`, `RouterError`: what every caller codes against.
- `routes.py`: a service's default route as data (read and rewrite a VirtualService).
- `local.py`: `LocalRouter`, over a running `voting up`'s control API.
- `kubernetes.py`: `KubernetesRouter`, through the API server (server-side apply).
- `factory.py`: `router_for`, the one place that chooses between them.
"""
