"""A rollout's progress and its verbs on a cluster: two ConfigMaps in the rollout's namespace.

On the local system the running `voting up` holds a rollout's progress and queues its verbs
(mesh/local/control.py). A cluster has no such process, so `voting rollout --context` keeps
them where any terminal with the kubeconfig can reach them (as Flagger keeps a canary's
status in its Canary object)::

    voting-rollout-progress   data.progress: the controller's progress JSON (rollout/progress.py),
                              written by the controller only, so status, the dashboard,
                              `--resume` and `--rollback` read it from anywhere
    voting-rollout-commands   data.commands: the verbs asked for, a JSON list of
                              {"seq", "verb", "by", "time"}, written by `voting rollout VERB`;
                              a controller acts on each one sent since it started, once

Each ConfigMap is written whole by one writer (server-side apply), so the two never race;
two verbs sent in the same instant may keep only one (the other CLI then says the controller
did not act). Neither carries the `managed-by` label, so `voting step` never prunes them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mesh.cluster import kinds as k
from mesh.cluster.api import KubeApi
from mesh.cluster.errors import NotFound
from mesh.rollout_lease import check_command, observe

PROGRESS = "voting-rollout-progress"
COMMANDS = "voting-rollout-commands"
KEEP_COMMANDS = 20


class RolloutChannel:
    """One namespace's rollout ConfigMaps."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self._seen = 0  # the last command seq this controller acted on
        self._since = time.time()  # older commands were for an earlier controller

    async def _read(self, name: str, key: str) -> Any:
        try:
            found = await self.api.get(k.CONFIG_MAP, name, self.namespace)
        except NotFound:  # no namespace yet: no rollout either
            return None
        raw = ((found or {}).get("data") or {}).get(key)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None  # written by hand, or cut short: read as nothing

    async def _write(self, name: str, key: str, value: Any) -> None:
        await self.api.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": self.namespace,
                    "labels": {k.PART_OF: k.PROJECT, "app.kubernetes.io/component": "rollout"},
                },
                "data": {key: json.dumps(value)},
            },
            force=True,
        )

    async def progress(self) -> dict[str, Any] | None:
        """The progress as a reader should show it (a lapsed lease reads controller-lost)."""
        progress = await self._read(PROGRESS, "progress")
        return observe(progress) if isinstance(progress, dict) else None

    async def report(self, progress: dict[str, Any]) -> None:
        await self._write(PROGRESS, "progress", progress)

    async def _commands(self) -> list[dict[str, Any]]:
        commands = await self._read(COMMANDS, "commands")
        return [c for c in commands or () if isinstance(c, dict) and isinstance(c.get("seq"), int)]

    async def take_commands(self) -> list[dict[str, Any]]:
        """The verbs asked for since the last call and since this controller started."""
        fresh = [
            c
            for c in await self._commands()
            if c["seq"] > self._seen and float(c.get("time") or 0) >= self._since
        ]
        self._seen = max([self._seen, *(c["seq"] for c in fresh)])
        return sorted(fresh, key=lambda c: c["seq"])

    async def send(self, verb: str, by: str) -> None:
        """Ask the controller for `verb`; refused (CommandRefused) when it does not apply."""
        check_command(await self.progress(), verb)
        commands = await self._commands()
        seq = max((c["seq"] for c in commands), default=0) + 1
        commands.append({"seq": seq, "verb": verb, "by": by, "time": time.time()})
        await self._write(COMMANDS, "commands", commands[-KEEP_COMMANDS:])
