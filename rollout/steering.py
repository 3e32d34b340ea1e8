"""What a running rollout obeys while it waits: pause, resume, confirm, promote, abort.

The verbs (`voting rollout VERB`, the dashboard's keys) are queued by the running system
(`mesh.local.control`, refused there when they do not apply) and taken here about once a
second while the controller waits out an interval or a gate. A pause stops the interval's
clock (nothing is judged, the routes stay); promote and abort end the loop at once by
raising `Stop`, which the controller turns into a promotion or a rollback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Commands = Callable[[], Awaitable[list[dict[str, Any]]]]

POLL_S = 1.0  # how often a waiting controller looks for commands


class Stop(Exception):
    """A command that ends the loop: promote now, or abort."""

    def __init__(self, verb: str, by: str) -> None:
        super().__init__(verb)
        self.verb, self.by = verb, by


class Steering:
    """One rollout's commands, applied to its outcome (`paused`, `phase`) as they arrive.

    `say(message, log)` reports (log: into the rollout's event log, who and when) and
    `publish()` reports the progress after a change."""

    def __init__(
        self,
        commands: Commands | None,
        outcome: Any,
        say: Callable[[str, bool], None],
        publish: Callable[[], Awaitable[None]],
    ) -> None:
        self.commands = commands
        self.outcome = outcome
        self.say = say
        self.publish = publish
        self.confirmed: str | None = None  # who confirmed the gate being waited on

    async def wait(self, seconds: float) -> None:
        """Sleep `seconds` of unpaused time, acting on commands about once a second; return
        early when the gate being waited on is confirmed (a confirmation waits out a pause)."""
        remaining = seconds
        await self.take()  # at least once, however short the wait
        while remaining > 0 or self.outcome.paused:
            if self.confirmed and not self.outcome.paused:
                return
            nap = POLL_S if self.outcome.paused else min(POLL_S, remaining)
            await asyncio.sleep(nap)
            if not self.outcome.paused:
                remaining -= nap
            await self.take()

    async def take(self) -> None:
        if self.commands is None:
            return
        try:
            commands = await self.commands()
        except Exception as exc:  # a control API hiccup must not stop a rollout
            self.say(f"could not read commands: {exc}", False)
            return
        for command in commands:
            verb, by = str(command.get("verb")), str(command.get("by") or "someone")
            if verb == "pause" and not self.outcome.paused:
                self.outcome.paused = True
                self.say(f"paused by {by}", True)
            elif verb == "resume" and self.outcome.paused:
                self.outcome.paused = False
                self.say(f"resumed by {by}", True)
            elif verb == "confirm" and self.outcome.phase.get("kind") == "confirm":
                self.confirmed = by
            elif verb in ("promote", "abort"):
                raise Stop(verb, by)
            else:
                self.say(f"ignored {verb} from {by}: it does not apply now", False)
                continue
            await self.publish()
