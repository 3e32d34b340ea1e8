"""The panels redrawn from the latest snapshot: the services table, mutual TLS, history."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from observer.model import Snapshot


class SnapshotView(Widget):
    """A text panel redrawn from the latest snapshot; `text(width)` says how it reads (also
    what tests read), at `WIDTH` columns before the panel is laid out."""

    DEFAULT_CSS = "SnapshotView { height: auto; }"
    WIDTH = 48

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snapshot: Snapshot | None = None

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.refresh(layout=True)

    def render(self) -> Text:
        return self.text(self.size.width or self.WIDTH)

    def text(self, width: int = WIDTH) -> Text:
        raise NotImplementedError
