"""Rollout webhooks: HTTP POSTs at each phase, with Flagger's payload (pkg/controller/webhook.go).

    webhooks:
      - {name: smoke, type: pre-rollout, url: http://127.0.0.1:9000/smoke, timeout: 5s}
      - {name: approve, type: confirm-promotion, url: http://127.0.0.1:9000/gate}
      - {name: hold, type: confirm-promotion}     # no url: waits for `voting rollout confirm`
      - {name: load, type: rollout, url: http://127.0.0.1:9000/load, metadata: {cmd: "..."}}

Types and what a non-2xx answer (or a timeout, or no answer) does, as in Flagger:

    confirm-rollout            before anything starts: wait until it answers 2xx
    pre-rollout                once 2.0 is deployed (step 4), before any weight moves:
                               abort, and put back the step that was in force before
    rollout                    as each interval starts; judged with its metrics: one failed
                               check
    confirm-traffic-increase   before each weight after the first: wait until 2xx
    confirm-promotion          after the last step, before promoting: wait until 2xx
    post-rollout               after promotion or rollback: logged, nothing else
    rollback                   each interval while progressing or waiting: 2xx rolls back

A `confirm-*` gate also opens with `voting rollout confirm` (the event log says who and when);
without a `url` it waits for that only. Payload: ``{"name", "namespace", "phase", "type",
"metadata"}`` with Flagger's phase names (Progressing, Waiting, WaitingPromotion, Promoting,
Succeeded, Failed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from mesh.model.fields import parse_duration
from rollout.errors import WebhookError

TYPES = (
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
)
CONFIRM_TYPES = ("confirm-rollout", "confirm-traffic-increase", "confirm-promotion")
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Webhook:
    name: str
    type: str = "rollout"
    url: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    metadata: tuple[tuple[str, str], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "timeout": f"{self.timeout:g}s",
        }
        if self.url:
            data["url"] = self.url
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        return data


def parse_webhook(data: Any, where: str) -> Webhook:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise WebhookError(f"{where}: a webhook needs a name")
    name = data["name"]
    unknown = sorted(set(data) - {"name", "type", "url", "timeout", "metadata"})
    if unknown:
        raise WebhookError(f"{where} ({name}): unknown key {unknown[0]!r}")
    kind = data.get("type", "rollout")
    if kind not in TYPES:
        raise WebhookError(f"{where} ({name}).type: {kind!r} is not one of {', '.join(TYPES)}")
    url = data.get("url")
    if url is None and kind not in CONFIRM_TYPES:
        raise WebhookError(f"{where} ({name}).url: a {kind} webhook needs a url")
    if url is not None:
        try:
            parts = urlsplit(str(url))
            host = parts.hostname
        except ValueError:  # e.g. an unclosed [IPv6 literal
            host = None
        if host is None or parts.scheme not in ("http", "https"):
            raise WebhookError(f"{where} ({name}).url: an http(s) URL with a host, got {url!r}")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise WebhookError(f"{where} ({name}).metadata: a mapping of strings")
    timeout = parse_duration(
        data.get("timeout", f"{DEFAULT_TIMEOUT_S:g}s"), f"{where} ({name}).timeout"
    )
    if timeout <= 0:  # aiohttp reads 0 as "no timeout": a hook that never answers would hang
        raise WebhookError(f"{where} ({name}).timeout: a duration above 0")
    return Webhook(
        name=name,
        type=kind,
        url=str(url) if url is not None else None,
        timeout=timeout,
        metadata=tuple((str(k), str(v)) for k, v in metadata.items()),
    )


@dataclass(frozen=True)
class HookResult:
    name: str
    ok: bool
    detail: str


async def call(hook: Webhook, payload: dict[str, Any]) -> HookResult:
    """POST the payload; ok on a 2xx within the timeout, otherwise why not (never raises)."""
    if hook.url is None:
        return HookResult(hook.name, False, "waits for `voting rollout confirm`")
    body = {**payload, "type": hook.type, "metadata": dict(hook.metadata)}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=hook.timeout)) as session,
            session.post(hook.url, json=body) as response,
        ):
            text = (await response.text(errors="replace")).strip()
            if 200 <= response.status < 300:
                return HookResult(hook.name, True, f"HTTP {response.status}")
            return HookResult(hook.name, False, f"HTTP {response.status} {text[:120]}".strip())
    except TimeoutError:
        return HookResult(hook.name, False, f"timed out after {hook.timeout:g}s")
    except (aiohttp.ClientError, OSError) as exc:
        return HookResult(hook.name, False, f"no answer: {exc}")


async def call_all(hooks: list[Webhook], payload: dict[str, Any]) -> list[HookResult]:
    return list(await asyncio.gather(*(call(h, payload) for h in hooks)))
