"""What Istio fields hold, shared by every kind: strict schemas, string matches, durations, hosts.

A schema is a dict of allowed keys (value: sub-schema), a one-item list (each element follows
the item schema), or LEAF (any value); `*` in a dict allows any key. `check_fields` refuses the
first key a schema does not allow (what a user applies); `prune_fields` drops it (live cluster
objects, which hold what others wrote).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import re2

from mesh.model.errors import InvalidResource, UnsupportedField

LEAF: None = None
STRING_MATCH_SCHEMA = {"exact": LEAF, "prefix": LEAF, "regex": LEAF}
META_SCHEMA = {"name": LEAF, "namespace": LEAF, "labels": LEAF, "annotations": LEAF}


def prune_fields(value: Any, schema: Any) -> Any:
    """`value` with only what the schema allows (lenient reading of live objects)."""
    if schema is LEAF:
        return value
    if isinstance(schema, list):
        return [prune_fields(item, schema[0]) for item in value] if isinstance(value, list) else []
    if not isinstance(value, dict):
        return {}
    return {
        key: prune_fields(item, schema.get(key, schema.get("*")))
        for key, item in value.items()
        if key in schema or "*" in schema
    }


def check_fields(value: Any, schema: Any, resource: str, path: str) -> None:
    """Raise UnsupportedField for the first key of `value` the schema does not allow."""
    if schema is LEAF:
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise InvalidResource(f"{resource}: {path} must be a list")
        for index, item in enumerate(value):
            check_fields(item, schema[0], resource, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        raise InvalidResource(f"{resource}: {path} must be a mapping")
    for key, item in value.items():
        if key in schema:
            check_fields(item, schema[key], resource, f"{path}.{key}" if path else key)
        elif "*" in schema:
            check_fields(item, schema["*"], resource, f"{path}.{key}")
        else:
            raise UnsupportedField(resource, f"{path}.{key}" if path else key)


@dataclass(frozen=True)
class StringMatch:
    """An Istio StringMatch: exact, prefix, regex (RE2, whole value) or `present`.

    `present` is what Istio makes of an empty match (`{}`) or the regex `*` on a header or
    query parameter (pilot/pkg/networking/core/route/route.go canBeConvertedToPresentMatch).
    """

    kind: str
    value: str

    def matches(self, text: str | None) -> bool:
        if text is None:
            return False
        if self.kind == "present":
            return True
        if self.kind == "exact":
            return text == self.value
        if self.kind == "prefix":
            return text.startswith(self.value)
        return re2.fullmatch(self.value, text) is not None

    def describe(self) -> str:
        if self.kind == "present":
            return " present"
        return {"exact": "=", "prefix": "^=", "regex": "~"}[self.kind] + self.value


def short_host(host: str) -> str:
    """`voting-app.voting.svc.cluster.local` → `voting-app` (the namespace is always ours)."""
    return host.split(".", 1)[0]


def fqdn(host: str, namespace: str) -> str:
    """A Kubernetes service host in full, as Istio resolves it in `namespace`.

    `voting-app` → `voting-app.<namespace>.svc.cluster.local`; `voting-app.voting` →
    `voting-app.voting.svc.cluster.local`; a wildcard (`*`, `*.voting.svc.cluster.local`) or
    a full name stays as it is.
    """
    if host == "*" or host.endswith(".cluster.local"):
        return host
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.svc.cluster.local"
    if len(parts) == 2:
        return f"{host}.svc.cluster.local"
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.cluster.local"
    return host


def parse_duration(value: Any, where: str) -> float:
    """Istio durations: `1.5s`, `250ms`, `1m`."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(value).strip())
    if not match:
        raise InvalidResource(f"{where}: invalid duration {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def labels(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (value or {}).items()))


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def validate_regex(text: str, where: str) -> None:
    """RE2, at most 1024 characters (pkg/config/validation/validation.go validateStringRegexp)."""
    if not text:
        raise InvalidResource(f"{where}: regex string match should not be empty")
    if len(text) > 1024:
        raise InvalidResource(f"{where}: regex is too large, max length allowed is 1024")
    try:
        re2.compile(text, _RE2_OPTIONS)
    except re2.error as exc:
        raise InvalidResource(
            f"{where}: invalid regex {text!r} ({exc}); Istio uses RE2 syntax "
            "(https://github.com/google/re2/wiki/Syntax)"
        ) from exc


def string_match(value: Any, where: str, presence: bool = False) -> StringMatch:
    """An Istio StringMatch; `presence`: an empty one (or regex `*`) means "is present"."""
    value = value or {}
    if not isinstance(value, dict):
        raise InvalidResource(f"{where}: a string match is a mapping (exact, prefix or regex)")
    if presence and (not value or value == {"regex": "*"}):
        return StringMatch("present", "")
    if len(value) != 1:
        raise InvalidResource(f"{where}: exactly one of exact, prefix, regex")
    kind, text = next(iter(value.items()))
    if kind == "regex":
        validate_regex(str(text), where)
    return StringMatch(kind, str(text))


def named_matches(
    value: Any, where: str, lower: bool = True
) -> tuple[tuple[str, StringMatch], ...]:
    """Headers / query parameters: sorted by name as route.go orders them."""
    return tuple(
        sorted(
            (
                (key.lower() if lower else key),
                string_match(match, f"{where}.{key}", presence=True),
            )
            for key, match in (value or {}).items()
        )
    )
