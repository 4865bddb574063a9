"""The ``digest`` command: one entry point for every job, each with ``--help``.

Expected failures (``DigestError``) print one line, ``error: ...``, and exit
with status 2 for configuration problems (and a database schema that does not fit) or 1
otherwise; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digest import __version__
from digest.errors import AlreadyRunningError, ConfigError, DigestError, SchemaError, SourceError
from digest.logs import LogFormat, configure

if TYPE_CHECKING:
    from digest.config import Config
    from digest.store.database import Store
    from digest.store.records import DeliverySummary
    from digest.store.versioning import SchemaVersion

# Each command imports what it needs when it runs: importing every module (the database layer,
# the mailer, the HTTP client, pinyin tables) made even ``digest --help`` take most of a second.
# The configuration loader too (TOML, time zones, the dating patterns): ``--help`` needs none of it.

DEFAULT_CONFIG = Path("config.toml")
LOG_LEVELS = ("debug", "info", "warning", "error")

Handler = Callable[[argparse.Namespace], int]


def _config(args: argparse.Namespace) -> Config:
    """Load the configuration the options name, with the options applied on top.

    Logging follows the file's ``logging.format`` unless ``--log-format`` chose.
    """
    from digest.config_checks import load_config

    config = load_config(_config_path(args), _overrides(args), os.environ)
    if getattr(args, "log_format", None) is None and config.logging.format != LogFormat.AUTO:
        configure(_log_level(args), LogFormat(config.logging.format))
    return _serving_url(args, config)


def _config_path(args: argparse.Namespace) -> Path | None:
    if getattr(args, "config", None) is not None:
        return Path(args.config)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    names = {
        "source": "paths.source",
        "data": "paths.data",
        "output": "paths.output",
        "host": "server.host",
        "port": "server.port",
    }
    return {key: getattr(args, name) for name, key in names.items() if getattr(args, name, None) is not None}


def _serving_url(args: argparse.Namespace, config: Config) -> Config:
    """``serve --port 8081`` with ``site.base_url`` left at its default links to port 8081, not 8080."""
    from digest.config import SiteConfig

    moved = getattr(args, "port", None) is not None or getattr(args, "host", None) is not None
    if not moved or config.site.base_url != SiteConfig.base_url:
        return config
    host = config.server.host if config.server.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    site = dataclasses.replace(config.site, base_url=f"http://{host}:{config.server.port}")
    return dataclasses.replace(config, site=site)


def _log_level(args: argparse.Namespace) -> str:
    level: str | None = getattr(args, "log_level", None)
    return level or ("info" if args.command == "serve" else "warning")


def _now() -> datetime:
    return datetime.now(UTC)


def cmd_serve(args: argparse.Namespace) -> int:
    # uvicorn, watchfiles and APScheduler load only when serving: the other commands start faster.
    from digest.service.serve import serve

    serve(_config(args))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from digest.ingest.pipeline import ingest
    from digest.progress import reporter
    from digest.store.database import Store

    config = _config(args)
    paths = [Path(p).absolute() for p in args.paths] or None
    for path in paths or []:
        if not path.exists():
            raise SourceError(str(path), "no such file or folder")
    with Store.open(config.database_url) as store:
        report = ingest(
            config, store, _now(), paths, reparse=args.reparse, progress=reporter("ingest", "files")
        )
    print(
        f"ingested {report.files} files: {report.read} read, {report.unchanged} unchanged, "
        f"{report.failed} failed; {report.articles} articles ({report.new} new, {report.changed} changed)"
        + (f"; {report.retracted} retracted" if report.retracted else "")
    )
    return 1 if report.failed else 0


def cmd_publish(args: argparse.Namespace) -> int:
    from digest.progress import reporter
    from digest.service.publish_job import run_publish
    from digest.store.database import Store

    config = _config(args)
    with Store.open(config.database_url) as store:
        report = run_publish(config, store, full=args.full, progress=reporter("publish", "articles"))
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
    from digest.service.publish_job import run_publish
    from digest.store.database import Store

    config = _config(args)
    with Store.open(config.database_url) as store:
        read = ingest(config, store, _now(), progress=reporter("ingest", "files"))
        published = run_publish(config, store, full=True, progress=reporter("publish", "articles"))
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
    from digest.service.publish_job import run_publish
    from digest.store.database import Store
    from digest.types import Retraction

    config = _config(args)
    key = article_key(args.article)
    with Store.open(config.database_url) as store:
        entry = store.find_entry(key)
        if entry is None:
            raise UnknownArticleError(
                f"no article has the id {key!r}; give its tag: id, or the URL of its page "
                "(…/articles/YYYY-MM-DD/<id>.html)"
            )
        if args.restore:
            done = store.restore(entry.uid)
        else:
            done = store.retract([entry.uid], Retraction.BY_HAND, _now()) == 1
        if done:
            run_publish(config, store)
    title = entry.article.title or entry.uid
    if args.restore:
        print(f"restored {entry.tag} ({title})" if done else f"{entry.tag} ({title}) was not retracted")
    else:
        print(f"retracted {entry.tag} ({title})" if done else f"{entry.tag} ({title}) was already retracted")
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from digest.config import read_config
    from digest.config_checks import parser_problems
    from digest.paper.conventions import conventions_for
    from digest.paper.decode import decode_page
    from digest.paper.parse import parse_page
    from digest.paper.report import page_json, render_page

    # Only the [parser] table of a config named with --config matters here (else the built-in
    # conventions): a config whose folders do not exist still reads pages.
    named = getattr(args, "config", None)
    parser_config = read_config(Path(named) if named else None, None, os.environ).parser
    problems = parser_problems(parser_config)
    if problems:
        raise problems[0]
    conventions = conventions_for(parser_config)
    failed = 0
    for name in args.files:
        path = Path(name)
        try:
            text = decode_page(path.read_bytes(), name)
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


def cmd_send_digest(args: argparse.Namespace) -> int:
    from digest.mail.transports import make_mailer
    from digest.service.jobs import run_digest
    from digest.store.database import Store

    config = _config(args)
    to = _email(args.to) if args.to else None
    stopping = threading.Event()
    # SIGTERM (systemd, a timeout) stops the send between two messages, not after the whole run.
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    try:
        with Store.open(config.database_url) as store:
            mailer = make_mailer(config, config.paths.data)
            try:
                result = run_digest(
                    config, store, mailer, _now(), args.date, args.dry_run, to, stopping=stopping.is_set
                )
            finally:
                mailer.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
    digest = result.digest
    since, until = digest.since.astimezone(config.tz), digest.until.astimezone(config.tz)
    print(
        f"digest {digest.day}: {digest.count} articles in {len(digest.groups)} sections, "
        f"first seen {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M}"
    )
    if args.dry_run:
        for section, entries in digest.groups:
            print(f"  {section.name} ({len(entries)})")
            for entry in entries:
                print(f"    {entry.article.title or entry.article.body[:30]}")
        print(f"dry run: {result.sent} emails written to {result.written_to}; nothing stored, nothing sent")
        return 0
    if to is not None:
        print(f"test copy sent to {to} (outside the delivery ledger)")
        return 0
    report = result.delivery
    if result.made_elsewhere:
        print(f"another run made the digest of {digest.day} at the same moment; this run sent what was due")
    if report.busy is not None:
        print(f"another run is sending the digest of {digest.day} ({report.busy}); this run sent nothing")
        return 0
    if stopping.is_set():
        print("stopped by SIGTERM between two emails; the rest wait for the next run")
    print(
        f"emails: {report.sent} sent, {result.failed} waiting for a retry, {report.refused} refused, "
        f"{report.skipped} skipped, {report.unknown} unknown, {report.expired} expired"
    )
    return 1 if result.failed else 0


def cmd_check(args: argparse.Namespace) -> int:
    from digest.config import read_config
    from digest.config_checks import deliverability_warnings, path_problems, value_problems

    try:
        config = read_config(_config_path(args), _overrides(args), os.environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems = [str(p) for p in value_problems(config) + path_problems(config)]
    schema_note = ""
    if not any(p.startswith("database.url") for p in problems):
        try:
            schema_note = _schema_note(config)
        except DigestError as exc:
            problems.append(f"database.url: {exc}")
    if not problems and config.dkim.key_file is not None:
        from digest.mail.dkim import dns_record

        try:
            record = dns_record(config)
        except ConfigError as exc:
            problems.append(str(exc))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 2
    for warning in [*deliverability_warnings(config), *([schema_note] if schema_note else [])]:
        print(f"warning: {warning}", file=sys.stderr)
    if config.dkim.key_file is not None:
        print(f"DKIM: emails are signed for {config.dkim.domain}; publish this DNS record:\n  {record}")
    mail = (
        f"SMTP {config.smtp.host}:{config.smtp.port}"
        if config.smtp.host
        else f"outbox {config.paths.data / 'outbox'}"
    )
    print(f"ok: pages from {config.paths.source}, output to {config.paths.output}, emails to {mail}")
    return 0


def _schema_version(config: Config) -> SchemaVersion:
    """Where the database's schema stands, read-only; a SQLite file not made yet is empty."""
    from digest.store.database import Store, database_file
    from digest.store.versioning import SchemaVersion, head_revision

    missing = database_file(config.database_url)
    if missing is not None and not missing.exists():
        return SchemaVersion(None, head_revision(), versioned=False)
    with Store.open(config.database_url, readonly=True) as store:
        assert store.schema is not None
        return store.schema


def _schema_note(config: Config) -> str:
    """What ``check`` should say of the schema (empty when nothing is due); ``SchemaError`` if newer."""
    version = _schema_version(config)
    # An empty database is made by the first writing command: nothing to warn about.
    return version.describe() if version.behind and version.current is not None else ""


def cmd_migrate(args: argparse.Namespace) -> int:
    from digest.store.database import Store

    config = _config(args)
    if args.check:
        version = _schema_version(config)
        print(version.describe())
        return 1 if version.behind else 0
    with Store.open(config.database_url, migrate=False) as store:
        before, after = store.migrate()
    if before.behind:
        print(f"database schema: {before.current or 'empty'} → {after}")
    else:
        print(f"database schema: already at {after}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from digest.service.health import describe, health_report, load_state, max_issue_age
    from digest.service.serve import lock_holder
    from digest.store.database import Store

    config = _config(args)
    with Store.open(config.database_url, readonly=True) as store:
        assert store.schema is not None
        if store.schema.behind:
            raise SchemaError(f"{store.schema.describe()} (take a backup first: digest backup FILE)")
        status = store.status()
        summary = store.delivery_summary()
    age = max_issue_age(config.health.max_issue_age)
    health = health_report(status, load_state(config.paths.data), _now(), age)
    if args.json:
        print(json.dumps(health, ensure_ascii=False, sort_keys=True))
        return 0
    for line in describe(health, lock_holder(config.paths.data), config.tz):
        print(line)
    print(f"source files: {status.sources} ({len(status.failed_sources)} unreadable)")
    for path, error in status.failed_sources:
        print(f"  {path}: {error}")
    print(f"articles: {status.articles}, latest issue {status.latest_issue or '-'}")
    if status.retracted:
        print(f"  retracted: {status.retracted}")
    if status.unsure_dates:
        print(f"pages dated by their file time (日期待核): {len(status.unsure_dates)}; check them")
        for path, day in status.unsure_dates:
            print(f"  {path}: {day} 日期待核")
    print(f"latest digest: {status.latest_digest or '-'}")
    print(f"subscribers: {status.subscribers}, emails waiting: {status.pending_deliveries}")
    print(store.schema.describe())
    for line in _delivery_lines(summary, config):
        print(line)
    return 0


def _delivery_lines(summary: DeliverySummary, config: Config) -> list[str]:
    from digest.store.lease import describe as describe_lease

    if not summary.counts:
        return []
    lines = ["deliveries: " + ", ".join(f"{n} {status}" for status, n in summary.counts)]
    if summary.next_attempt_at is not None:
        lines.append(f"  next retry: {summary.next_attempt_at.astimezone(config.tz):%Y-%m-%d %H:%M %Z}")
    if summary.last_error:
        lines.append(f"  last error: {summary.last_error}")
    unknown = dict(summary.counts).get("unknown", 0)
    if unknown:
        lines.append(
            f"  {unknown} unknown: the connection ended after the whole email went out, so each has likely"
            " arrived; look the address up in the mail server's log before sending a copy by hand"
            " (digest send-digest --to ADDRESS), or the reader gets two"
        )
    for lease in summary.leases:
        lines.append(f"  sending the digest of {lease.day}: {describe_lease(lease)}")
    return lines


def _email(address: str) -> str:
    """The address in one spelling, so ``Reader@X`` and ``reader@x`` are one subscriber."""
    from digest.errors import AddressError
    from digest.mail.subscribers import normalize_address

    try:
        return normalize_address(address)
    except AddressError as exc:
        raise ConfigError(
            "address", f"{address!r} is not an email address ({exc})", "check the spelling"
        ) from exc


def cmd_subscribers(args: argparse.Namespace) -> int:
    from digest.store.database import Store
    from digest.store.records import Subscriber, SubscriberStatus

    config = _config(args)
    with Store.open(config.database_url) as store:
        if args.action == "add":
            email = _email(args.email)
            sections = _known_sections(store, tuple(args.section))
            known = store.subscriber(email)
            if known is not None and known.state.suppressed and not args.resubscribe:
                raise ConfigError(
                    "address",
                    f"{email} is {known.state.value} ({known.reason or 'no reason recorded'})",
                    "add --resubscribe only if they asked to be subscribed again",
                )
            now = _now()
            added = store.add_subscriber(
                Subscriber(email, sections, True, now, confirmed_at=now, status_at=now, source="cli")
            )
            print(f"{'added' if added else 'updated'} {email}")
        elif args.action == "import":
            return _import(store, Path(args.file), args.status, args.resubscribe)
        elif args.action == "export":
            _export(store, args.file)
        elif args.action == "remove":
            email = _email(args.email)
            reason = "removed with digest subscribers remove"
            if not store.set_subscriber_status(email, SubscriberStatus.UNSUBSCRIBED, reason, _now()):
                print(f"error: {email} is not subscribed", file=sys.stderr)
                return 1
            print(f"removed {email} (kept on the suppression list as unsubscribed)")
        else:
            for subscriber in store.subscribers(confirmed_only=False):
                shown = ",".join(subscriber.sections) or "all sections"
                print(f"{subscriber.email}\t{subscriber.state.value}\t{shown}")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from digest.service.retention import prune
    from digest.store.database import Store

    config = _config(args)
    with Store.open(config.database_url) as store:
        report = prune(config, store, _now(), dry_run=args.dry_run)
    for path in (*report.outbox, *report.dry_runs):
        print(f"{'would remove' if args.dry_run else 'removed'} {path}")
    print(report.describe())
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from digest.service.backup import backup

    config = _config(args)
    print(f"backed up to {backup(config.database_url, Path(args.file)).describe()}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from digest.service.backup import restore

    config = _config(args)
    report = restore(config.database_url, Path(args.file), config.paths.data, _now())
    print(f"restored {report.describe()}")
    if report.kept is not None:
        print(f"the database it replaced is kept as {report.kept}")
    return 0


def _known_sections(store: Store, slugs: tuple[str, ...]) -> tuple[str, ...]:
    """``slugs`` when every one is a section the store knows; ``ConfigError`` naming the known ones."""
    known = [section.slug for section in store.sections()]
    unknown = [slug for slug in slugs if slug not in known]
    if unknown:
        raise ConfigError(
            "--section",
            f"no section {', '.join(unknown)}",
            f"use one of {', '.join(known)}" if known else "ingest pages first; sections come from them",
        )
    return slugs


def _export(store: Store, target: str) -> None:
    from digest.mail.roster import export_subscribers

    text = export_subscribers(store.subscribers(confirmed_only=False))
    if target == "-":
        sys.stdout.write(text)
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(target, f"cannot write it ({exc.strerror})", "give a writable file path") from exc


def _import(store: Store, path: Path, status: str | None, resubscribe: bool) -> int:
    """Add or update every good row of a CSV file; report each bad line; never revive a suppressed address."""
    from digest.mail.roster import imported, parse_subscriber_csv
    from digest.store.records import SubscriberStatus

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            str(path), f"cannot read it ({exc})", "give a UTF-8 CSV file: email[,sections]"
        ) from exc
    rows, problems = parse_subscriber_csv(text)
    chosen = SubscriberStatus(status) if status else None
    if chosen is None and any(row.status is None for row in rows):
        raise ConfigError(
            "--status",
            f"{path} does not say whether its people confirmed",
            "add --status confirmed (they opted in elsewhere) or --status pending",
        )
    known_sections = {section.slug for section in store.sections()}
    if not known_sections and any(row.sections for row in rows):
        print(f"warning: {path}: no sections are known yet, section slugs are not checked", file=sys.stderr)
    now = _now()
    changes, kept = [], 0
    for row in rows:
        unknown = [slug for slug in row.sections if known_sections and slug not in known_sections]
        if unknown:
            problems.append(f"line {row.line}: no section {', '.join(unknown)}")
            continue
        known = store.subscriber(row.email)
        change = imported(row, known, status=chosen, resubscribe=resubscribe, now=now)
        if change is None:
            kept += 1
            print(f"kept {row.email}: {known.state.value if known else '?'} (import never re-subscribes)")
        else:
            changes.append(change)
    for problem in problems:
        print(f"error: {path}: {problem}", file=sys.stderr)
    new = store.add_subscribers(changes)
    print(
        f"imported {len(changes)} subscribers from {path}: {new} new, {len(changes) - new} updated, "
        f"{kept} kept on the suppression list, {len(problems)} lines skipped"
    )
    return 1 if problems else 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: every command takes the shared options after its name.

    The shared options default to "not given" (``SUPPRESS``) rather than None,
    so ``subscribers --data X add`` keeps ``X``: a sub-command's parser would
    otherwise overwrite it with its own default.
    """
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    shared = common.add_argument_group("shared options")
    shared.add_argument("--config", metavar="PATH", help="config file (default: ./config.toml when present)")
    shared.add_argument("--source", metavar="DIR", help="folder of page files (paths.source)")
    shared.add_argument("--data", metavar="DIR", help="folder for the database and outbox (paths.data)")
    shared.add_argument("--output", metavar="DIR", help="folder for published files (paths.output)")
    shared.add_argument(
        "--log-level", choices=LOG_LEVELS, help="log detail (default: info for serve, else warning)"
    )
    shared.add_argument(
        "--log-format",
        choices=[form.value for form in LogFormat],
        help="log record format (logging.format; default auto: journal under systemd, else text)",
    )

    parser = argparse.ArgumentParser(
        prog="digest",
        description="Newspaper pages in; Atom feeds, an HTML site and a daily email digest out.",
        epilog="Every config key can also be set as DIGEST_<TABLE>_<KEY> in the environment.",
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    serve = command("serve", cmd_serve, "watch the source folder, publish, send digests and serve HTTP")
    serve.add_argument("--host", help="address to listen on (server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (server.port)")

    ingest_cmd = command("ingest", cmd_ingest, "read new or changed page files into the database")
    ingest_cmd.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders (default: the source folder)"
    )
    ingest_cmd.add_argument(
        "--reparse",
        action="store_true",
        help="read every file again, also those seen before (ids, first-seen times and retractions kept)",
    )

    retract = command("retract", cmd_retract, "withdraw an article from feeds, site and later digests")
    retract.add_argument("article", metavar="ID|URL", help="the article's tag: id, or the URL of its page")
    retract.add_argument("--restore", action="store_true", help="undo an earlier retraction")

    publish = command("publish", cmd_publish, "render what changed into the output folder")
    publish.add_argument(
        "--full", action="store_true", help="render every feed and page again, not only what changed"
    )

    command("build", cmd_build, "ingest the source folder, then publish everything again (one process)")

    parse = command(
        "parse", cmd_parse, "show how page files split into articles (--config: read its [parser] table)"
    )
    parse.add_argument("files", nargs="+", metavar="FILE", help="page files")
    parse.add_argument("--jsonl", action="store_true", help="one JSON object per page instead of text")
    parse.add_argument(
        "--issue", type=_day, metavar="YYYY-MM-DD", help="the pages' issue date (gives 18日电 its month)"
    )

    send = command("send-digest", cmd_send_digest, "make the daily digest and email it now")
    send.add_argument("--date", type=_day, metavar="YYYY-MM-DD", help="digest day (default: the latest due)")
    send.add_argument("--dry-run", action="store_true", help="write every email under <data>/dry-run")
    send.add_argument("--to", metavar="ADDRESS", help="send one test copy here, outside the ledger")

    migrate = command(
        "migrate", cmd_migrate, "upgrade the database schema to this version (back it up first)"
    )
    migrate.add_argument(
        "--check", action="store_true", help="only say where the schema stands (exit 1: an upgrade is due)"
    )
    command("check", cmd_check, "validate the configuration and environment; print each problem and its fix")
    status = command(
        "status", cmd_status, "show the service's last runs and errors, and counts of files, articles, emails"
    )
    status.add_argument("--json", action="store_true", help="print the /healthz report as JSON")

    prune_cmd = command(
        "prune", cmd_prune, "remove old ledger rows, sign-ups, outbox files and dry runs ([retention])"
    )
    prune_cmd.add_argument("--dry-run", action="store_true", help="print what would go; remove nothing")

    backup_cmd = command("backup", cmd_backup, "copy the database into a file, also while serve runs")
    backup_cmd.add_argument("file", metavar="FILE")
    restore_cmd = command("restore", cmd_restore, "replace the database with a backup (stop serve first)")
    restore_cmd.add_argument("file", metavar="FILE")

    subs = command("subscribers", cmd_subscribers, "add, list, remove, import or export email subscribers")
    actions = subs.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="add a confirmed subscriber")
    add.add_argument("email")
    add.add_argument(
        "--section", action="append", default=[], metavar="SLUG", help="only this section (repeatable)"
    )
    resubscribe = "the address left (unsubscribed, bounced, complained) and has asked to come back"
    add.add_argument("--resubscribe", action="store_true", help=resubscribe)
    actions.add_parser("list", parents=[common], help="list subscribers with their status")
    remove = actions.add_parser(
        "remove", parents=[common], help="unsubscribe an address (kept on the suppression list)"
    )
    remove.add_argument("email")
    imports = actions.add_parser(
        "import", parents=[common], help="add subscribers from a CSV file (email[,sections], or an export)"
    )
    imports.add_argument("file", metavar="FILE.csv")
    imports.add_argument(
        "--status",
        choices=("confirmed", "pending"),
        help="the status of rows without one: confirmed (they opted in elsewhere) or pending",
    )
    imports.add_argument("--resubscribe", action="store_true", help=resubscribe)
    exports = actions.add_parser(
        "export", parents=[common], help="write every subscriber, suppressed ones too, as CSV"
    )
    exports.add_argument("file", nargs="?", default="-", metavar="FILE.csv", help="default: standard output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    configure(_log_level(args), LogFormat(getattr(args, "log_format", LogFormat.AUTO)))
    handler: Handler = args.handler
    try:
        status = handler(args)
        sys.stdout.flush()  # inside the try: a closed pipe is found here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (``digest subscribers list | head``): nothing is wrong here, so no
        # traceback. Python would report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command the pipe stopped
    except (ConfigError, AlreadyRunningError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DigestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
