"""What commands tell an operator, run as the operator runs them: each problem named where it is fixed
(the environment variable that holds a bad value, a SQLite file rather than a server), and no warning
about a setting that does not matter where the emails go."""

from __future__ import annotations

from pathlib import Path

import pytest
from smtp_sink import SmtpSink
from test_cli import digest


@pytest.fixture
def folders(tmp_path: Path) -> list[str]:
    (tmp_path / "pages").mkdir()
    return ["--source", "pages", "--data", "data", "--output", "out"]


@pytest.mark.slow
def test_a_bad_environment_value_names_the_variable_to_fix(tmp_path: Path, folders: list[str]) -> None:
    """Before: ``server.port: expected a whole number, got 'eighty'; write e.g. port = 8080``, sending
    the operator to a config file that has no such line."""
    result = digest("check", *folders, cwd=tmp_path, env={"DIGEST_SERVER_PORT": "eighty"})
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "error: DIGEST_SERVER_PORT: expected a whole number, got 'eighty'; set e.g. DIGEST_SERVER_PORT=8080"
    )
    # The same value in the file is told in the file's words.
    (tmp_path / "config.toml").write_text("[server]\nport = 'eighty'\n")
    result = digest("check", *folders, cwd=tmp_path)
    assert (
        "error: server.port: expected a whole number, got 'eighty'; write e.g. port = 8080" in result.stderr
    )


@pytest.mark.slow
def test_a_local_sender_is_warned_of_only_when_emails_go_to_a_mail_server(
    tmp_path: Path, folders: list[str]
) -> None:
    """Before: ``digest check`` warned of ``digest@localhost`` with no ``smtp.host``, where the emails
    are files in the outbox folder that no receiver ever judges."""
    outbox = digest("check", *folders, cwd=tmp_path)
    assert outbox.returncode == 0, outbox.stderr
    assert "smtp.sender" not in outbox.stderr
    with SmtpSink() as sink:
        mailed = digest(
            "check",
            *folders,
            cwd=tmp_path,
            env={
                "DIGEST_SMTP_HOST": sink.host,
                "DIGEST_SMTP_PORT": str(sink.port),
                "DIGEST_SMTP_SECURITY": "none",
            },
        )
    assert mailed.returncode == 0, mailed.stderr
    assert "warning: smtp.sender: '报纸摘要 <digest@localhost>' is a local address" in mailed.stderr


@pytest.mark.slow
def test_a_sqlite_error_names_the_file_not_a_server(tmp_path: Path, folders: list[str]) -> None:
    """Before: ``file is not a database; check that the server is running, ...``: SQLite has none."""
    (tmp_path / "notes.db").write_text("some notes, not a database\n")
    url = f"sqlite:///{tmp_path / 'notes.db'}"
    result = digest("ingest", *folders, cwd=tmp_path, env={"DIGEST_DATABASE_URL": url})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: database {url}: file is not a database; check the URL's path, that the file is a SQLite"
        " database and that this user can write it and its folder"
    )
