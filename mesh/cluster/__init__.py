"""The rollout verbs against a Kubernetes cluster with Istio (`voting cluster ...`).

kinds.py    the kinds a step holds and their REST paths, our labels
api.py      the REST calls over kubernetes-asyncio, errors translated in one place
router.py   KubernetesRouter: apply / wait / prune a step, status, default-route weights
status.py   objects read from the API -> the `LocalMesh.status()` shape, tls-check rows
cli.py      `voting cluster step|status|tls-check`, and run_* for `voting step --context`
errors.py   the error tree
"""
