"""Vote counts per storage backend, as users with and without the feature flag see them."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from observer.format import fit
from observer.model import VoteReading, Votes


def _counts(reading: VoteReading) -> str:
    if not reading.counts:
        return reading.text or "-"
    return " · ".join(f"{name} {count}" for name, count in reading.counts)


def votes_text(votes: Votes | None, width: int = 48) -> Text:
    """One line per storage backend: who is served from it and the counts they see."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if votes is None:
        out.append("waiting for the first reading…", style="dim")
        return out
    if votes.state != "up":
        out.append(votes.detail or votes.state, style="bold yellow")
        return out
    stores: dict[tuple[str | None, str | None], list[VoteReading]] = {}
    for reading in votes.readings:
        if reading.error:
            out.append(f"{reading.audience}: {reading.error}\n", style="yellow")
            continue
        stores.setdefault((reading.store, reading.store_version), []).append(reading)
    out.append(fit("STORE", 10) + " " + fit("USERS → APP", 22) + " COUNTS\n", style="bold dim")
    for (store, version), readings in stores.items():
        who = "everyone" if len(readings) == len(votes.readings) > 1 else readings[0].audience
        apps = ",".join(sorted({r.app_version or "?" for r in readings}))
        out.append(fit(f"{store or '?'} {version or ''}", 10) + " ", style="bold")
        out.append(fit(f"{who} → {apps}", 22) + " ")
        out.append(_counts(readings[0]) + "\n")
    out.rstrip()
    return out


class VotesPanel(Widget):
    """Redis stack vs MySQL stack: at the canary step the two groups see different counts."""

    DEFAULT_CSS = "VotesPanel { height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.votes: Votes | None = None

    def show(self, votes: Votes) -> None:
        self.votes = votes
        self.refresh(layout=True)

    def render(self) -> Text:
        return self.text(self.size.width or 48)

    def text(self, width: int = 48) -> Text:
        return votes_text(self.votes, width)
