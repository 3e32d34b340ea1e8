"""Istio telemetry, read: shared by the dashboard (`observer/`) and the canary gates (`rollout/`).

- `queries.py`: the PromQL, as named templates over Istio's standard metrics and labels.
- `prometheus.py`: the async Prometheus client that runs them, with a deadline per request.
- `errors.py`: the error tree ("Prometheus unreachable" apart from "query refused").
"""
