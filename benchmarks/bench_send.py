"""Digest send rate: one digest to many subscribers through a local SMTP sink, ledger and all.

    python benchmarks/bench_send.py [--subscribers 10000] [--quick] [--pipelining]

The sink (aiosmtpd, the one the tests use) runs in another process, so it
does not share our interpreter.  What is timed is the whole ``run_digest``:
the digest and its ledger rows are written (SQLite), the site is published,
and every email is composed, claimed in the ledger, handed over on one
reused SMTP connection and marked sent.  The issue's aim is at least 100
messages/s.  ``--pipelining`` has the sink announce PIPELINING (RFC 2920), as
Postfix and most relays do, so MAIL, RCPT and DATA go in one write.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

from digest.config_checks import load_config
from digest.mail.transports import SmtpMailer
from digest.paper.slugs import slugify
from digest.publish.digests import digest_window
from digest.service.jobs import due_day, run_digest
from digest.store.database import Store
from digest.store.records import Subscriber
from digest.types import Article, Credit, Entry, Section

TESTS = Path(__file__).resolve().parents[1] / "tests"
SECTIONS = ("要闻", "经济", "社会", "文化", "体育", "众观")
NOW = datetime(2024, 11, 27, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, after the 07:00 digest


def _sink(pipe: Connection, pipelining: bool) -> None:
    """The child process: an SMTP sink that counts, until told to stop; then it reports the count."""
    sys.path.insert(0, str(TESTS))
    from smtp_sink import SmtpSink

    with SmtpSink(keep=False) as sink:
        sink.pipelining = pipelining
        pipe.send(sink.port)
        pipe.recv()
        pipe.send(sink.count)


def sample_entries(day_end: datetime, count: int) -> list[Entry]:
    """``count`` articles of the day ending ``day_end``, round the sections of ``SECTIONS``."""
    seen = day_end - timedelta(hours=3)
    entries = []
    for n in range(count):
        name = SECTIONS[n % len(SECTIONS)]
        article = Article(
            title=f"第{n}篇：全省重点项目建设稳步推进",
            body="记者从有关部门获悉，今年以来全省重点项目建设进展顺利。" * 4 + "\n下一段正文。",
            section=name,
            kicker="聚焦",
            credits=(Credit("白莲", "本报记者"),),
        )
        entries.append(
            Entry(
                uid=f"b{n:04d}",
                tag=f"tag:bench,2024:article/b{n:04d}",
                article=article,
                section=Section(name, slugify(name)),
                issue_date=day_end.date(),
                published=seen,
                updated=seen,
                first_seen=seen,
                source="bench.txt",
                position=n,
            )
        )
    return entries


def measure(subscribers: int = 10_000, articles: int = 30, pipelining: bool = False) -> dict[str, float]:
    """Send one digest of ``articles`` articles to ``subscribers`` addresses; seconds and rate."""
    parent, child = multiprocessing.Pipe()
    sink = multiprocessing.get_context("spawn").Process(target=_sink, args=(child, pipelining), daemon=True)
    sink.start()
    port = parent.recv()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-send-") as work:
            folder = Path(work)
            (folder / "pages").mkdir()
            config = load_config(
                None,
                {
                    "paths.source": folder / "pages",
                    "paths.data": folder / "data",
                    "paths.output": folder / "output",
                    "smtp.host": "127.0.0.1",
                    "smtp.port": port,
                    "smtp.security": "none",
                },
                {},
            )
            with Store.open(config.database_url) as store:
                _, until = digest_window(due_day(config, NOW), config.digest_clock, config.tz, None)
                store.upsert_entries(sample_entries(until, articles))
                # A few subscribers choose sections, as real ones do: their emails are rendered apart.
                store.add_subscribers(
                    [
                        Subscriber(
                            f"reader{n:05d}@example.org", ("yao-wen",) if n % 10 == 0 else (), True, NOW
                        )
                        for n in range(subscribers)
                    ]
                )
                mailer = SmtpMailer(config.smtp, timeout=30)
                started = time.perf_counter()
                try:
                    result = run_digest(config, store, mailer, NOW)
                finally:
                    mailer.close()
                elapsed = time.perf_counter() - started
        parent.send("stop")
        received = parent.recv()
    finally:
        sink.join(timeout=10)
    if result.sent != subscribers or received != subscribers:
        raise SystemExit(f"sent {result.sent}, the sink took {received}, expected {subscribers}")
    return {"subscribers": subscribers, "seconds": elapsed, "per_s": subscribers / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000, help="how many addresses")
    parser.add_argument("--quick", action="store_true", help="1,000 subscribers")
    parser.add_argument("--pipelining", action="store_true", help="the sink announces PIPELINING")
    args = parser.parse_args()
    result = measure(1_000 if args.quick else args.subscribers, pipelining=args.pipelining)
    print(f"digest to {result['subscribers']:,.0f} subscribers in {result['seconds']:.1f} s")
    pipelined = ", pipelined" if args.pipelining else ""
    print(f"send rate   {result['per_s']:,.0f} messages/s (ledger on SQLite, one SMTP connection{pipelined})")


if __name__ == "__main__":
    main()
