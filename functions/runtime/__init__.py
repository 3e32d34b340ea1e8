"""The shared "serverless" host every function runs on.

A function is a handful of aiohttp views plus a settings dataclass; this package gives
it the rest: an app factory with health, readiness and metrics routes, JSON logs that
carry the request id, one error middleware, and a deadline-bound outbound HTTP session.
"""
