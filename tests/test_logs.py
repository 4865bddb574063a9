"""Logs as an operator reads them (a terminal, journald, a log shipper) and the CLI's small manners.

The formats are checked on the real command's stderr where a command can
produce the record (a skipped page); records a command cannot be made to
write on cue (a traceback, an address) go through ``configure`` itself.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from test_cli import EXAMPLES, digest

from digest.logs import LogFormat, configure, redact
from digest.mail.tokens import Purpose, sign


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def bad_page(tmp_path: Path) -> list[str]:
    """Options for a source folder holding one binary file, which ingest skips with a warning."""
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "binary.txt").write_bytes(bytes(range(256)) * 4)
    return ["--source", str(pages), "--data", str(tmp_path / "data"), "--output", str(tmp_path / "out")]


def test_json_format_writes_one_object_per_line(tmp_path: Path, bad_page: list[str]) -> None:
    result = digest("ingest", *bad_page, "--log-format", "json", cwd=tmp_path)
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(r["level"], r["logger"]) for r in records] == [("warning", "digest.ingest.pipeline")]
    assert "binary.txt" in records[0]["message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", records[0]["time"])


def test_the_config_file_can_choose_the_format(tmp_path: Path, bad_page: list[str]) -> None:
    (tmp_path / "config.toml").write_text('[logging]\nformat = "json"\n')
    result = digest("ingest", *bad_page, cwd=tmp_path)
    assert json.loads(result.stderr)["level"] == "warning"
    (tmp_path / "config.toml").write_text('[logging]\nformat = "xml"\n')
    bad = digest("ingest", *bad_page, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: logging.format: 'xml' is not a choice")


def _stderr_on_pipe(args: list[str], cwd: Path, journal: bool) -> str:
    """Run the CLI with stderr on a pipe, announced as the journal stream when ``journal``."""
    read, write = os.pipe()
    stat = os.fstat(write)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_") and k != "JOURNAL_STREAM"}
    if journal:
        env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
    process = subprocess.Popen(
        [sys.executable, "-m", "digest.cli", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=write
    )
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as stream:
        text = stream.read()
    process.wait(60)
    return text


def test_under_systemd_records_carry_a_priority_and_no_timestamp(tmp_path: Path, bad_page: list[str]) -> None:
    journal = _stderr_on_pipe(["ingest", *bad_page], tmp_path, journal=True)
    assert re.fullmatch(r"<4>digest\.ingest\.pipeline: skipped page binary\.txt: [^\n]+\n", journal), journal
    # A fresh database: a skipped page is reported once, not on every run.
    terminal = _stderr_on_pipe(
        ["ingest", *bad_page, "--data", str(tmp_path / "data2")], tmp_path, journal=False
    )
    # Elsewhere: an ISO 8601 time with its UTC offset, so a reader in another zone is not misled.
    stamp = r"\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d"
    assert re.match(stamp + r" WARNING digest\.ingest\.pipeline: skipped page", terminal)


def test_a_traceback_stays_one_record_in_the_journal_and_json(restore_logging: None) -> None:
    for form in (LogFormat.JOURNAL, LogFormat.JSON):
        stream = io.StringIO()
        configure("info", form, stream, environ={})
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logging.getLogger("digest.test").exception("publish failed")
        lines = stream.getvalue().splitlines()
        assert len(lines) == 1, lines
        if form is LogFormat.JOURNAL:
            assert lines[0].startswith("<3>digest.test: publish failed\\nTraceback")
        else:
            record = json.loads(lines[0])
            assert record["message"] == "publish failed" and "ValueError: boom" in record["exception"]


def test_addresses_are_redacted_unless_debugging(restore_logging: None) -> None:
    assert redact("to reader.one+x@mail.example.org, b@c.cn") == "to r***@mail.example.org, b***@c.cn"
    log = logging.getLogger("digest.test")
    for level, shown in (("info", "r***@example.org"), ("debug", "reader@example.org")):
        stream = io.StringIO()
        configure(level, LogFormat.TEXT, stream)
        log.warning("confirmation to %s not delivered", "reader@example.org")
        assert f"confirmation to {shown} not delivered" in stream.getvalue()


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    options = ["--source", str(EXAMPLES), "--data", str(tmp_path / "data")]
    for n in range(3):
        assert digest("subscribers", "add", f"r{n}@example.org", *options, cwd=tmp_path).returncode == 0
    # `digest subscribers list | head -0`: the reader is gone before the first line is written.
    read, write = os.pipe()
    os.close(read)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "digest.cli", "subscribers", "list", *options],
        cwd=tmp_path,
        env=env,
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(write)
    assert (result.returncode, result.stderr) == (141, "")


def test_a_shared_option_counts_at_either_level_of_a_command(tmp_path: Path) -> None:
    for data, argv in (
        ("before", ["subscribers", "--data", str(tmp_path / "before"), "add", "a@example.org"]),
        ("after", ["subscribers", "add", "a@example.org", "--data", str(tmp_path / "after")]),
    ):
        result = digest(*argv, "--source", EXAMPLES, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / data / "digest.sqlite3").is_file()
    assert not (tmp_path / "var" / "data").exists()  # nothing went to the default data folder


def _serve_until_published(
    tmp_path: Path, host: str, options: Sequence[str] = (), paths: Sequence[str] = ()
) -> tuple[str, str]:
    """``digest serve --host host`` (with ``options``) on a free port of the examples until its feed
    answers, then a GET of each of ``paths``; the feed and what it logged."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    argv = ["serve", "--host", host, "--port", str(port), "--source", str(EXAMPLES), *options]
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest.cli", *argv, "--data", str(tmp_path / "data")],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    feed = httpx.get(f"{url}/feeds/all.atom", timeout=5)
                    if feed.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
            for path in paths:
                httpx.get(url + path, timeout=5)
        finally:
            process.terminate()
            process.wait(30)
    return feed.text, log.read_text(encoding="utf-8")


def test_serve_on_another_port_links_to_that_port(tmp_path: Path) -> None:
    feed, logged = _serve_until_published(tmp_path, "127.0.0.1")
    port = re.search(r"on http://127\.0\.0\.1:(\d+)/", logged)
    assert port, logged
    assert f'href="http://127.0.0.1:{port.group(1)}/feeds/all.atom"' in feed
    assert "127.0.0.1:8080" not in feed


def test_serve_on_an_ipv6_address_says_and_links_it_in_brackets(tmp_path: Path) -> None:
    # The log said http://::1:8080/, which no browser or curl takes.
    feed, logged = _serve_until_published(tmp_path, "::1")
    port = re.search(r"on http://\[::1\]:(\d+)/ \(starting\)", logged)
    assert port, logged
    assert f'href="http://[::1]:{port.group(1)}/feeds/all.atom"' in feed


def test_no_link_token_reaches_the_log_even_at_debug_level(tmp_path: Path) -> None:
    """A link's token lets its bearer unsubscribe or change sections, for ever: the access log that
    ``--log-level debug`` turns on names the page, never the token."""
    token = sign("a-long-random-secret-for-a-token-in-the-log", Purpose.MANAGE, "k" * 16, datetime.now(UTC))
    paths = [f"/preferences/{token}", f"/unsubscribe/{token}?from=mail", f"/confirm/{token}"]
    _, logged = _serve_until_published(tmp_path, "127.0.0.1", ("--log-level", "debug"), paths)
    assert '"GET /preferences/… HTTP/1.1" 400' in logged and '"GET /unsubscribe/…?from=mail' in logged
    assert token.rsplit(".", 1)[1] not in logged and "k" * 16 not in logged
