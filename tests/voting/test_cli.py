"""`voting up --rollout-spec`: read before anything starts; handed to the dashboard it opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from voting import cli


def test_an_invalid_rollout_spec_stops_voting_up_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr("mesh.local.cli.cmd_up", lambda args: started.append(args) or 0)
    spec = tmp_path / "spec.yaml"
    spec.write_text("stepWeights: [50, 10]\n")
    code = cli.main(["up", "--rollout-spec", str(spec), "--state-dir", str(tmp_path)])
    assert code == 2 and started == []
    assert "voting: up: --rollout-spec: stepWeights: rising whole percentages" in (
        capsys.readouterr().err
    )


def test_a_valid_rollout_spec_reaches_the_dashboard_voting_up_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("iterations: 2\nmatch: [{headers: {x-canary: {exact: insider}}}]\n")
    args = cli.build_parser().parse_args(["up", "--rollout-spec", str(spec)])
    assert cli._with_rollout_spec(args) is None
    opened: list[object] = []

    async def dashboard(state_dir: Path, rollout_spec: object = None) -> None:
        opened.append(rollout_spec)

    monkeypatch.setattr("observer.app.run_local_dashboard", dashboard)
    import asyncio

    asyncio.run(args.dashboard(tmp_path))
    assert [getattr(s, "iterations", None) for s in opened] == [2]
