"""Commands an operator runs around the service: serve, check, status, migrations, backups."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.commands.common import (
    command_config,
    config_path,
    option_overrides,
    recorded,
    utc_now,
)
from digest.commands.mail import (
    _delivery_lines,
    _notice_lines,
)
from digest.errors import ConfigError, DigestError, SchemaError, StoreError

if TYPE_CHECKING:
    from digest.config import Config
    from digest.store.versioning import SchemaVersion


def cmd_serve(args: argparse.Namespace) -> int:
    # uvicorn, watchfiles and APScheduler load only when serving: the other commands start faster.
    from digest.service.serve import serve

    serve(command_config(args, follow=False))  # it is what the others follow
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from digest.config import read_config
    from digest.config_checks import value_problems
    from digest.config_paths import folders_to_create, path_problems
    from digest.config_warnings import deliverability_warnings, lan_warnings, sharing_warnings

    found: list[ConfigError] = []
    try:
        config = read_config(config_path(args), option_overrides(args), os.environ, found)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Read-only like status: a folder that would be made is named, not made.
    problems = [str(p) for p in found + value_problems(config) + path_problems(config, create=False)]
    if not any(p.startswith(("server.host", "server.port")) for p in problems):
        from digest.service.listening import host_problem

        # A host that does not resolve (a typo) or that no interface holds stops serve at start.
        listening = host_problem(config.server.host)
        if listening is not None:
            problems.append(str(listening))
    schema_note = ""
    if not any(p.startswith("database.url") for p in problems):
        try:
            schema_note = _schema_note(config)
        except DigestError as exc:
            problems.append(f"database.url: {exc}")
    if config.smtp.host and not any(p.startswith("smtp.") for p in problems):
        from digest.mail.transports import smtp_problem

        # The values can be right and the server still unreachable (a typo in the host, a firewall,
        # a login): better found now than at the first digest.
        smtp = smtp_problem(config.smtp)
        if smtp is not None:
            problems.append(f"smtp.host: {smtp}")
    if config.bounces.host and not any(p.startswith("bounces.") for p in problems):
        from digest.mail.bounces import bounce_mailbox_problem

        # Bounces left unread go on being mailed: a wrong login would only show in the log, hourly.
        mailbox = bounce_mailbox_problem(config.bounces)
        if mailbox is not None:
            problems.append(mailbox if mailbox.startswith("bounces.") else f"bounces.host: {mailbox}")
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
    warnings = [*deliverability_warnings(config), *sharing_warnings(config), *lan_warnings(config)]
    for warning in [*warnings, *([schema_note] if schema_note else [])]:
        print(f"warning: {warning}", file=sys.stderr)
    for note in folders_to_create(config):  # right on a first run, so no warning; a typo shows here
        print(f"note: {note}", file=sys.stderr)
    if config.dkim.key_file is not None:
        print(f"DKIM: emails are signed for {config.dkim.domain}; publish this DNS record:\n  {record}")
    mail = (
        f"SMTP {config.smtp.host}:{config.smtp.port}"
        if config.smtp.host
        else f"outbox {config.paths.data / 'outbox'}"
    )
    from digest.store.urls import mask_url

    # The database too: after moving to PostgreSQL, which one was checked is the first question.
    database = mask_url(config.database_url)
    where = f"pages from {config.paths.source}, database {database}, output to {config.paths.output}"
    print(f"ok: {where}, emails to {mail}")
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

    # --check only reads: a mistyped --data must not leave a new folder behind.
    config = command_config(args, writes=not args.check)
    if args.check:
        version = _schema_version(config)
        print(version.describe())
        return 1 if version.behind else 0
    if _schema_version(config).behind:
        from digest.service.backup import refuse_while_serving

        # A serve running while the schema is behind runs the older code: it would go on (a standby
        # would even take the lead) on tables it does not know, and send without the new safeguards.
        refuse_while_serving(config.database_url, config.paths.data, "upgrading the database schema")
    with Store.open(config.database_url, migrate=False) as store:
        before, after = store.migrate()
    if before.behind:
        print(f"database schema: {before.current or 'empty'} → {after}")
    else:
        print(f"database schema: already at {after}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from digest.service.health import (
        health_report,
        load_cli_runs,
        load_state,
        max_issue_age,
        unreachable_report,
    )
    from digest.store.database import Store

    config = command_config(args, writes=False)
    # The service's last runs, and those of commands run by hand (digest ingest, send-digest...).
    state, by_hand = load_state(config.paths.data), load_cli_runs(config.paths.data)
    try:
        with Store.open(config.database_url, readonly=True) as store:
            assert store.schema is not None
            if store.schema.behind:
                raise SchemaError(f"{store.schema.describe()} (take a backup first: digest backup FILE)")
            status = store.status()
            summary = store.delivery_summary()
            notices = store.notice_summary()
    except SchemaError:
        raise
    except StoreError as exc:
        # The database away is when an operator asks: still show the last runs saved.
        _print_health(unreachable_report(state, str(exc), by_hand), args.json, config)
        raise
    age = max_issue_age(config.health.max_issue_age)
    _print_health(health_report(status, state, utc_now(), age, by_hand), args.json, config)
    if args.json:
        return 0
    print(f"source files: {status.sources} ({len(status.failed_sources)} unreadable)")
    for path, error in status.failed_sources:
        print(f"  {path}: {error}")
    print(f"articles: {status.articles}, latest issue {status.latest_issue or '-'}")
    if status.retracted:
        print(f"  retracted: {status.retracted}")
    if status.unsure_dates:
        count = len(status.unsure_dates)
        print(f"pages whose date, or its year, is their file time's (日期待核): {count}; check them")
        print("  (a date in the file name, such as 2024-11-27_01.txt, settles it)")
        for path, day in status.unsure_dates:
            print(f"  {path}: {day} 日期待核")
    print(f"latest digest: {status.latest_digest or '-'}")
    print(f"subscribers: {status.subscribers}, digest emails waiting: {status.pending_deliveries}")
    print(store.schema.describe())
    for line in [*_delivery_lines(summary, config), *_notice_lines(notices, config)]:
        print(line)
    return 0


def _print_health(report: Mapping[str, Any], as_json: bool, config: Config) -> None:
    """The health report as ``/healthz`` answers it (``--json``), or as lines for a person."""
    from digest.service.datalock import lock_holder
    from digest.service.health import describe

    if as_json:
        print(json.dumps(report, ensure_ascii=False, sort_keys=True))
        return
    for line in describe(report, lock_holder(config.paths.data), config.tz):
        print(line)


def cmd_prune(args: argparse.Namespace) -> int:
    from digest.service.health import prune_counts
    from digest.service.retention import prune
    from digest.store.database import Store

    config = command_config(args)
    # A dry run removes nothing: no run of the job.
    with (
        recorded(config, "prune", "prune", keep=not args.dry_run) as run,
        Store.open(config.database_url) as store,
    ):
        report = prune(config, store, utc_now(), dry_run=args.dry_run)
        run.done(prune_counts(report))
    for path in (*report.outbox, *report.dry_runs):
        print(f"{'would remove' if args.dry_run else 'removed'} {path}")
    print(report.describe())
    return 0


# Why a generated signing secret travels with the database it signed links for.
SECRET_LOST = "a new one makes the links in every email already sent invalid"


def cmd_backup(args: argparse.Namespace) -> int:
    from digest.mail.signing import SECRET_FILE
    from digest.service.backup import backup

    config = command_config(args, writes=False)
    print(f"backed up to {backup(config.database_url, Path(args.file)).describe()}")
    secret = config.paths.data / SECRET_FILE
    if config.server.secret is None and secret.is_file():
        print(f"the signing secret is not in it: keep {secret} with this backup ({SECRET_LOST})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from digest.mail.signing import SECRET_FILE
    from digest.service.backup import restore

    config = command_config(args)
    report = restore(config.database_url, Path(args.file), config.paths.data, utc_now())
    print(f"restored {report.describe()}")
    if report.kept is not None:
        print(f"the database it replaced is kept as {report.kept}")
    if config.server.secret is None:
        print(
            f"before starting digest serve, copy the server.secret kept with the backup to "
            f"{config.paths.data / SECRET_FILE} unless it is there already ({SECRET_LOST})"
        )
    return 0
