"""The digest email read in a real mail client: Debian's mutt, in a terminal, as a reader opens it.

The digest job sends the example day over SMTP to a local server (aiosmtpd); the bytes that server
received are delivered into a Maildir, and mutt opens that Maildir read-only in a tmux pane of its
own.  The test reads the screen as the reader sees it: the index line, the message with its
headers, the full headers, and the list of its parts.  (CI installs mutt: see ``.ci/run``.)
"""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from smtp_sink import SmtpSink

from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.mail.transports import make_mailer
from digest.service.jobs import run_digest
from digest.store.database import Store
from digest.store.records import Subscriber

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
INGESTED = datetime(2024, 11, 27, 4, 0, tzinfo=UTC)
# The digest cron's moment: 07:00 in Shanghai on the 28th, still the evening of the 27th in UTC.
DIGESTED = datetime(2024, 11, 27, 23, 0, tzinfo=UTC)
READER = "reader@example.org"
# Tall enough for the whole example email on one screen, as wide as a laptop terminal.
COLUMNS, ROWS = 100, 400
SCREEN_SECONDS = 20


@dataclass(frozen=True)
class Delivered:
    """What the reader's mailbox holds, and what the digest said it held."""

    maildir: Path
    subject: str
    sender_name: str
    headlines: list[str]
    day: date


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Delivered:
    """The example day's digest, sent over SMTP and delivered into a Maildir."""
    home = tmp_path_factory.mktemp("mail-client")
    shutil.copytree(ROOT / "examples" / "pages", home / "pages")
    with SmtpSink() as sink:
        folders = {"paths.source": home / "pages", "paths.data": home / "data", "paths.output": home / "out"}
        smtp = {"smtp.host": sink.host, "smtp.port": sink.port, "smtp.security": "none"}
        config = load_config(None, {**folders, **smtp}, {})
        with Store.open(config.database_url) as store:
            ingest(config, store, INGESTED)
            store.add_subscriber(Subscriber(READER, (), True, INGESTED))
            mailer = make_mailer(config, config.paths.data)
            try:
                result = run_digest(config, store, mailer, DIGESTED)
            finally:
                mailer.close()
        assert result.sent == 1
        (received,) = sink.messages
    # What a delivery agent does with the bytes the server received: a new file in the Maildir, with
    # the wire's CRLF line ends turned into the local LF.
    box = mailbox.Maildir(home / "Maildir", create=True)
    box.add(received.data.replace(b"\r\n", b"\n"))
    message = received.message()
    headlines = [e.article.title for _, entries in result.digest.groups for e in entries if e.article.title]
    assert len(headlines) >= 3
    return Delivered(
        home / "Maildir",
        str(message["Subject"]),
        message["From"].addresses[0].display_name,
        headlines,
        result.digest.day,
    )


class Mutt:
    """mutt on a Maildir in a detached tmux session: keys go in with send-keys, the screen comes out
    with capture-pane."""

    def __init__(self, maildir: Path, home: Path) -> None:
        program = shutil.which("mutt")
        if program is None or shutil.which("tmux") is None:
            reason = "mutt or tmux is not installed (apt-get install mutt tmux; .ci/run does)"
            if os.environ.get("REQUIRE_MAIL_CLIENT"):
                pytest.fail(reason)  # CI installed them: missing is an error there, not a skip
            pytest.skip(reason)
        self.socket = str(home / "tmux.socket")
        (home / "Mail").mkdir()  # mutt's default folder; without it, it asks to create one first
        # No system or user muttrc: what a reader sees with mutt as it comes, but the plain text part
        # chosen explicitly, as terminal readers set it.
        command = (
            f"{program} -n -F /dev/null -R -f {maildir} "
            "-e 'alternative_order text/plain' -e 'set pager_index_lines=0' -e 'set pager_stop=yes'"
        )
        env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        subprocess.run(
            [
                "tmux",
                "-S",
                self.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                str(COLUMNS),
                "-y",
                str(ROWS),
                f"env TERM=screen-256color {command}",
            ],
            env=env,
            check=True,
        )

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-S", self.socket, "send-keys", *keys], check=True)

    def screen(self) -> str:
        done = subprocess.run(
            ["tmux", "-S", self.socket, "capture-pane", "-p", "-J"],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def wait_for(self, text: str) -> str:
        """The screen once it shows ``text``."""
        deadline = time.monotonic() + SCREEN_SECONDS
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"mutt never showed {text!r}; the screen:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], check=False, capture_output=True)


@pytest.fixture
def mutt(delivered: Delivered, tmp_path: Path) -> Iterator[Mutt]:
    client = Mutt(delivered.maildir, tmp_path)
    try:
        yield client
    finally:
        client.close()


def test_the_inbox_line_shows_the_sender_and_the_chinese_subject(delivered: Delivered, mutt: Mutt) -> None:
    screen = mutt.wait_for(delivered.sender_name)
    # The index line cuts the subject at the terminal's width; its start is what the reader reads.
    assert delivered.subject[:8] in screen
    assert "=?" not in screen and "\ufffd" not in screen


def test_the_inbox_and_the_date_header_give_the_day_of_the_digest(delivered: Delivered, mutt: Mutt) -> None:
    # mutt dates the index line, and shows the Date header, in the sender's zone: a header in UTC
    # files the 28 November digest, made at 07:00 in Shanghai, under 27 November.
    assert delivered.day == date(2024, 11, 28)
    screen = mutt.wait_for(delivered.sender_name)
    index_line = next(line for line in screen.splitlines() if delivered.sender_name in line)
    assert "Nov 28" in index_line, index_line
    mutt.keys("Enter")
    screen = mutt.wait_for("-- (all)")
    assert "Date: Thu, 28 Nov 2024 07:00:00 +0800" in screen, screen


def test_the_opened_email_reads_as_text_with_every_headline_and_the_way_out(
    delivered: Delivered, mutt: Mutt
) -> None:
    mutt.wait_for(delivered.sender_name)
    mutt.keys("Enter")
    screen = mutt.wait_for("-- (all)")  # the pager says the whole message fits the screen
    assert f"Subject: {delivered.subject}" in screen
    assert f"To: {READER}" in screen
    for headline in delivered.headlines:
        assert headline in screen, headline
    assert "退订" in screen and "/unsubscribe/" in screen
    # Decoded as UTF-8 text: no encoded words, no replacement characters, no HTML tags.
    assert "=?" not in screen and "\ufffd" not in screen and "<a " not in screen


def test_full_headers_offer_one_click_unsubscribe(delivered: Delivered, mutt: Mutt) -> None:
    mutt.wait_for(delivered.sender_name)
    mutt.keys("Enter")
    mutt.wait_for("-- (all)")
    mutt.keys("h")  # every header, as mutt keeps them
    screen = mutt.wait_for("List-Unsubscribe-Post:")
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in screen
    # mutt wraps a header longer than the screen, marking the wrapped part with "+".
    assert re.search(r"List-Unsubscribe:\s*\+?<http://[^>]+/unsubscribe/[^>]+>", screen), screen


def test_the_parts_are_a_utf8_text_and_an_html_alternative(delivered: Delivered, mutt: Mutt) -> None:
    mutt.wait_for(delivered.sender_name)
    mutt.keys("v")  # the message's parts
    screen = mutt.wait_for("text/html")
    assert "multipa/alternativ" in screen
    assert "[text/plain, 8bit, utf-8" in screen and "[text/html, 8bit, utf-8" in screen
