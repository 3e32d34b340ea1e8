"""`voting rollout` on bad input and without a system: one line saying why, nothing changed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mesh.rollout_lease import RUNNING, CommandRefused, check_command
from voting.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["rollout", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_invalid_spec_is_refused_naming_the_key_before_anything_is_contacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("stepWeights: [10, 50]\nwebhooks:\n  - {name: smoke, url: ftp://x/}\n")
    code, _, err = run(capsys, "--spec", str(spec), "--state-dir", str(tmp_path))
    assert code == 1
    assert err.strip() == (
        "voting: rollout: webhooks[0] (smoke).url: an http(s) URL with a host, got 'ftp://x/'"
    )


@pytest.mark.parametrize("verb", ["pause", "resume", "promote", "abort", "confirm", "status"])
def test_a_verb_without_a_running_system_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    code, _, err = run(capsys, verb, "--state-dir", str(tmp_path))
    assert code == 1 and "no local system is running" in err and "voting up" in err


def test_a_verb_against_a_cluster_it_cannot_reach_says_why_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    code, _, err = run(capsys, "pause", "--kubeconfig", str(kubeconfig), "--context", "aks")
    assert code == 1 and err.count("\n") == 1
    assert (
        err.startswith("voting: rollout pause: kubeconfig ") and "cannot use context 'aks'" in err
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pause", "--spec", "x.yaml"], "takes no --spec"),
        (["--watch"], "--watch goes with `status`"),
    ],
)
def test_verbs_and_flags_that_do_not_go_together_are_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


def running(**extra: object) -> dict[str, object]:
    return {"state": RUNNING, "lease_expires_at": 4e9, **extra}


@pytest.mark.parametrize(
    ("progress", "verb", "why"),
    [
        (None, "pause", "no rollout to pause"),
        ({"state": "promoted"}, "abort", "nothing to abort: the rollout has ended (promoted)"),
        (running(paused=True), "pause", "paused already"),
        (running(), "resume", "not paused"),
        (running(phase={"kind": "weight"}), "confirm", "not waiting at a confirm gate"),
        ({"state": RUNNING, "lease_expires_at": 1.0}, "pause", "controller is lost"),
        (running(), "skip", "unknown verb 'skip'"),
    ],
)
def test_a_command_that_does_not_apply_now_is_refused_with_why(
    progress: dict | None, verb: str, why: str
) -> None:
    with pytest.raises(CommandRefused, match=re.escape(why)):
        check_command(progress, verb)


def test_commands_that_apply_are_accepted() -> None:
    check_command(running(), "pause")
    check_command(running(paused=True), "resume")
    check_command(running(phase={"kind": "confirm"}), "confirm")
    check_command(running(), "abort")
    check_command(running(), "promote")
