"""The bounce mailbox, read over IMAP from a real Dovecot on loopback.

The test starts its own Dovecot (a config in a temporary folder, a free port,
one passwd-file user, maildirs owned by the ``dovecot`` user), puts the kind
of mail a bounce address receives into it with IMAP APPEND (RFC 3464 delivery
reports, an RFC 5965 abuse report, an "unsubscribe" reply, noise), and checks
what ``digest`` does with each.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import folders_config
from loopback import free_port

from digest.config import Config
from digest.errors import DeliveryError
from digest.mail.bounces import ReportKind, process_bounce_mailbox, read_report
from digest.mail.signing import signing_secret
from digest.mail.subscribers import personal_links, subscription_upkeep
from digest.mail.tokens import message_id
from digest.mail.transports import OutboxMailer
from digest.store.database import Store
from digest.store.records import Subscriber, SubscriberStatus

NOW = datetime(2024, 11, 27, 1, 30, tzinfo=UTC)
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "a-mailbox-password"


@dataclass(frozen=True)
class Mailbox:
    port: int

    def append(self, data: bytes) -> None:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            imap.login(USER, PASSWORD)
            status, _ = imap.append("INBOX", None, None, data.replace(b"\n", b"\r\n"))
            assert status == "OK"
        finally:
            imap.logout()

    def unseen(self) -> int:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            imap.login(USER, PASSWORD)
            imap.select("INBOX")
            _, found = imap.search(None, "UNSEEN")
            return len(found[0].split())
        finally:
            imap.logout()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    if not Path(DOVECOT).is_file():
        reason = "dovecot is missing: apt-get install dovecot-imapd (.ci/run does)"
        if os.environ.get("REQUIRE_DOVECOT"):
            pytest.fail(reason)
        pytest.skip(reason)
    # Dovecot's auth and mail processes drop to the dovecot users, who cannot enter pytest's
    # private tmp_path: the instance lives in a folder of its own they can read.
    home = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
    home.chmod(0o755)
    try:
        yield from _dovecot(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _dovecot(home: Path) -> Iterator[Mailbox]:
    mail = home / "mail"
    mail.mkdir(parents=True)
    owner = pwd.getpwnam("dovecot")
    os.chown(mail, owner.pw_uid, owner.pw_gid)
    (home / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port = free_port()
    conf = home / "dovecot.conf"
    conf.write_text(
        f"""base_dir = {home}/run
state_dir = {home}/state
log_path = {home}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
# The mail processes run as the dovecot system user (a uid under Debian's default limit of 500).
first_valid_uid = 1
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {home}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
    )
    (home / "state").mkdir()
    server = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                log = home / "dovecot.log"
                assert server.poll() is None, log.read_text() if log.exists() else "dovecot exited"
                assert time.monotonic() < deadline, "dovecot did not start"
                time.sleep(0.05)
        yield Mailbox(port)
    finally:
        server.terminate()
        server.wait(timeout=15)


def make_config(tmp_path: Path, port: int, **extra: object) -> Config:
    overrides = {
        "site.base_url": "https://news.example",
        "smtp.return_path": "bounces@news.example",
        "bounces.host": "127.0.0.1",
        "bounces.port": port,
        "bounces.security": "none",
        "bounces.user": USER,
        "bounces.password": PASSWORD,
        **extra,
    }
    return folders_config(tmp_path, overrides)


def dsn(recipient: str, status: str, action: str = "failed", quoted: str = "") -> bytes:
    """A delivery status notification as an MTA writes it (RFC 3464), returning the headers of the
    message whose Message-ID is ``quoted``."""
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.example>
To: bounces@news.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

This is the mail system. Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example
Arrival-Date: Wed, 27 Nov 2024 09:31:00 +0800

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown

--b1
Content-Type: text/rfc822-headers

From: digest@news.example
To: {recipient}
Subject: digest
Message-ID: {quoted or "<forged@elsewhere.example>"}

--b1--
""".encode()


def complaint(recipient: str, quoted: str = "") -> bytes:
    """An abuse report (RFC 5965) a mailbox provider sends when a reader clicks "spam", returning the
    headers of the message whose Message-ID is ``quoted``."""
    return f"""From: feedback@provider.example
To: bounces@news.example
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b2"

--b2
Content-Type: text/plain

This is an email abuse report.

--b2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: provider/1.0
Version: 1
Original-Rcpt-To: {recipient}

--b2
Content-Type: text/rfc822-headers

From: digest@news.example
To: {recipient}
Message-ID: {quoted or "<forged@elsewhere.example>"}

--b2--
""".encode()


def test_reports_are_read_as_their_rfcs_say() -> None:
    (bounce,) = read_report(dsn("Gone@Example.org", "5.1.1"))
    assert (bounce.kind, bounce.email) == (ReportKind.HARD_BOUNCE, "gone@example.org")
    assert bounce.detail.startswith("5.1.1") and "User unknown" in bounce.detail
    assert read_report(dsn("slow@example.org", "4.4.1", action="delayed")) == []
    assert read_report(dsn("full@example.org", "4.2.2")) == []  # a mailbox full for now is not a hard bounce
    (spam,) = read_report(complaint("angry@example.org"))
    assert (spam.kind, spam.email) == (ReportKind.COMPLAINT, "angry@example.org")
    reply = b"From: Reader <Leaving@Example.org>\nSubject: unsubscribe\n\nplease\n"
    assert [(r.kind, r.email) for r in read_report(reply)] == [
        (ReportKind.UNSUBSCRIBE, "leaving@example.org")
    ]
    assert read_report(b"From: someone@example.org\nSubject: thanks for the paper\n\nhi\n") == []


def sent(config: Config, recipient: str) -> str:
    """The Message-ID of an email we sent to ``recipient``."""
    return message_id(signing_secret(config), "digest", recipient, "news.example")


def test_the_mailbox_turns_reports_into_bounces_complaints_and_unsubscribes(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    config = make_config(tmp_path, mailbox.port)
    with Store.open(config.database_url) as store:
        for name in ("gone", "angry", "leaving", "clicked", "stays"):
            store.add_subscriber(Subscriber(f"{name}@example.org", (), True, NOW))
        mailbox.append(dsn("gone@example.org", "5.1.1", quoted=sent(config, "gone@example.org")))
        mailbox.append(dsn("gone@example.org", "5.1.1", quoted=sent(config, "Gone@Example.org")))
        mailbox.append(dsn("stays@example.org", "4.4.1", action="delayed"))
        mailbox.append(complaint("angry@example.org", quoted=sent(config, "angry@example.org")))
        # A reply to one of our emails, and what List-Unsubscribe's mailto sends (from any address).
        reply = f"From: leaving@example.org\nIn-Reply-To: {sent(config, 'leaving@example.org')}\n"
        mailbox.append(f"{reply}Subject: Unsubscribe\n\n\n".encode())
        mailto = personal_links(config, NOW, store)("clicked@example.org").mailto
        subject = unquote(mailto.partition("?subject=")[2])
        mailbox.append(f"From: relay@provider.example\nSubject: {subject}\n\n\n".encode())
        mailbox.append(b"From: stranger@example.org\nSubject: unsubscribe\n\n\n")
        counts = process_bounce_mailbox(config, store, NOW)
        assert counts == {
            "counted": 1,
            "suppressed": 1,
            "complained": 1,
            "unsubscribed": 2,
            "unknown address": 1,
        }
        states = {s.email: s.state for s in store.subscribers(confirmed_only=False)}
        assert states == {
            "gone@example.org": SubscriberStatus.BOUNCED,
            "angry@example.org": SubscriberStatus.COMPLAINED,
            "leaving@example.org": SubscriberStatus.UNSUBSCRIBED,
            "clicked@example.org": SubscriberStatus.UNSUBSCRIBED,
            "stays@example.org": SubscriberStatus.CONFIRMED,
        }
        assert "5.1.1" in store.subscriber("gone@example.org").reason  # type: ignore[union-attr]
        # Every message is marked seen: the next run acts on nothing twice.
        assert mailbox.unseen() == 0 and process_bounce_mailbox(config, store, NOW) == {}
        # With the mailbox read, List-Unsubscribe offers its address as well as the https link.
        links = personal_links(config, NOW, store)("stays@example.org")
        assert (
            links.mailto
            == "mailto:bounces@news.example?subject=unsubscribe%20" + links.unsubscribe.rsplit("/")[-1]
        )


def test_reports_about_messages_we_never_sent_to_the_address_change_nothing(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    """The bounce address is in every email's envelope: anybody can mail it a delivery report, an
    abuse report or an "unsubscribe" about any subscriber.  Only one returning (or replying to) a
    message we sent to that address counts, or an unsubscribe carrying the address's link token."""
    config = make_config(tmp_path, mailbox.port)
    with Store.open(config.database_url) as store:
        store.add_subscriber(Subscriber("victim@example.org", (), True, NOW))
        store.add_subscriber(Subscriber("attacker@example.org", (), True, NOW))
        theirs = sent(config, "attacker@example.org")  # the attacker's own digest's Message-ID
        stranger = message_id("another-secret-entirely-of-forty-chars!", "digest", "victim@example.org", "x")
        for quoted in (
            "",
            theirs,
            stranger,
            sent(config, "victim@example.org").replace("<digest.", "<digest.0"),
        ):
            mailbox.append(dsn("victim@example.org", "5.1.1", quoted=quoted))
            mailbox.append(complaint("victim@example.org", quoted=quoted))
            # "From" the victim, or replying to the attacker's own email, with no token: anybody's.
            mailbox.append(
                f"From: victim@example.org\nIn-Reply-To: {quoted}\nSubject: unsubscribe\n\n".encode()
            )
        assert process_bounce_mailbox(config, store, NOW) == {"not ours": 12}
        victim = store.subscriber("victim@example.org")
        assert victim is not None and victim.status is SubscriberStatus.CONFIRMED and victim.bounces == 0


def test_an_unreachable_or_refusing_mailbox_is_reported_and_the_job_goes_on(
    tmp_path: Path, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = make_config(tmp_path, mailbox.port, **{"bounces.password": "wrong"})
    with Store.open(wrong.database_url) as store:
        with pytest.raises(DeliveryError, match=r"bounces@127\.0\.0\.1.*check \[bounces\]"):
            process_bounce_mailbox(wrong, store, NOW)
        subscription_upkeep(wrong, store, OutboxMailer(tmp_path / "outbox"), NOW)  # logs, does not raise
    assert "bounce mailbox not read" in caplog.text


def test_check_logs_in_to_the_mailbox_reports_what_is_wrong_and_leaves_reports_unread(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    from test_cli import digest

    mailbox.append(dsn("gone@example.org", "5.1.1"))
    (tmp_path / "pages").mkdir()
    env = {
        "DIGEST_PATHS_SOURCE": str(tmp_path / "pages"),
        "DIGEST_PATHS_DATA": str(tmp_path / "data"),
        "DIGEST_PATHS_OUTPUT": str(tmp_path / "output"),
        "DIGEST_BOUNCES_HOST": "127.0.0.1",
        "DIGEST_BOUNCES_PORT": str(mailbox.port),
        "DIGEST_BOUNCES_SECURITY": "none",
        "DIGEST_BOUNCES_USER": USER,
        "DIGEST_BOUNCES_PASSWORD": PASSWORD,
        "DIGEST_SMTP_RETURN_PATH": "bounces@news.example",
    }
    right = digest("check", cwd=tmp_path, env=env)
    assert right.returncode == 0 and "error" not in right.stderr, right.stderr
    assert mailbox.unseen() == 1  # looked at read-only: the report still waits for the next run

    for wrong, key, says in [
        ({"DIGEST_BOUNCES_PASSWORD": "wrong"}, "bounces.host", "check [bounces]"),
        ({"DIGEST_BOUNCES_PORT": str(free_port())}, "bounces.host", "check [bounces]"),
        ({"DIGEST_BOUNCES_FOLDER": "Bounces"}, "bounces.folder", "no folder 'Bounces'"),
    ]:
        result = digest("check", cwd=tmp_path, env=env | wrong)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert result.returncode == 2 and len(errors) == 1, result.stderr
        assert errors[0].startswith(f"error: {key}: ") and says in errors[0], errors[0]
        assert "Traceback" not in result.stderr
