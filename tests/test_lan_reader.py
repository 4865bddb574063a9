"""A home user's LAN server, read from a laptop by the machine's name, in a real Chromium.

The README's steps: ``server.host = "0.0.0.0"``, then open ``http://homeserver.local:8080/``.  Chromium
resolves the name to 127.0.0.1 (``--host-resolver-rules``), as the LAN's mDNS would to the server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from loopback import free_port, wait_for
from playwright.sync_api import sync_playwright
from test_browser import CHROMIUM, FLAGS
from test_cli import EXAMPLES
from test_service import Serve
from test_subscriptions import outbox_emails

NAME = "homeserver.local"
LINK = re.compile(r"https?://[^\s\"'<>]+/confirm[^\s\"'<>]*")


@pytest.mark.slow
def test_a_laptop_opening_the_server_by_its_lan_name_is_told_what_to_set_then_reads_and_subscribes(
    tmp_path: Path,
) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    pages = tmp_path / "pages"
    shutil.copytree(EXAMPLES, pages)
    rules = f"--host-resolver-rules=MAP {NAME} 127.0.0.1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*FLAGS, rules])
        page = browser.new_page()
        # Picked once Chromium is up: free at this instant, not seconds of a browser's start ago.
        port = free_port()
        wildcard = {"DIGEST_SERVER_HOST": "0.0.0.0", "DIGEST_SITE_BASE_URL": f"http://127.0.0.1:{port}"}
        lan = f"http://{NAME}:{port}"
        # First, server.host alone, site.base_url left as it was: the guard refuses the name, and
        # the page says, in the site's language, the exact setting that lets it in.
        service = Serve(tmp_path, pages, settings=wildcard, port=port)
        try:
            refused = page.goto(f"{lan}/")
            assert refused is not None and refused.status == 421
            assert page.locator("html").get_attribute("lang") == "zh-CN"
            text = page.locator("body").inner_text()
            assert "此服务器不响应主机名" in text, text
            assert f'base_url = "{lan}"' in text and f'allowed_hosts = ["{NAME}"]' in text, text
        finally:
            assert service.stop() == 0
        # The service said so at start, where an operator who never runs `digest check` looks.
        assert any("WARNING" in line and "server.host: '0.0.0.0'" in line for line in service.lines)
        # Then as the page says: site.base_url set to the LAN name. The site reads, and the
        # sign-up form posts (Origin: the LAN name), its confirmation link pointing there too.
        named = {"DIGEST_SERVER_HOST": "0.0.0.0", "DIGEST_SITE_BASE_URL": lan}
        service = Serve(tmp_path, pages, settings=named, port=port)
        try:
            home = page.goto(f"{lan}/")
            assert home is not None and home.status == 200
            form = page.goto(f"{lan}/subscribe")
            assert form is not None and form.status == 200
            page.fill("form.subscribe input[name=email]", "reader@example.com")
            with page.expect_navigation():
                page.locator("form.subscribe button[type=submit]").click()
            assert page.url.startswith(lan), page.url
            assert page.locator("body").inner_text().count("reader@example.com") >= 1
            # The confirmation goes out after the page is answered: read the outbox once it is there.
            outbox = tmp_path / "data" / "outbox"
            wait_for(lambda: outbox_emails(outbox), what="the confirmation email in the outbox")
            (email,) = outbox_emails(outbox)
            body = email.get_body(("plain",))
            assert body is not None
            (link,) = set(LINK.findall(body.get_content()))
            assert link.startswith(f"{lan}/"), link
            confirmed = page.goto(link)
            assert confirmed is not None and confirmed.status == 200
        finally:
            assert service.stop() == 0
        browser.close()


def check_warnings(tmp_path: Path, **environ: str) -> list[str]:
    """The ``warning:`` lines of ``digest check`` run with these environment variables."""
    pages = tmp_path / "pages"
    pages.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **environ}
    folders = ["--source", str(pages), "--data", str(tmp_path / "data"), "--output", str(tmp_path / "out")]
    done = subprocess.run(
        [sys.executable, "-m", "digest.cli", "check", *folders],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("warning: server.host")]


def test_check_warns_of_a_wildcard_host_that_visitors_by_name_cannot_use(tmp_path: Path) -> None:
    (warning,) = check_warnings(tmp_path, DIGEST_SERVER_HOST="0.0.0.0")
    assert "421" in warning and "site.base_url" in warning and "server.allowed_hosts" in warning
    # Set as the warning says, or the names allowed, or on loopback only: nothing to say.
    assert (
        check_warnings(tmp_path, DIGEST_SERVER_HOST="0.0.0.0", DIGEST_SITE_BASE_URL=f"http://{NAME}:8080")
        == []
    )
    assert check_warnings(tmp_path, DIGEST_SERVER_HOST="0.0.0.0", DIGEST_SERVER_ALLOWED_HOSTS=NAME) == []
    assert check_warnings(tmp_path) == []
    # The shipped image listens on 0.0.0.0 so that a published port reaches it at all, and says it
    # runs in a container (deploy/Dockerfile sets ``container``): the warning would only be noise.
    assert check_warnings(tmp_path, DIGEST_SERVER_HOST="0.0.0.0", container="docker") == []
    dockerfile = (Path(__file__).parent.parent / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^\s+container=docker$", dockerfile, re.MULTILINE), "the image no longer says so"
