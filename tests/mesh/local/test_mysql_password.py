"""The MySQL password reaches `voting up` from a file or the environment, never from argv."""

from __future__ import annotations

from pathlib import Path

from mesh.local.up import mysql_password
from voting.cli import main


def test_the_password_comes_from_a_file_first_line(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\nignored\n")
    assert mysql_password(secret, {"MYSQL_PASSWORD": "from-env"}) == "s3cret"


def test_without_a_file_the_password_comes_from_the_environment() -> None:
    assert mysql_password(None, {"MYSQL_PASSWORD": "from-env"}) == "from-env"
    assert mysql_password(None, {}) == ""


def test_a_password_on_the_command_line_is_refused_before_anything_starts(
    tmp_path: Path, capsys
) -> None:
    code = main(["up", "--state-dir", str(tmp_path / "state"), "--mysql-password", "pw"])
    assert code == 1
    assert "MYSQL_PASSWORD" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()
