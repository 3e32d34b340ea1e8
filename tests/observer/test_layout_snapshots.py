"""Layout snapshots (pytest-textual-snapshot) of the dashboard fed by a fixed fake source.

Only the layout is under test here: the fake gives the same canary-step reading every time.
Update after a deliberate change with `pytest tests/observer/test_layout_snapshots.py
--snapshot-update`, and look at the SVGs under `__snapshots__/` before committing them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from observer.app import ObserverApp
from observer.model import Metrics
from tests.observer.fakes import ROLLOUT_ROLLED_BACK, ROLLOUT_RUNNING, FixedSource


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Event times render in local time: pin it."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def settled(pilot: Pilot[None]) -> None:
    """Wait until the first reads are in and drawn."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def app(metrics: Metrics | None = None, rollout: dict[str, Any] | None = None) -> ObserverApp:
    source = FixedSource(rollout=rollout) if metrics is None else FixedSource(metrics, rollout)
    return ObserverApp(source, refresh_s=3600)


class TestLayout:
    def test_the_canary_step_fits_an_80_by_24_terminal(self, snap_compare) -> None:
        assert snap_compare(app(), terminal_size=(80, 24), run_before=settled)

    def test_the_canary_step_on_a_160_by_48_terminal_shows_every_panel(self, snap_compare) -> None:
        assert snap_compare(app(), terminal_size=(160, 48), run_before=settled)

    def test_prometheus_unreachable_is_said_and_numbers_are_blank_not_zero(
        self, snap_compare
    ) -> None:
        down = Metrics.unavailable(
            "unreachable",
            "Prometheus unreachable: http://127.0.0.1:9090 (ClientConnectorError: connection refused)",
        )
        assert snap_compare(app(down), terminal_size=(80, 24), run_before=settled)

    def test_the_help_screen_fits_an_80_by_24_terminal(self, snap_compare) -> None:
        async def help_open(pilot: Pilot[None]) -> None:
            await settled(pilot)
            await pilot.press("question_mark")
            await pilot.pause()

        assert snap_compare(app(), terminal_size=(80, 24), run_before=help_open)


class TestRolloutLayout:
    def test_a_running_rollout_leads_the_80_by_24_terminal(self, snap_compare) -> None:
        assert snap_compare(
            app(rollout=ROLLOUT_RUNNING), terminal_size=(80, 24), run_before=settled
        )

    def test_a_rolled_back_rollout_on_160_by_48_sits_above_the_services(self, snap_compare) -> None:
        assert snap_compare(
            app(rollout=ROLLOUT_ROLLED_BACK), terminal_size=(160, 48), run_before=settled
        )
