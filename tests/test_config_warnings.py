"""``digest check``'s warnings, from the configuration alone (``digest.config_warnings``)."""

from __future__ import annotations

import pytest

from digest.config import read_config
from digest.config_warnings import deliverability_warnings


def _link_warnings(base_url: str) -> list[str]:
    config = read_config(None, {"smtp.host": "mail.example", "site.base_url": base_url}, {})
    return [w for w in deliverability_warnings(config) if w.startswith("site.base_url:")]


@pytest.mark.parametrize(
    "base_url",
    [
        "http://news.example",  # not https
        "https://localhost:8443",
        "https://127.0.0.2",
        "https://[::1]:8443",
        "https://0.0.0.0",
        # RFC 6761: every *.localhost name is loopback, as lan_warnings already held; before, emails
        # linking there passed without a word.
        "https://digest.localhost",
    ],
)
def test_emails_linking_where_readers_cannot_go_are_warned_of(base_url: str) -> None:
    (warning,) = _link_warnings(base_url)
    assert base_url in warning and "set the public https address" in warning


def test_emails_linking_to_a_public_https_address_are_not() -> None:
    assert _link_warnings("https://news.example") == []


def _signing_warnings(sender: str, domain: str) -> list[str]:
    settings = {
        "smtp.sender": sender,
        "dkim.domain": domain,
        "dkim.selector": "s1",
        "dkim.key_file": "dkim.pem",
    }
    config = read_config(None, settings, {})
    return [w for w in deliverability_warnings(config) if w.startswith("dkim.domain:")]


def test_a_signature_for_another_domain_than_the_senders_is_warned_of() -> None:
    # Signed for news.example, sent from other.example: DMARC fails as if unsigned, and nothing said so.
    (warning,) = _signing_warnings("报纸 <digest@mail.other.example>", "news.example")
    assert "signed for news.example, but come from mail.other.example" in warning
    assert "sign for mail.other.example (or its parent domain)" in warning


@pytest.mark.parametrize(
    ("sender", "domain"),
    [
        ("digest@news.example", "news.example"),
        ("digest@mail.news.example", "news.example"),  # the sender below the signer
        ("digest@news.example", "mail.news.example"),  # the signer below the sender
        ("digest@a.news.example", "b.news.example"),  # both below one organisational domain
        ("Digest <digest@News.Example>", "news.example."),
    ],
)
def test_a_signature_that_can_align_with_the_sender_is_not(sender: str, domain: str) -> None:
    assert _signing_warnings(sender, domain) == []
