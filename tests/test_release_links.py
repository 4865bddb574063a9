"""Links in emails sent by release 0.1.0, opened after the upgrade.

0.1.0 put the subscriber's address (base64) in its link tokens, signed by default with a well-known
secret; the links of today carry a random key. An old link cannot be honoured (anyone could forge
one), so its reader is told where a working link is, not that they copied it wrong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_server import serving
from test_subscriptions import Clock, make_config

from digest.mail.tokens import from_release_010
from digest.mail.transports import OutboxMailer
from digest.store.database import Store
from digest.store.records import new_key
from digest.web.subscriptions import create_subscription_app


def release_010_token(address: str, purpose: str, issued: int, secret: str = "change-me") -> str:
    """A link token as 0.1.0 made it (``digest/tokens.py`` of that release)."""
    subject = base64.urlsafe_b64encode(address.encode()).decode().rstrip("=")
    message = f"{purpose}\n{issued}\n{address}".encode()
    mac = base64.urlsafe_b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()[:16])
    return f"{subject}.{issued:x}.{mac.decode().rstrip('=')}"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    config = make_config(tmp_path)
    with Store.open(config.database_url) as store:
        app = create_subscription_app(config, store, lambda: OutboxMailer(tmp_path / "outbox"), clock=Clock())
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
            yield http


def test_a_link_from_a_release_010_email_says_it_is_from_before_the_upgrade(client: httpx.Client) -> None:
    token = release_010_token("reader@example.org", "manage", 1_764_633_600)
    confirm = release_010_token("reader@example.org", "confirm", 1_764_633_600)
    for path, link in (("/unsubscribe/", token), ("/preferences/", token), ("/confirm/", confirm)):
        answer = client.get(path + link)
        assert answer.status_code == 410, (path, answer.status_code)
        assert "升级之前发出的邮件" in answer.text and "可能复制得不完整" not in answer.text
    damaged = client.get("/unsubscribe/" + token[:-3])
    assert damaged.status_code == 400 and "可能复制得不完整" in damaged.text


def test_only_tokens_carrying_an_address_are_taken_for_release_010s() -> None:
    assert from_release_010(release_010_token("a.long+tag@mail.example.co.uk", "confirm", 1_700_000_000))
    keys = [f"{new_key()}.6b133904.{'A' * 22}" for _ in range(2000)]
    assert not any(from_release_010(token) for token in keys)
    assert not from_release_010("not-a-token")
