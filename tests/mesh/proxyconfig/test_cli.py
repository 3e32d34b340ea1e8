"""The verb's errors that need no running system: nothing running, and a cluster asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from voting.cli import main


def test_no_running_system_says_so_like_the_other_verbs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--state-dir", str(tmp_path)]) == 1
    expected = capsys.readouterr().err
    assert main(["proxy-config", "ingress", "routes", "--state-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == expected
    assert "no local system is running" in expected


def test_a_cluster_is_istioctls_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["proxy-config", "voting-app", "routes", "--context", "aks", "--state-dir", str(tmp_path)]
    )
    assert code == 2
    assert "istioctl proxy-config routes voting-app -n voting" in capsys.readouterr().err
