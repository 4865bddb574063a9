"""Golden outputs: the whole published folder, the emails and the parser's view, byte for byte.

Each scenario runs the real pipeline on a fixed clock: page files (seeds or
``examples/pages``) → ingest → digest job (which publishes) → a sign-up
through the real subscription app under uvicorn.  Everything a reader can
receive is then compared with ``tests/golden/<scenario>/``: every file of
the output folder (site, feeds, archives, OPML, digest page) and every email
(digest to an all-sections and a one-section subscriber, confirmation), with
the headers that are random by design normalised.  The seeds scenario runs
on SQLite and on PostgreSQL against the same files, so the output cannot
depend on the database either.

``pytest --update-golden`` rewrites the folders; commit the diff with the
change that caused it, so review shows what readers will see differently.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from conftest import NOW, SHARED
from golden import Golden, read_tree
from test_server import serving
from test_subscriptions import settled

from digest.config import Config
from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.mail.transports import OutboxMailer
from digest.paper.parse import parse_page
from digest.paper.report import render_page
from digest.service.jobs import run_digest
from digest.store.database import Store
from digest.store.records import Subscriber
from digest.web.subscriptions import create_subscription_app

ROOT = Path(__file__).resolve().parents[1]
# Noon of 26 November in Shanghai: the pages arrive the day before the digest of the 27th (07:00),
# which the fixed clock NOW (09:30 on the 27th) finds due.
INGESTED = datetime(2024, 11, 26, 4, 0, tzinfo=UTC)
SECRET = "golden-test-secret-not-for-production"

# Headers a fresh message gets at random (RFC 5322 Message-ID, MIME boundaries): normalised.
_MESSAGE_ID = re.compile(r"^(Message-ID: )<[^>\r\n]+>", re.MULTILINE | re.IGNORECASE)
_BOUNDARY = re.compile(r"={15}\d+==")
# A link token starts with the subscriber's random key (no address in URLs), so its MAC varies too.
_TOKEN = re.compile(r"/(confirm|preferences|unsubscribe)/[A-Za-z0-9_-]+\.[0-9a-f]+\.[A-Za-z0-9_-]{22}")


def _readable_email(data: bytes) -> bytes:
    """The email as a reviewer reads it: the top-level headers as sent, then each part decoded.

    Transfer encodings (base64, quoted-printable) would turn a one-word change
    into an unreadable diff; the part headers still pin which encoding was used.
    """
    message = message_from_bytes(data, policy=policy.default)
    head = data.split(b"\n\n", 1)[0].decode("ascii")
    out = [_MESSAGE_ID.sub(r"\1<normalised@golden>", head), "", "[decoded]"]
    out += [f"{name}: {message[name]}" for name in ("Subject", "From", "List-Id") if message[name]]
    for part in message.walk():
        if part.is_multipart():
            continue
        encoding = part["Content-Transfer-Encoding"]
        out += ["", f"[part {part.get_content_type()}; {part.get_content_charset()}; {encoding}]"]
        out.append(part.get_content().rstrip("\n"))
    boundaries: dict[str, str] = {}
    text = _BOUNDARY.sub(
        lambda m: boundaries.setdefault(m.group(), f"===boundary-{len(boundaries)}==="), "\n".join(out)
    )
    return (_TOKEN.sub(r"/\1/<token>", text) + "\n").encode()


def _emails(outbox: Path, kind: str) -> dict[str, bytes]:
    found = {}
    for path in sorted(outbox.glob("*.eml")):
        data = path.read_bytes()
        recipient = message_from_bytes(data, policy=policy.default)["To"]
        found[f"emails/{kind}-{recipient}.txt"] = _readable_email(data)
    assert found, f"no email in {outbox}"
    return found


def _site(output: Path) -> dict[str, bytes]:
    files = {
        p.relative_to(output).as_posix(): p.read_bytes()
        for p in output.rglob("*")
        if p.is_file() and not p.name.startswith(".")  # the publish marker holds a hash of the code
    }
    return {f"site/{path}": data for path, data in files.items()}


def _run(tmp_path: Path, pages: Path, database_url: str, **settings: object) -> dict[str, bytes]:
    """The pipeline on ``pages`` at the fixed clock; every produced file, keyed for the golden folder."""
    source = tmp_path / "pages"
    shutil.copytree(pages, source)
    for page in source.iterdir():
        os.utime(page, (INGESTED.timestamp(), INGESTED.timestamp()))
    config: Config = load_config(
        None,
        {
            "paths.source": source,
            "paths.data": tmp_path / "data",
            "paths.output": tmp_path / "output",
            "database.url": database_url,
            "server.secret": SECRET,
            **settings,
        },
        {},
    )
    outbox = tmp_path / "outbox"
    with Store.open(config.database_url) as store:
        assert ingest(config, store, INGESTED).failed == 0
        # A section of the newest issue: older issues are back issues, never mailed.
        one_section = min(entry.section.slug for entry in store.latest_issue())
        store.add_subscriber(Subscriber("all@example.org", (), True, INGESTED))
        store.add_subscriber(Subscriber("one@example.org", (one_section,), True, INGESTED))
        result = run_digest(config, store, OutboxMailer(outbox / "digest"), NOW)
        assert (result.made, result.sent, result.failed) == (True, 2, 0)

        app = create_subscription_app(
            config, store, lambda: OutboxMailer(outbox / "confirm"), clock=lambda: NOW
        )
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            form = client.get("/subscribe")
            token = re.search(r'name="form_token" value="([^"]+)"', form.text)
            assert form.status_code == 200 and token, form.text
            sent = client.post("/subscribe", data={"email": "new@example.org", "form_token": token.group(1)})
            assert sent.status_code == 200, sent.text
        # The confirmation is written after the answer, on a thread of its own, and needs the store:
        # waited for here.  (``app.close`` alone, after the store closed, dropped an email whose
        # thread had not taken it yet, and one under way failed on the closed store.)
        settled(store)
        app.close()
    return {
        **_site(config.paths.output),
        **_emails(outbox / "digest", "digest"),
        **_emails(outbox / "confirm", "confirm"),
    }


def test_seed_pages_publish_the_golden_site_feeds_and_emails(
    tmp_path: Path, seeds: Path, database_url: str, golden: Golden
) -> None:
    # A small feed size, so that RFC 5005 archive documents are pinned as well.
    golden.check("seeds", _run(tmp_path, seeds, database_url, **{"feeds.size": 20}))


def test_example_pages_publish_the_golden_site_feeds_and_emails(tmp_path: Path, golden: Golden) -> None:
    database = f"sqlite:///{tmp_path / 'data' / 'digest.sqlite3'}"
    golden.check("examples", _run(tmp_path, ROOT / "examples" / "pages", database))


@pytest.mark.parametrize("folder", ["seeds", "dev/pages"])
def test_parser_view_of_every_page_is_golden(folder: str, golden: Golden) -> None:
    pages = sorted((SHARED / folder).glob("*.txt"))
    if not pages:
        pytest.skip(f"no pages in {SHARED / folder} (the ../shared checkout is missing)")
    views = {
        f"{page.stem}.txt": (
            render_page(parse_page(page.read_text(encoding="utf-8"), page.name)) + "\n"
        ).encode()
        for page in pages
    }
    golden.check(f"parse/{folder.split('/')[0]}", views)


def test_a_one_byte_change_fails_and_the_switch_rewrites(tmp_path: Path) -> None:
    files = {"site/index.html": "<p>第一版</p>\n".encode(), "site/feeds/all.atom": b"<feed/>\n"}
    Golden(update=True, root=tmp_path).check("case", {**files, "stale.txt": b"old"})
    Golden(update=True, root=tmp_path).check("case", files)
    assert read_tree(tmp_path / "case") == files  # a file no longer produced is deleted
    Golden(update=False, root=tmp_path).check("case", files)

    changed = {**files, "site/index.html": "<p>第二版</p>\n".encode()}
    with pytest.raises(
        pytest.fail.Exception, match=r"(?s)changed: site/index.html.*-<p>第一版</p>.*\+<p>第二版"
    ):
        Golden(update=False, root=tmp_path).check("case", changed)
    one_byte = {**files, "site/feeds/all.atom": b"<feed/> \n"}
    with pytest.raises(pytest.fail.Exception, match=r"changed: site/feeds/all\.atom"):
        Golden(update=False, root=tmp_path).check("case", one_byte)
    with pytest.raises(pytest.fail.Exception, match=r"missing: site/feeds/all\.atom"):
        Golden(update=False, root=tmp_path).check("case", {"site/index.html": files["site/index.html"]})
    with pytest.raises(pytest.fail.Exception, match=r"extra: new\.txt"):
        Golden(update=False, root=tmp_path).check("case", {**files, "new.txt": b""})
    with pytest.raises(pytest.fail.Exception, match="no golden output"):
        Golden(update=False, root=tmp_path).check("absent", files)
