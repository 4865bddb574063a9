"""Email subscribers of a section a re-read emptied are told so once (SQLite and PostgreSQL, a real
SMTP server, the real subscription forms).

A page file names its section in its folio (``第9版：城市生活``); corrected to ``城市`` and read again,
its articles move to ``城市`` and ``城市生活`` has none.  Whoever chose ``城市生活`` for the daily email
would get nothing from it again, which reads like quiet days.  The next daily digest run tells each of
them once, in plain Chinese: in that day's digest, or, when nothing else they chose has an article that
day, in a short email of its own; never again the day after.  Their choice of sections is not changed.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
from faulty_smtp import SilentSmtp
from loopback import wait_for
from smtp_sink import Received, SmtpSink
from test_server import serving

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.mail.sendrun import SERVER_DOWN_AFTER
from digest.mail.transports import OutboxMailer, SmtpMailer
from digest.service.jobs import retry_deliveries, run_digest
from digest.store.database import Store
from digest.store.records import DeliveryState, DigestRecord, Notice, NoticeKind, Subscriber
from digest.store.sections import TOLD_MEANWHILE
from digest.types import Section
from digest.web.server import create_app
from digest.web.subscriptions import create_subscription_app, subscription_routes

CITY_PAGE = "2024-11-26_09.txt"
CITY_FOLIO = "西川晚报　2024年11月26日　星期二　第9版："
CITY_BODY = (
    "\n\n社区食堂开门迎客\n\n"
    "　　本报讯（记者 吴二）位于桃源路的首家社区食堂昨日开门迎客，一荤两素的套餐售价十二元，"
    "六十岁以上老人凭卡享受八折优惠。\n\n"
    "夜间公交新增三条线路\n\n"
    "　　本报讯（记者 林一）市公交集团本月起新增三条夜间公交线路，分别连接火车站、大学城和高新区。\n"
)
# One front page a day, so every digest has something for the subscribers of 要闻.
NEWS = {
    26: "全市冬季供暖今起全面开启\n\n　　本报讯（记者 赵六）全市集中供暖今日零时起全面开启，比往年早三天。\n",
    27: "新建三座口袋公园对外开放\n\n　　本报讯（记者 钱七）城东、城南和城西的三座口袋公园昨日对外开放。\n",
    28: "地铁五号线完成全线试运行\n\n　　本报讯（记者 孙八）地铁五号线昨日完成全线试运行，预计年底开通。\n",
    29: "市图书馆延长周末开放时间\n\n　　本报讯（记者 李九）市图书馆本周起把周末闭馆时间推迟到晚上九点。\n",
    30: "老旧小区加装电梯再添百部\n\n　　本报讯（记者 周十）今年全市老旧小区又加装电梯一百零四部。\n",
}
WEEKDAYS = {26: "星期二", 27: "星期三", 28: "星期四", 29: "星期五", 30: "星期六"}
BOTH, ONLY, EVERYTHING = "both@example.org", "only@example.org", "everything@example.org"
TOLD = "没有文章了"  # what every notice says, in the digest and in an email of its own


def _morning(day: int) -> datetime:
    """10:00 in Shanghai on November ``day`` 2024: after that day's 07:00 digest."""
    return datetime.fromisoformat(f"2024-11-{day:02d}T02:00:00+00:00")


def _digest_time(day: int) -> datetime:
    """09:30 in Shanghai on November ``day`` 2024: the digest of that day is due."""
    return datetime.fromisoformat(f"2024-11-{day:02d}T01:30:00+00:00")


def _front_page(config: Config, day: int) -> None:
    folio = f"西川晚报　2024年11月{day}日　{WEEKDAYS[day]}　第1版：要闻\n\n"
    (config.paths.source / f"2024-11-{day:02d}_01.txt").write_text(folio + NEWS[day], encoding="utf-8")


def _city_page(config: Config, name: str) -> None:
    (config.paths.source / CITY_PAGE).write_text(CITY_FOLIO + name + CITY_BODY, encoding="utf-8")


def _section(store: Store, name: str) -> Section:
    (section,) = {entry.section for entry in store.entries() if entry.section.name == name}
    return section


def _subscribe(store: Store, city: Section, news: Section, now: datetime) -> None:
    for email, sections in ((BOTH, (city.slug, news.slug)), (ONLY, (city.slug,)), (EVERYTHING, ())):
        store.add_subscriber(Subscriber(email, sections, True, now))


def _run(config: Config, store: Store, sink: SmtpSink, day: int, retry: bool = False) -> dict[str, Received]:
    """The digest job of November ``day`` (``retry``: the retry job, two minutes later); what each
    address received from it."""
    before = len(sink.messages)
    with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
        if retry:
            retry_deliveries(config, store, mailer, _digest_time(day) + timedelta(minutes=2))
        else:
            run_digest(config, store, mailer, _digest_time(day))
    got: dict[str, Received] = {}
    for received in sink.messages[before:]:
        assert received.recipients[0] not in got, f"two emails to {received.recipients[0]}"
        got[received.recipients[0]] = received
    return got


def _parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML parts of an email."""
    text, html = (message.get_body(preferencelist=(kind,)) for kind in ("plain", "html"))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return text.get_content().replace("\r\n", "\n"), html.get_content()


def _unwrapped(text: str) -> str:
    """The plain text on one line: its 72-column wrapping may fall inside a sentence."""
    return text.replace("\n", "")


def _preferences_link(text: str) -> str:
    (link,) = {str(found) for found in re.findall(r"https?://\S+/preferences/\S+", text)}
    return link


def _told(received: dict[str, Received]) -> set[str]:
    """Who among ``received`` was told of an emptied section."""
    return {email for email, one in received.items() if TOLD in _unwrapped(_parts(one.message())[0])}


def test_a_subscriber_of_an_emptied_section_is_told_once_in_the_digest_or_apart(
    mailing: Config, store: Store, sink: SmtpSink, tmp_path: Path
) -> None:
    config = mailing
    base = config.site.base_url.rstrip("/")
    _city_page(config, "城市生活")
    _front_page(config, 26)
    ingest(config, store, _morning(26))
    city, news = _section(store, "城市生活"), _section(store, "要闻")
    _subscribe(store, city, news, _morning(26))

    # Day 1: 城市生活 has articles; every digest is an ordinary one.
    first = _run(config, store, sink, 27)
    assert set(first) == {BOTH, ONLY, EVERYTHING}
    assert _told(first) == set()

    # The page is corrected: its articles move to 城市, and 城市生活 has none.
    _city_page(config, "城市")
    _front_page(config, 27)
    ingest(config, store, _morning(27))
    assert city in store.emptied_sections()

    second = _run(config, store, sink, 28)
    assert set(second) == {BOTH, ONLY, EVERYTHING}
    # In the digest of whoever chose 城市生活 and a section that has articles today...
    text, html = _parts(second[BOTH].message())
    told = _unwrapped(text)
    assert "【版面变动】" in text and f"您订阅的“城市生活”版面现在{TOLD}" in told
    assert "新建三座口袋公园对外开放" in text  # the digest itself is there too
    assert f"\n网站上现有的版面：{base}/\n" in text and "\n重新选择版面：" in text
    assert "版面变动" in html and "城市生活" in html and f'href="{base}/"' in html
    assert _preferences_link(text) in html  # the same personal link in both parts
    # ... and in an email of its own for whoever chose only 城市生活, which has nothing today.
    alone = second[ONLY]
    message = alone.message()
    assert "城市生活" in str(message["Subject"]) and TOLD in str(message["Subject"])
    text, html = _parts(message)
    told = _unwrapped(text)
    assert f"您订阅的“城市生活”版面现在{TOLD}" in told and "您的订阅没有改动" in told
    assert f"\n网站上现有的版面：{base}/\n" in text and "\n退订：" in text
    assert "城市生活" in html and _preferences_link(text) in html
    # It is list mail: one-click unsubscribe, whose header the email package must not encode.
    head = alone.data.split(b"\r\n\r\n", 1)[0]
    unsubscribe = re.search(rb"\r\nList-Unsubscribe: (.*?)\r\n(?! )", head, re.S)
    assert unsubscribe is not None and b"=?" not in unsubscribe.group(1)
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head
    assert message["List-Id"] is not None
    # Whoever takes every section is not concerned.
    assert (
        _told(second) == {BOTH, ONLY}
        and "新建三座口袋公园对外开放" in _parts(second[EVERYTHING].message())[0]
    )

    # The link to change the subscription opens the real preferences form, 城市 on offer.
    forms = create_subscription_app(config, store, lambda: OutboxMailer(tmp_path / "outbox"))
    with serving(create_app(config.paths.output, routes=subscription_routes(forms))) as site:
        link = _preferences_link(text).replace(base, site)
        form = httpx.get(link, timeout=10)
    assert form.status_code == 200 and "订阅设置" in form.text
    assert f'value="{_section(store, "城市").slug}"' in form.text

    # The next day: told already, so no notice anywhere, and nothing at all for the one with nothing.
    _front_page(config, 28)
    ingest(config, store, _morning(28))
    third = _run(config, store, sink, 29)
    assert set(third) == {BOTH, EVERYTHING}
    assert _told(third) == set()
    # Nobody's choice was changed behind their back.
    chosen = {subscriber.email: subscriber.sections for subscriber in store.subscribers()}
    assert chosen == {BOTH: (city.slug, news.slug), ONLY: (city.slug,), EVERYTHING: ()}


def _emptied_and_mailed(config: Config, store: Store, sink: SmtpSink) -> Section:
    """Day 1's digest with 城市生活, then its page corrected to 城市, and a new front page."""
    _city_page(config, "城市生活")
    _front_page(config, 26)
    ingest(config, store, _morning(26))
    city = _section(store, "城市生活")
    _subscribe(store, city, _section(store, "要闻"), _morning(26))
    _run(config, store, sink, 27)
    _city_page(config, "城市")
    _front_page(config, 27)
    ingest(config, store, _morning(27))
    return city


def test_a_section_that_has_articles_again_and_empties_once_more_is_told_again(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    config = mailing
    _emptied_and_mailed(config, store, sink)
    assert _told(_run(config, store, sink, 28)) == {BOTH, ONLY}

    # The page is read as 城市生活 again: its articles are back, nothing to tell.
    _city_page(config, "城市生活")
    _front_page(config, 28)
    ingest(config, store, _morning(28))
    back = _run(config, store, sink, 29)
    assert set(back) == {BOTH, EVERYTHING} and _told(back) == set()

    # Emptied once more: told once more, once.
    _city_page(config, "城市")
    _front_page(config, 29)
    ingest(config, store, _morning(29))
    again = _run(config, store, sink, 30)
    assert set(again) == {BOTH, ONLY, EVERYTHING} and _told(again) == {BOTH, ONLY}


def test_a_notice_that_did_not_arrive_is_carried_by_the_retry_and_arrives_once(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    config = mailing
    _emptied_and_mailed(config, store, sink)
    # The digest telling BOTH is refused for now after its whole body (past the ledger's commit,
    # where the notice is noted as told); the email of its own to ONLY is refused for now at RCPT.
    sink.refuse(BOTH, 451, times=1, stage="data")
    sink.refuse(ONLY, 421, times=1)
    first = _run(config, store, sink, 28)
    assert set(first) == {EVERYTHING} and (BOTH, 451) in sink.attempts and (ONLY, 421) in sink.attempts
    assert store.emptied_to_tell().keys() == {BOTH, ONLY}  # neither counts as told

    retried = _run(config, store, sink, 28, retry=True)
    assert set(retried) == {BOTH, ONLY} and _told(retried) == {BOTH, ONLY}
    assert store.emptied_to_tell() == {}
    # The retry job once more, then the next day: nobody is told twice.
    assert _run(config, store, sink, 28, retry=True) == {}
    _front_page(config, 28)
    ingest(config, store, _morning(28))
    assert _told(_run(config, store, sink, 29)) == set()


def test_a_dry_run_shows_the_notice_without_counting_it_told(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    config = mailing
    _emptied_and_mailed(config, store, sink)
    dry = run_digest(
        config, store, OutboxMailer(config.paths.data / "unused"), _digest_time(28), dry_run=True
    )
    assert dry.written_to is not None
    (both,) = dry.written_to.glob(f"*-{BOTH}-*.eml")
    message = message_from_bytes(both.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage) and TOLD in _unwrapped(_parts(message)[0])
    assert store.emptied_to_tell().keys() == {BOTH, ONLY}


def test_whoever_leaves_takes_the_record_of_what_they_were_told_along(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    config = mailing
    city = _emptied_and_mailed(config, store, sink)
    _run(config, store, sink, 28)
    assert store.emptied_to_tell() == {}
    assert store.remove_subscriber(ONLY)  # its told row goes with it (the foreign key's cascade)
    store.add_subscriber(Subscriber(ONLY, (city.slug,), True, _morning(28)))
    assert store.emptied_to_tell() == {ONLY: (city,)}


def test_two_retry_jobs_at_once_send_the_notice_once(mailing: Config, store: Store, sink: SmtpSink) -> None:
    """Two instances' retry jobs (or the daily run and a retry) at once, while the server takes half a
    second a message: before, both read the waiting notice and sent it, and its reader got two."""
    config = mailing
    _emptied_and_mailed(config, store, sink)
    sink.refuse(ONLY, 421, times=1)
    assert ONLY not in _run(config, store, sink, 28)  # its email of its own waits for a retry
    sink.delay = 0.5
    before = len(sink.messages)
    barrier = threading.Barrier(2)

    def retry_job() -> None:
        with Store.open(config.database_url) as own, closing(SmtpMailer(config.smtp, timeout=10)) as mailer:
            barrier.wait()
            retry_deliveries(config, own, mailer, _digest_time(28) + timedelta(minutes=2))

    jobs = [threading.Thread(target=retry_job) for _ in range(2)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=60)
    assert [received.recipients for received in sink.messages[before:]] == [(ONLY,)]
    assert store.emptied_to_tell() == {}


# --- the run heeds a request to stop and a server that seems down --------------------------------------

# More subscribers of the emptied section alone: each gets an email of its own about it.
ALONE = tuple(f"city{n}@example.org" for n in range(4))


def _more_who_chose_it_alone(store: Store, city: Section) -> None:
    for email in ALONE:
        store.add_subscriber(Subscriber(email, (city.slug,), True, _morning(27)))


def test_stopping_ends_the_emails_about_emptied_sections_between_two(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    """SIGTERM while the daily run sends the emails about emptied sections.  Before, those went on to
    every subscriber concerned whatever ``stopping()`` said (each costing the mailer's 30 s with a
    silent server), and ``digest serve`` waited for them to stop; now the run stops between two, as the
    digest's copies do, and the rest wait for the retry job, which tells each of them once."""
    config = mailing
    city = _emptied_and_mailed(config, store, sink)
    _more_who_chose_it_alone(store, city)
    before = len(sink.messages)

    def stopping() -> bool:  # SIGTERM comes once the first email about the emptied section alone is out
        return any(received.recipients[0] in ALONE for received in sink.messages[before:])

    with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
        run_digest(config, store, mailer, _digest_time(28), stopping=stopping)
    assert [received.recipients[0] for received in sink.messages[before:]] == [BOTH, EVERYTHING, ALONE[0]]
    assert {notice.email for notice in store.due_notices(_digest_time(28))} == {*ALONE[1:], ONLY}

    retried = _run(config, store, sink, 28, retry=True)
    assert set(retried) == _told(retried) == {*ALONE[1:], ONLY}
    assert store.emptied_to_tell() == {}


def test_a_silent_server_is_tried_only_until_it_seems_down(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    """A mail server that takes connections and never answers.  Before, the digest's copies stopped
    after three failures in a row but the emails about emptied sections tried it once per subscriber,
    each for the mailer's whole timeout, holding the job lock; now the run's three failures put the rest
    off to the same retry, and the retry job tells each subscriber once when the server is back."""
    config = mailing
    city = _emptied_and_mailed(config, store, sink)
    _more_who_chose_it_alone(store, city)
    with SilentSmtp() as silent:
        down = dataclasses.replace(
            config, smtp=dataclasses.replace(config.smtp, host=silent.host, port=silent.port)
        )
        with closing(SmtpMailer(down.smtp, timeout=1)) as mailer:
            run_digest(down, store, mailer, _digest_time(28))
        tried = silent.connections
    assert tried == SERVER_DOWN_AFTER  # the two copies and one email of its own; before, all seven
    waiting = store.notices()
    assert {notice.email for notice in waiting} == {*ALONE, ONLY}
    retry_at = _digest_time(28) + timedelta(seconds=config.digest.retry_seconds)
    assert {(notice.status, notice.next_attempt_at) for notice in waiting} <= {
        (DeliveryState.FAILED, retry_at),
        (DeliveryState.PENDING, retry_at),
    }

    retried = _run(config, store, sink, 28, retry=True)  # the server is back
    assert set(retried) == {BOTH, EVERYTHING, ONLY, *ALONE}
    assert _told(retried) == {BOTH, ONLY, *ALONE}


# --- two runs at once ---------------------------------------------------------------------------------


def test_two_digest_runs_at_once_tell_a_subscriber_once(
    mailing: Config, store: Store, sink: SmtpSink
) -> None:
    """The service's 07:00 run and an operator's ``digest send-digest --day`` of the day before (or two
    instances at a leader hand-over), both with a copy for a subscriber not told yet of an emptied
    section.  Before, each run read whom to tell before sending, so both copies told it; now the copy's
    commit claims the note: the second is abandoned before its final "." and waits to go again, and
    the retry job sends it without the note."""
    config = mailing
    _emptied_and_mailed(config, store, sink)
    # Addresses each run sends to before BOTH (refused once on the 28th, so that day's re-run has them
    # too), and one in between that takes its copy, so that three failures in a row defer nothing.
    early = ("a0@example.org", "a1@example.org")
    for email in (*early, "b0@example.org"):
        store.add_subscriber(Subscriber(email, (), True, _morning(27)))
    for email in (*early, BOTH):
        sink.refuse(email, 451, times=1)
    _run(config, store, sink, 28)
    assert BOTH in store.emptied_to_tell()  # its copy of the 28th, which told it, did not go
    _front_page(config, 28)
    ingest(config, store, _morning(28))
    seven = datetime.fromisoformat("2024-11-28T23:05:00+00:00")  # 07:05 in Shanghai on the 29th
    sink.delay = 0.5
    before = len(sink.messages)

    def send(**which: object) -> None:
        with Store.open(config.database_url) as own, closing(SmtpMailer(config.smtp, timeout=10)) as mailer:
            run_digest(config, own, mailer, seven, **which)  # type: ignore[arg-type]

    daily = threading.Thread(target=send)
    daily.start()
    # Once the daily run sends, it has read whom to tell; the one by hand reads it before either reaches BOTH.
    wait_for(lambda: len(sink.messages) > before, 20, "the daily run to send")
    by_hand = threading.Thread(target=send, kwargs={"day": date(2024, 11, 28), "retry_now": True})
    by_hand.start()
    for run in (daily, by_hand):
        run.join(60)
    (told,) = [m for m in sink.messages[before:] if m.recipients[0] == BOTH]
    assert TOLD in _unwrapped(_parts(told.message())[0])
    (released,) = [
        row
        for day in (date(2024, 11, 28), date(2024, 11, 29))
        for row in store.deliveries(day)
        if row.email == BOTH and row.status != DeliveryState.SENT
    ]
    assert (released.status, released.last_error) == (DeliveryState.FAILED, TOLD_MEANWHILE)

    again = len(sink.messages)
    with closing(SmtpMailer(config.smtp, timeout=10)) as mailer:
        retry_deliveries(config, store, mailer, seven + timedelta(minutes=1))
    (second,) = [m for m in sink.messages[again:] if m.recipients[0] == BOTH]
    assert TOLD not in _unwrapped(_parts(second.message())[0])
    assert store.emptied_to_tell() == {}


def _only_notice(store: Store, email: str) -> Notice:
    (notice,) = store.notices(email)
    return notice


def test_a_commit_telling_of_a_section_another_email_told_first_is_released(store: Store) -> None:
    """Two emails to one address both telling of an emptied section (two digest runs at once, or a
    copy and the email of its own): the first commit notes it told; the second is refused, notes
    nothing, and its row waits again, due at once, to be composed without that section."""
    at = _morning(27)
    slug = store.filed_sections(["城市生活"], lambda _name: "cheng-shi-sheng-huo", str)["城市生活"].slug
    other = store.filed_sections(["文体"], lambda _name: "wen-ti", str)["文体"].slug
    store.add_subscriber(Subscriber(BOTH, (slug, other), True, at))
    days = (date(2024, 11, 27), date(2024, 11, 28))
    for day in days:
        made = datetime.combine(day, datetime.min.time(), UTC)
        assert store.save_digest(DigestRecord(day, made - timedelta(days=1), made, made, 1), [BOTH])
    assert store.claim_delivery(days[0], BOTH, "run:1") and store.claim_delivery(days[1], BOTH, "run:2")
    store.queue_notice(BOTH, NoticeKind.EMPTIED, at)
    assert store.claim_notice(_only_notice(store, BOTH), "run:3", datetime.now(UTC))

    assert store.commit_delivery(days[0], BOTH, "run:1", [slug], at)
    # The other two told of it too, one with a section not told yet: neither notes anything.
    assert not store.commit_delivery(days[1], BOTH, "run:2", [other, slug], at)
    assert not store.commit_notice(_only_notice(store, BOTH), "run:3", [slug], at)
    (row,) = store.deliveries(days[1])
    notice = _only_notice(store, BOTH)
    for waiting in (row, notice):
        assert (waiting.status, waiting.last_error) == (DeliveryState.FAILED, TOLD_MEANWHILE)
        assert waiting.next_attempt_at is None
    assert [s.slug for s in store.emptied_to_tell()[BOTH]] == [other]
    # Sent again without it, they commit.
    assert store.claim_delivery(days[1], BOTH, "run:4")
    assert store.commit_delivery(days[1], BOTH, "run:4", [other], at)
    assert store.emptied_to_tell() == {}
