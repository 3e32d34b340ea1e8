"""The event log: steps applied, routes changed, sources lost and found, errors."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

from observer.model import Event

ERROR_WORDS = ("fail", "error", "unreachable", "refused", "rejected")


class EventLog(RichLog):
    """Appends events it has not shown yet, oldest first, errors in red."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=500, wrap=False, markup=False, auto_scroll=True)
        self._seen: set[tuple[float, str]] = set()
        self.messages: list[str] = []

    def add_events(self, events: Iterable[Event]) -> None:
        for event in sorted(events, key=lambda e: e.time):
            key = (round(event.time, 3), event.message)
            if key in self._seen:
                continue
            self._seen.add(key)
            self.messages.append(event.message)
            stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
            style = "red" if any(w in event.message.lower() for w in ERROR_WORDS) else ""
            line = Text(f"{stamp} ", style="dim")
            line.append(event.message, style=style)
            self.write(line, scroll_end=True)
