"""The one interface every data source of the dashboard implements.

The boundary it draws: a source knows where the mesh's control plane, Prometheus and ingress
are and how to talk to them; it never knows about widgets, refresh timing or backoff (the
app decides those). Three reads are independent so that one failing never blanks the others:

- ``state()`` raises ``SourceUnavailable`` when the control plane cannot be read;
- ``metrics()`` and ``votes()`` never raise: their result carries a state
  ("up", "unreachable", "error", "unconfigured") and a human-readable detail.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from observer.model import MeshState, Metrics, Votes


@runtime_checkable
class ObserverSource(Protocol):
    """A running voting mesh, seen from the observer."""

    kind: str
    """"local" or "cluster": shown in the title and the JSON snapshot."""

    @property
    def label(self) -> str:
        """Where this source looks, for the status line (e.g. "local /tmp/voting")."""
        ...

    @property
    def ingress_url(self) -> str | None:
        """The URL users (and demo traffic) reach the voting app at, if known."""
        ...

    async def state(self) -> MeshState:
        """Routes, mTLS policies, replicas, step and events in force now."""
        ...

    async def metrics(self) -> Metrics:
        """One round of observed metrics; a failed round is a state, not an exception."""
        ...

    async def votes(self) -> Votes:
        """Vote counts as users with and without the feature flag see them."""
        ...

    async def apply_step(self, step: int) -> MeshState:
        """Apply rollout step 1-5; raise ``StepNotApplied`` with the reason if refused."""
        ...

    async def aclose(self) -> None:
        """Release sessions and clients."""
        ...
