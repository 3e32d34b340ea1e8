"""The rolled-out service's `http` rules for each phase (after Flagger's pkg/router/istio.go).

The rules of the step in force are the base: the ones before its default route (in step 4
the `featureflag=on` cookie rule) are kept as they are and come first; the rollout owns the
default route and the rules it adds (named `rollout-*`, so a later phase, or a resumed
controller, replaces them instead of stacking them):

    weight w     default: primary 100-w, canary w
      + sessionAffinity: the canary's destination sets `<cookieName>=<value>; Max-Age=N`
        on its responses and a `rollout-sticky` rule matching that cookie comes before
        the default route: a user who reached the canary stays there (Flagger's Istio router does the same)
    A/B          `rollout-ab`: the spec's `match` -> canary 100; default: primary 100
    mirror m     default: primary 100, `mirror` canary with `mirrorPercentage` m
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from rollout.spec import RolloutSpec

MIRROR, AB, WEIGHT = "mirror", "ab", "weight"
ROLLOUT_RULE_PREFIX = "rollout-"
_ROLLOUT_FIELDS = ("mirror", "mirrorPercentage", "mirrorPercent", "mirrors")
_SHARED_FIELDS = ("timeout", "retries", "headers", "corsPolicy")


@dataclass(frozen=True)
class Phase:
    """One stage of the plan: a mirror, an A/B iteration or a weight step."""

    kind: str
    weight: int = 0  # the canary's share of user traffic (0 while mirroring or in A/B)
    iteration: int = 0  # A/B: which iteration (1-based)

    def describe(self, spec: RolloutSpec) -> str:
        if self.kind == MIRROR:
            return f"mirror {spec.mirror_weight}% of traffic to {spec.canary} (answers dropped)"
        if self.kind == AB:
            return (
                f"A/B iteration {self.iteration}/{spec.iterations}: matching users to {spec.canary}"
            )
        return f"weight {self.weight}% to {spec.canary} ({100 - self.weight}% {spec.primary})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "weight": self.weight, "iteration": self.iteration}


def plan(spec: RolloutSpec) -> list[Phase]:
    """Every phase a rollout runs, in order (each is judged once it passes)."""
    phases = [Phase(MIRROR)] if spec.mirror else []
    if spec.ab_testing:
        phases += [Phase(AB, iteration=i) for i in range(1, spec.iterations + 1)]
    else:
        phases += [Phase(WEIGHT, weight=w) for w in spec.weights]
    return phases


def sticky_cookie_regex(name: str, value: str) -> str:
    """Flagger's cookie match (the pair anywhere in the Cookie header), allowing the space
    browsers put after `;` as step 4's featureflag rule does."""
    return rf"^(.*?; ?)?({re.escape(name)}={re.escape(value)})(;.*)?$"


def phase_rules(
    base: list[dict[str, Any]], spec: RolloutSpec, phase: Phase, cookie_value: str = ""
) -> list[dict[str, Any]]:
    """The `http` rules that put `phase` in force, from the rules of the step in force."""
    kept = [
        copy.deepcopy(r)
        for r in base[:-1]
        if not str(r.get("name", "")).startswith(ROLLOUT_RULE_PREFIX)
    ]
    default = {k: v for k, v in copy.deepcopy(base[-1]).items() if k not in _ROLLOUT_FIELDS}
    port = next(
        (
            (r.get("destination") or {}).get("port")
            for r in default.get("route") or []
            if (r.get("destination") or {}).get("port")
        ),
        None,
    )

    def destination(subset: str, weight: int) -> dict[str, Any]:
        dest: dict[str, Any] = {"host": spec.service, "subset": subset}
        if port is not None:
            dest["port"] = copy.deepcopy(port)
        return {"destination": dest, "weight": weight}

    added: list[dict[str, Any]] = []
    # what the default route does besides routing goes on the rules the rollout adds too,
    # as Flagger sets a canary's timeout, retries, headers and CORS on every route it writes
    shared = {k: copy.deepcopy(default[k]) for k in _SHARED_FIELDS if k in default}
    if phase.kind == MIRROR:
        default["route"] = [destination(spec.primary, 100)]
        default["mirror"] = destination(spec.canary, 0)["destination"]
        default["mirrorPercentage"] = {"value": float(spec.mirror_weight)}
    elif phase.kind == AB:
        added.append(
            {
                "name": f"{ROLLOUT_RULE_PREFIX}ab",
                "match": copy.deepcopy(list(spec.match)),
                "route": [destination(spec.canary, 100)],
                **shared,
            }
        )
        default["route"] = [destination(spec.primary, 100)]
    else:
        canary = destination(spec.canary, phase.weight)
        affinity = spec.session_affinity
        if affinity is not None and phase.weight > 0:
            cookie = f"{affinity.cookie_name}={cookie_value}; Max-Age={affinity.max_age}"
            canary["headers"] = {"response": {"add": {"Set-Cookie": cookie}}}
            regex = sticky_cookie_regex(affinity.cookie_name, cookie_value)
            added.append(
                {
                    "name": f"{ROLLOUT_RULE_PREFIX}sticky",
                    "match": [{"headers": {"cookie": {"regex": regex}}}],
                    "route": [destination(spec.canary, 100)],
                    **shared,
                }
            )
        default["route"] = [destination(spec.primary, 100 - phase.weight), canary]
    return [*kept, *added, default]
