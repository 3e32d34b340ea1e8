"""The names the whole project shares: the three apps, the function each runs, and their
versions. The one place they are written (the rollout steps live in mesh/steps.py); `functions`
imports nothing of the project, so every package can import this::

    service (Kubernetes Service, `app` label)   function   versions
    voting-app                                  vote       1.0, 2.0
    voting-analytics                            results    1.0, 1.1, 2.0
    voting-storage                              storage    1.0 (Redis), 2.0 (MySQL)
"""

from __future__ import annotations

APP_FUNCTIONS: dict[str, str] = {
    "voting-app": "vote",
    "voting-analytics": "results",
    "voting-storage": "storage",
}
"""Each app (its Service and `app` label) and the function its pods run."""

FUNCTION_APPS: dict[str, str] = {function: app for app, function in APP_FUNCTIONS.items()}

SERVICES: tuple[str, ...] = tuple(APP_FUNCTIONS)
"""The apps in call order: the browser's vote page calls analytics, which calls storage."""

FUNCTIONS: tuple[str, ...] = tuple(APP_FUNCTIONS.values())

VERSIONS: dict[str, tuple[str, ...]] = {
    "voting-app": ("1.0", "2.0"),
    "voting-analytics": ("1.0", "1.1", "2.0"),
    "voting-storage": ("1.0", "2.0"),
}
