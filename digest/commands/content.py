"""Commands over the newspaper's content: reading pages in, publishing, retracting, parsing one page."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from digest.commands.common import (
    command_config,
    recorded,
    utc_now,
)
from digest.errors import SourceError


def cmd_ingest(args: argparse.Namespace) -> int:
    from digest.ingest.pipeline import ingest
    from digest.progress import reporter
    from digest.service.health import ingest_counts
    from digest.store.database import Store

    config = command_config(args)
    paths = [Path(p).absolute() for p in args.paths] or None
    for path in paths or []:
        if not path.exists():
            raise SourceError(str(path), "no such file or folder")
    with recorded(config, "ingest", "ingest") as run, Store.open(config.database_url) as store:
        report = ingest(
            config, store, utc_now(), paths, reparse=args.reparse, progress=reporter("ingest", "files")
        )
        run.done(ingest_counts(report), report.ms)
    print(
        f"ingested {report.files} files: {report.read} read, {report.unchanged} unchanged, "
        f"{report.failed} failed; {report.articles} articles ({report.new} new, {report.changed} changed)"
        + (f"; {report.retracted} retracted" if report.retracted else "")
    )
    return 1 if report.failed else 0


def cmd_publish(args: argparse.Namespace) -> int:
    from digest.progress import reporter
    from digest.service.health import publish_counts
    from digest.service.publish_job import run_publish
    from digest.store.database import Store

    config = command_config(args)
    with recorded(config, "publish", "publish") as run, Store.open(config.database_url) as store:
        report = run_publish(config, store, full=args.full, progress=reporter("publish", "articles"))
        run.done(publish_counts(report))
    mode = "full rebuild" if report.full else "changes only"
    print(
        f"published to {config.paths.output} ({mode}): {report.written_count} written, "
        f"{report.unchanged} unchanged, {len(report.removed)} removed"
    )
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """``ingest`` then ``publish --full`` in one process: the operator's full rebuild."""
    from digest.ingest.pipeline import ingest
    from digest.progress import reporter
    from digest.service.health import ingest_counts, publish_counts
    from digest.service.publish_job import run_publish
    from digest.store.database import Store

    config = command_config(args)
    # The database out of reach fails the first job, the ingest.
    with recorded(config, "build", "ingest") as reading, Store.open(config.database_url) as store:
        read = ingest(config, store, utc_now(), progress=reporter("ingest", "files"))
        reading.done(ingest_counts(read), read.ms)
        with recorded(config, "build", "publish") as publishing:
            published = run_publish(config, store, full=True, progress=reporter("publish", "articles"))
            publishing.done(publish_counts(published))
    print(
        f"built {config.paths.output}: {read.files} files ({read.failed} failed), {read.articles} articles "
        f"({read.new} new, {read.changed} changed); {published.written_count} files written, "
        f"{published.unchanged} unchanged, {len(published.removed)} removed"
    )
    return 1 if read.failed else 0


def article_key(text: str) -> str:
    """The uid or ``tag:`` id an article is named by: an id as given, or the uid in its page URL."""
    text = text.strip()
    if text.startswith("tag:"):
        return text
    name = text.rstrip("/").rsplit("/", 1)[-1].partition("?")[0]
    return name.removesuffix(".html")


def cmd_retract(args: argparse.Namespace) -> int:
    from digest.errors import UnknownArticleError
    from digest.publish.moved import successors
    from digest.service.publish_job import run_publish
    from digest.store.database import Store
    from digest.types import Retraction

    config = command_config(args)
    key = article_key(args.article)
    heir = None
    with Store.open(config.database_url) as store:
        entry = store.find_entry(key)
        if entry is None:
            raise UnknownArticleError(
                f"no article has the id {key!r}; give its tag: id, or the URL of its page "
                "(…/articles/YYYY-MM-DD/<id>.html)"
            )
        if args.restore:
            done = store.restore(entry.uid)
        elif entry.retracted is not None and entry.successor:
            # Merged into another by a re-read, its URL leads there: withdrawn by hand, it stops.
            heir = successors(store, [entry]).get(entry.uid)
            done = store.withdraw_merged(entry.uid, utc_now())
        else:
            done = store.retract([entry.uid], Retraction.BY_HAND, utc_now()) == 1
        if done:
            run_publish(config, store)
    title = entry.article.title or entry.uid
    if args.restore:
        print(f"restored {entry.tag} ({title})" if done else f"{entry.tag} ({title}) was not retracted")
    elif heir is not None:
        print(
            f"retracted {entry.tag} ({title}): a re-read had merged it into {heir.tag} "
            f"({heir.article.title or heir.uid}), where its URL led; it now answers the withdrawal "
            f"notice. Its text stays in {heir.tag}: `digest retract {heir.tag}` withdraws that too"
        )
    else:
        print(f"retracted {entry.tag} ({title})" if done else f"{entry.tag} ({title}) was already retracted")
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from digest.config import read_config
    from digest.config_checks import encoding_problems, parser_problems
    from digest.paper.conventions import conventions_for
    from digest.paper.decode import decode_page
    from digest.paper.parse import parse_page
    from digest.paper.report import page_json, render_page

    # Only the [parser] table and ingest.encoding of a config named with --config matter here (else the
    # built-in conventions and detection): a config whose folders do not exist still reads pages.
    named = getattr(args, "config", None)
    config = read_config(Path(named) if named else None, None, os.environ)
    parser_config, encoding = config.parser, config.ingest.encoding
    problems = encoding_problems(config.ingest) + parser_problems(parser_config)
    if problems:
        raise problems[0]
    conventions = conventions_for(parser_config)
    failed = 0
    for name in args.files:
        path = Path(name)
        try:
            text = decode_page(path.read_bytes(), name, encoding)
        except OSError as exc:
            print(f"error: {name}: cannot read ({exc.strerror})", file=sys.stderr)
            failed += 1
            continue
        except SourceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        page = parse_page(text, path.name, conventions, args.issue)
        if args.jsonl:
            print(json.dumps(page_json(page), ensure_ascii=False))
        else:
            print(render_page(page))
    return 1 if failed else 0
