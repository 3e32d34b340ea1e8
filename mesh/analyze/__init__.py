"""`voting analyze`: offline analysis of mesh YAML, like `istioctl analyze`.

messages   the message kinds, with Istio's codes (pkg/config/analysis/msg/messages.yaml)
analyzers  one function per check, over the typed model (mesh.model)
cli        the verb: which documents to analyze, the report, the exit status
"""
