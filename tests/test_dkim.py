"""DKIM: every email the service sends verifies with dkimpy against the record ``digest check`` prints.

The key is made with openssl as the README says; the signature must cover
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058 §3), survive the
trip through a real SMTP server on loopback, and break when a relay alters
the one-click link.  ``digest check`` runs as a subprocess, as a user runs it.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from smtp_sink import SmtpSink
from test_cli import digest
from test_delivery import make_config, seed

from digest.config import Config, DkimConfig
from digest.errors import ConfigError
from digest.mail.compose import compose_confirmation_email, prepared
from digest.mail.dkim import dns_record
from digest.mail.transports import SmtpMailer
from digest.service.jobs import run_digest
from digest.store.database import Store

NOW = datetime(2024, 11, 27, 1, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is missing (apt-get install openssl)")
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def signed(config: Config, key: Path) -> Config:
    return dataclasses.replace(
        config, dkim=DkimConfig(domain="news.example", selector="digest2024", key_file=key)
    )


def txt_value(record: str) -> bytes:
    """What a resolver returns for the record: its quoted strings joined."""
    return "".join(re.findall(r'"([^"]*)"', record)).encode()


def verifies(data: bytes, config: Config) -> bool:
    record = dns_record(config)
    assert record.startswith("digest2024._domainkey.news.example. IN TXT")

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"digest2024._domainkey.news.example."
        return txt_value(record)

    return bool(dkim.verify(data, dnsfunc=lookup))


def test_digests_sent_over_smtp_verify_and_cover_the_unsubscribe_headers(
    tmp_path: Path, key: Path, sink: SmtpSink
) -> None:
    config = signed(make_config(tmp_path, sink), key)
    with Store.open(config.database_url) as store:
        seed(store, config, NOW, 2)
        with closing(SmtpMailer(config.smtp)) as mailer:
            assert run_digest(config, store, mailer, NOW).delivery.sent == 2
    sink.eight_bit = False  # a server without 8BITMIME gets the base64 form, signed on its own
    with closing(SmtpMailer(config.smtp)) as mailer, Store.open(config.database_url) as store:
        assert run_digest(config, store, mailer, NOW, to="copy@example.org").delivery.sent == 1
    assert all(byte < 128 for byte in sink.messages[-1].data)
    for received in sink.messages:
        assert received.data.startswith(b"DKIM-Signature:")
        assert verifies(received.data, config)
        header = received.message()["DKIM-Signature"]
        signed_headers = re.search(r"h=([^;]+)", re.sub(r"\s", "", str(header)))
        assert signed_headers is not None
        names = signed_headers.group(1).lower().split(":")
        for name in (
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ):
            assert name in names
        # A relay that swaps the one-click link breaks the signature.
        forged = re.sub(rb"(List-Unsubscribe: <[^>]*/unsubscribe/)[^>]+>", rb"\1forged>", received.data)
        assert forged != received.data and not verifies(forged, config)


def test_the_7bit_form_and_confirmations_are_signed_too(tmp_path: Path, key: Path) -> None:
    config = signed(make_config(tmp_path), key)
    message = compose_confirmation_email(
        config=config,
        recipient="new@example.org",
        confirm_url="https://news.example/confirm/k.1.x",
        hours=48,
        site_url="https://news.example/",
        now=NOW,
    )
    email = prepared(message, config)
    assert verifies(email.data, config)
    seven = email.seven_bit()
    assert all(byte < 128 for byte in seven) and verifies(seven, config)
    unsigned = prepared(message, make_config(tmp_path))
    assert not unsigned.data.startswith(b"DKIM-Signature")


def test_a_bad_or_missing_key_is_a_config_error_with_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="openssl genpkey"):
        dns_record(signed(make_config(tmp_path), bad))
    with pytest.raises(ConfigError, match="not a readable file"):
        make_config(
            tmp_path, **{"dkim.domain": "a.example", "dkim.selector": "s", "dkim.key_file": tmp_path / "no"}
        )
    with pytest.raises(ConfigError, match="go together"):
        make_config(tmp_path, **{"dkim.domain": "a.example"})


def test_check_prints_the_dns_record_and_warns_about_what_gets_mail_lost(tmp_path: Path, key: Path) -> None:
    (tmp_path / "pages").mkdir()
    folders = ["--source", tmp_path / "pages", "--data", tmp_path / "data", "--output", tmp_path / "out"]
    # ``check`` connects to the SMTP server it is given: a real one on loopback.
    with SmtpSink() as sink:
        server = {
            "DIGEST_SMTP_HOST": sink.host,
            "DIGEST_SMTP_PORT": str(sink.port),
            "DIGEST_SMTP_SECURITY": "none",
        }
        plain = digest(
            "check", *folders, cwd=tmp_path, env=server | {"DIGEST_SITE_BASE_URL": "http://127.0.0.1:8080"}
        )
        good = server | {
            "DIGEST_SMTP_SENDER": "报纸 <digest@news.example>",
            "DIGEST_SITE_BASE_URL": "https://news.example",
            "DIGEST_SITE_TAG_AUTHORITY": "news.example,2024",
            "DIGEST_DKIM_DOMAIN": "news.example",
            "DIGEST_DKIM_SELECTOR": "digest2024",
            "DIGEST_DKIM_KEY_FILE": str(key),
        }
        done = digest("check", *folders, cwd=tmp_path, env=good)
    assert plain.returncode == 0, plain.stderr
    warnings = [line for line in plain.stderr.splitlines() if line.startswith("warning: ")]
    keys = [line.split(":")[1].strip() for line in warnings]
    assert keys == ["smtp.sender", "site.base_url", "dkim", "site.tag_authority"], plain.stderr
    assert "Gmail and Yahoo require DKIM" in plain.stderr

    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    (record,) = [line.strip() for line in done.stdout.splitlines() if "._domainkey." in line]
    assert record == dns_record(signed(make_config(tmp_path), key))
    assert re.search(r'"v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{200,}', record)
