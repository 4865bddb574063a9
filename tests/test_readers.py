"""Real feed readers against our feeds over HTTP on loopback: Debian's newsboat and rss2email.

The service's output is served by our ASGI app under uvicorn; each reader
gets its own configuration, cache and home folder in ``tmp_path``.  Three
moments matter to a subscriber: the first fetch holds every seed article
with its Chinese headline; a new page brings exactly its new articles, none
twice; a republish with nothing new brings nothing and marks nothing new
again.  And two a newsroom causes: a corrected headline shows in place (no
second item, no second mail), and a page saved again another day brings
nothing.  (CI installs both readers: see ``.ci/run``.)
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as Message
from pathlib import Path

import httpx
import pytest
from smtp_sink import SmtpSink
from test_server import serving

from digest.config import Config
from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.publish.layout import present
from digest.service.jobs import run_publish
from digest.store.database import Store
from digest.types import Entry
from digest.web.server import create_app

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NEW_PAGE = ROOT / "examples" / "pages" / "2024-11-28_01.txt"
INGESTED = datetime(2024, 11, 26, 4, 0, tzinfo=UTC)
READER_TIMEOUT = 60
OPML_FILES = ("feeds.opml", "feeds-sections.opml")


@dataclass
class Paper:
    """A running service's output, served on loopback, and the way to feed it pages."""

    config: Config
    store: Store
    url: str

    def drop(self, page: Path, now: datetime) -> list[Entry]:
        """Copy ``page`` into the source folder, ingest and publish; returns the entries it added."""
        before = {e.uid for e in self.store.entries()}
        shutil.copyfile(page, self.config.paths.source / page.name)
        ingest(self.config, self.store, now)
        run_publish(self.config, self.store)
        return [e for e in self.store.entries() if e.uid not in before]

    def republish(self) -> None:
        assert run_publish(self.config, self.store).written == ()


@pytest.fixture
def paper(tmp_path: Path, seeds: Path) -> Iterator[Paper]:
    output = tmp_path / "output"
    output.mkdir()
    with serving(create_app(output)) as url:
        source = tmp_path / "pages"
        source.mkdir()
        for page in sorted(seeds.glob("*.txt")):
            shutil.copyfile(page, source / page.name)
            os.utime(source / page.name, (INGESTED.timestamp(), INGESTED.timestamp()))
        overrides = {"paths.source": source, "paths.data": tmp_path / "data", "paths.output": output}
        config = load_config(None, {**overrides, "site.base_url": url}, {})
        with Store.open(config.database_url) as store:
            ingest(config, store, INGESTED)
            run_publish(config, store)
            yield Paper(config, store, url)


def _headlines(entries: list[Entry], paper: Paper) -> dict[str, str]:
    """Atom id → the headline a reader should show."""
    return {e.tag: present(e, paper.config.tz).headline for e in entries}


def _run(command: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=READER_TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


def _need(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        reason = f"{program} is not installed (apt-get install newsboat rss2email; .ci/run does)"
        if os.environ.get("REQUIRE_READERS"):
            pytest.fail(reason)  # CI installed them: missing is an error there, not a skip
        pytest.skip(reason)
    return found


class Newsboat:
    """newsboat with its own urls file, cache and config, reloading without a terminal."""

    def __init__(self, folder: Path, feeds: list[str]) -> None:
        self.program = _need("newsboat")
        self.folder = folder
        folder.mkdir()
        (folder / "urls").write_text("".join(f"{feed}\n" for feed in feeds), encoding="utf-8")
        (folder / "config").write_text("reload-threads 2\n", encoding="utf-8")

    def reload(self) -> None:
        f = self.folder
        _run(
            [
                self.program,
                "-x",
                "reload",
                "-u",
                str(f / "urls"),
                "-c",
                str(f / "cache.db"),
                "-C",
                str(f / "config"),
            ],
            f,
        )

    def items(self) -> list[tuple[str, str, int]]:
        """(guid, title, unread) of every article newsboat keeps, whichever feed brought it.

        newsboat files an id once across all feeds, as Atom means it: an article in
        the all-articles feed and in its section's feed is one item.
        """
        with sqlite3.connect(self.folder / "cache.db") as cache:
            rows = cache.execute("SELECT guid, title, unread FROM rss_item WHERE guid LIKE 'tag:%:article/%'")
            return [(guid, title, unread) for guid, title, unread in rows]

    def mark_all_read(self) -> None:
        with sqlite3.connect(self.folder / "cache.db") as cache:
            cache.execute("UPDATE rss_item SET unread = 0")


def test_newsboat_holds_every_article_once_and_only_new_ones_turn_up_new(
    paper: Paper, tmp_path: Path
) -> None:
    # Both lists at once (all articles and digests, then every section): each article still once.
    opml = "".join(httpx.get(f"{paper.url}/{name}", timeout=10).text for name in OPML_FILES)
    feeds = [line.split('xmlUrl="')[1].split('"')[0] for line in opml.splitlines() if "xmlUrl=" in line]
    assert f"{paper.url}/feeds/all.atom" in feeds and len(feeds) > 3  # every section and the digests too
    reader = Newsboat(tmp_path / "newsboat", feeds)

    reader.reload()
    entries = paper.store.entries()
    held = reader.items()
    assert len(held) == len(entries)
    assert {guid: title for guid, title, _ in held} == _headlines(entries, paper)
    assert any("内蒙古" in title for _, title, _ in held)  # Chinese intact, not mojibake
    reader.mark_all_read()

    added = paper.drop(NEW_PAGE, INGESTED + timedelta(days=1))
    assert added
    reader.reload()
    held = reader.items()
    assert len(held) == len({guid for guid, _, _ in held}) == len(entries) + len(added)  # none twice
    assert {guid: title for guid, title, unread in held if unread} == _headlines(added, paper)
    reader.mark_all_read()

    paper.republish()
    reader.reload()
    assert sorted(reader.items()) == sorted((guid, title, 0) for guid, title, _ in held)


class Rss2Email:
    """r2e with its own config and data file, mailing through SMTP to ``sink``."""

    def __init__(self, folder: Path, sink: SmtpSink) -> None:
        self.program = _need("r2e")
        self.folder = folder
        folder.mkdir()
        (folder / "r2e.cfg").write_text(
            "[DEFAULT]\n"
            "from = r2e@example.org\n"
            "to = reader@example.org\n"
            "email-protocol = smtp\n"
            f"smtp-server = {sink.host}\n"
            f"smtp-port = {sink.port}\n"
            "smtp-ssl = False\n",
            encoding="utf-8",
        )

    def __call__(self, *args: str) -> None:
        f = self.folder
        done = _run([self.program, "-c", str(f / "r2e.cfg"), "-d", str(f / "r2e.json"), *args], f)
        assert "[ERROR]" not in done.stderr, done.stderr  # r2e exits 0 even when mail fails


def _subjects(sink: SmtpSink, start: int) -> list[str]:
    return [str(m.message()["Subject"]) for m in sink.messages[start:]]


def test_rss2email_mails_each_article_once(paper: Paper, tmp_path: Path) -> None:
    with SmtpSink() as sink:
        r2e = Rss2Email(tmp_path / "r2e", sink)
        r2e("add", "paper", f"{paper.url}/feeds/all.atom")

        r2e("run")
        entries = paper.store.entries()
        assert sorted(_subjects(sink, 0)) == sorted(_headlines(entries, paper).values())

        sent = len(sink.messages)
        added = paper.drop(NEW_PAGE, INGESTED + timedelta(days=1))
        r2e("run")
        assert sorted(_subjects(sink, sent)) == sorted(_headlines(added, paper).values())

        sent = len(sink.messages)
        paper.republish()
        r2e("run")
        assert len(sink.messages) == sent  # never a repeat


def _text(mail: Message) -> str:
    """The decoded text of every text part of ``mail``, whitespace removed (wrapping may move it)."""
    parts = (part.get_content() for part in mail.walk() if part.get_content_maintype() == "text")
    return re.sub(r"\s+", "", "".join(parts))


def test_rss2email_with_its_defaults_mails_the_whole_article(paper: Paper, tmp_path: Path) -> None:
    # Nothing in r2e.cfg but addresses and the SMTP server: html-mail stays off, so r2e takes a
    # text/plain summary over HTML content whenever there is one (feed._get_entry_content).
    with SmtpSink() as sink:
        r2e = Rss2Email(tmp_path / "r2e", sink)
        r2e("add", "paper", f"{paper.url}/feeds/all.atom")
        r2e("run")
        mails = {str(m.message()["Subject"]): m.message() for m in sink.messages}
    stories = [present(e, paper.config.tz) for e in paper.store.entries()]
    assert len(mails) == len(stories)
    long = [s for s in stories if len(s.paragraphs) > 1]
    assert long  # articles of several paragraphs, where one summary sentence would show
    for story in stories:
        text = _text(mails[story.headline])
        for paragraph in story.paragraphs:
            assert re.sub(r"\s+", "", paragraph) in text, (story.headline, paragraph)


def _fix_headline_and_resave(paper: Paper) -> tuple[str, str]:
    """A corrected headline in one page, then another page saved again a day later with CRLF line
    ends; returns the id of the corrected article and its new headline."""
    page = paper.config.paths.source / "002_963b85495dc4bc2e.txt"
    text = page.read_text(encoding="utf-8")
    assert "联合开展" in text
    page.write_text(text.replace("联合开展", "联合举办", 1), encoding="utf-8")
    later = INGESTED + timedelta(days=1)
    ingest(paper.config, paper.store, later)
    run_publish(paper.config, paper.store)
    fixed = next(e for e in paper.store.entries() if "联合举办" in (e.article.title or ""))
    other = paper.config.paths.source / "004_315bd2009427f1c6.txt"
    other.write_bytes(other.read_bytes().replace(b"\n", b"\r\n"))
    next_day = (later + timedelta(days=1)).timestamp()
    os.utime(other, (next_day, next_day))
    ingest(paper.config, paper.store, later + timedelta(days=1))
    run_publish(paper.config, paper.store)
    return fixed.tag, present(fixed, paper.config.tz).headline


def test_newsboat_shows_a_fixed_headline_in_place_and_a_resave_adds_nothing(
    paper: Paper, tmp_path: Path
) -> None:
    reader = Newsboat(tmp_path / "newsboat", [f"{paper.url}/feeds/all.atom"])
    reader.reload()
    count = len(reader.items())
    reader.mark_all_read()
    tag, headline = _fix_headline_and_resave(paper)
    reader.reload()
    held = reader.items()
    assert len(held) == len({guid for guid, _, _ in held}) == count  # no duplicate item
    assert {guid: title for guid, title, _ in held}[tag] == headline  # the fix shown in place
    assert "联合开展" not in " ".join(title for _, title, _ in held)


def test_rss2email_mails_no_second_copy_after_a_fix_or_a_resave(paper: Paper, tmp_path: Path) -> None:
    with SmtpSink() as sink:
        r2e = Rss2Email(tmp_path / "r2e", sink)
        r2e("add", "paper", f"{paper.url}/feeds/all.atom")
        r2e("run")
        sent = len(sink.messages)
        _fix_headline_and_resave(paper)
        r2e("run")
        assert len(sink.messages) == sent  # one id, one mail


# A page whose folio names its section; a parser that stops reading that name as a section
# (``parser.non_sections``, standing in for any upgrade that files articles elsewhere) empties it.
_MOVED_PAGE = (
    "西川晚报　2024年11月28日　星期四　第9版：城市生活\n\n"
    "社区食堂开门迎客\n\n"
    "　　本报讯（记者 吴二）位于桃源路的首家社区食堂昨日开门迎客，一荤两素的套餐售价十二元，"
    "六十岁以上老人凭卡享受八折优惠。\n\n"
    "夜间公交新增三条线路\n\n"
    "　　本报讯（记者 林一）市公交集团本月起新增三条夜间公交线路，分别连接火车站、大学城和高新区。\n"
)


def test_a_re_read_that_empties_a_section_keeps_its_feed_for_its_subscribers(
    paper: Paper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "2024-11-28_09.txt"
    page.write_text(_MOVED_PAGE, encoding="utf-8")
    added = paper.drop(page, INGESTED + timedelta(days=1))
    assert {e.section.name for e in added} == {"城市生活"}
    section_feed = f"{paper.url}/feeds/{added[0].section.slug}.atom"
    with SmtpSink() as sink:
        r2e = Rss2Email(tmp_path / "r2e", sink)
        r2e("add", "section", section_feed)
        r2e("run")
        assert sorted(_subjects(sink, 0)) == sorted(_headlines(added, paper).values())
        reader = Newsboat(tmp_path / "newsboat", [f"{paper.url}/feeds/all.atom", section_feed])
        reader.reload()
        held = reader.items()

        # The upgrade: another parser version reads every stored page again, on start-up.
        for module in ("pipeline", "read", "scan"):
            monkeypatch.setattr(f"digest.ingest.{module}.PARSER_VERSION", "next")
        parser = dataclasses.replace(paper.config.parser, non_sections=("城市生活",))
        paper.config = dataclasses.replace(paper.config, parser=parser)
        ingest(paper.config, paper.store, INGESTED + timedelta(days=2))
        run_publish(paper.config, paper.store)
        moved = [e for e in paper.store.entries() if e.uid in {a.uid for a in added}]
        assert len(moved) == 2 and all(e.section.name != "城市生活" and not e.retracted for e in moved)

        # Its subscribers still get a feed, not a 404 their reader reports at every fetch.
        answer = httpx.get(section_feed, timeout=10)
        assert answer.status_code == 200 and "<feed" in answer.text
        r2e("run")  # fails on r2e's "[ERROR] HTTP status 404 fetching feed"
        assert len(sink.messages) == len(added)  # and mails nothing twice
        reader.reload()
        assert sorted(reader.items()) == sorted(held)  # every article once, nothing new

    # Its page stays too, and tells a visitor why it lists nothing.
    page_answer = httpx.get(f"{paper.url}/sections/{added[0].section.slug}.html", timeout=10)
    assert page_answer.status_code == 200 and "本版块眼下没有文章" in page_answer.text
