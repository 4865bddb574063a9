"""Commands over readers: sending the digest, and the subscriber list."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from digest.commands.common import (
    command_config,
    recorded,
    utc_now,
)
from digest.commands.stops import BetweenEmails, exit_status, stopped_reason
from digest.errors import ConfigError

LEFT_WAITING = "the rest wait for the next run"

if TYPE_CHECKING:
    from digest.config import Config
    from digest.service.jobs import CopySent
    from digest.store.database import Store
    from digest.store.records import DeliverySummary


def cmd_send_digest(args: argparse.Namespace) -> int:
    from digest.mail.transports import make_mailer
    from digest.service.health import digest_counts
    from digest.service.jobs import run_digest
    from digest.store.database import Store

    config = command_config(args)
    to = _email(args.to) if args.to else None
    # A preview (a dry run, a test copy) stores nothing, and is no run of the job.
    keep = not args.dry_run and to is None
    with (
        recorded(config, "send-digest", "digest", keep) as run,
        Store.open(config.database_url) as store,
        # SIGTERM (systemd, a timeout), Ctrl-C or a closed terminal stops the send between two
        # messages, neither after the whole run nor in the middle of one.
        BetweenEmails() as stop,
    ):
        mailer = make_mailer(config, config.paths.data)
        try:
            # Run by hand, a re-run is the retry: what waits for one is sent now, not at its time.
            result = run_digest(
                config,
                store,
                mailer,
                utc_now(),
                args.date,
                args.dry_run,
                to,
                stopping=stop.asked.is_set,
                retry_now=True,
            )
        finally:
            mailer.close()
        # A digest with articles that went to nobody: say why, or a first try looks broken.
        nobody = result.digest.count > 0 and to is None and not store.subscribers()
        if stop.by is None:
            run.done(digest_counts(result))
        else:
            # Not its end: what is left waits for the next run (the service's retry, within a minute).
            run.failed(stopped_reason(stop.by, f"between two emails; {LEFT_WAITING}"))
    digest = result.digest
    since, until = digest.since.astimezone(config.tz), digest.until.astimezone(config.tz)
    print(
        f"digest {digest.day}: {digest.count} articles in {len(digest.groups)} sections, "
        f"first seen {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M}"
    )
    issues, articles = result.back_issues
    if issues:
        print(
            f"kept out of the email: {issues} back issues ({articles} articles) dated more than "
            f"{config.digest.backfill_days} days before {digest.day} (digest.backfill_days); "
            "they are on the site and in the feeds"
        )
    if args.dry_run:
        for section, entries in digest.groups:
            print(f"  {section.name} ({len(entries)})")
            for entry in entries:
                print(f"    {entry.article.title or entry.article.body[:30]}")
        skipped = result.delivery.skipped
        kept_back = (
            f" ({skipped} skipped, as the real run would: nothing new in their sections)" if skipped else ""
        )
        emails = "1 email" if result.sent == 1 else f"{result.sent} emails"
        print(f"dry run: {emails} written to {result.written_to}{kept_back}; nothing stored, nothing sent")
        _tell_nobody(nobody)
        return _preview_status(stop.by, "no more emails written")
    if to is not None:
        if result.test_copy is None:
            return _preview_status(stop.by, "before the test copy went; none sent")
        _tell_test_copy(result.test_copy, digest.day.isoformat(), config)
        return _preview_status(stop.by, "after the test copy went")
    if digest.count == 0 and config.digest.empty_days == "skip":
        print("no new articles: no email, web page or feed entry (digest.empty_days = skip)")
    report = result.delivery
    if result.made_elsewhere:
        print(f"another run made the digest of {digest.day} at the same moment; this run sent what was due")
    if report.busy is not None:
        print(f"another run is sending the digest of {digest.day} ({report.busy}); this run sent nothing")
        return 0
    if stop.by is not None:
        print(f"stopped by {stop.by.name} between two emails; {LEFT_WAITING}")
    print(
        f"emails: {report.sent} sent, {result.failed} waiting for a retry, {report.refused} refused, "
        f"{report.skipped} skipped, {report.unknown} unknown, {report.expired} expired"
    )
    _tell_nobody(nobody)
    if stop.by is not None:
        return exit_status(stop.by)
    return 1 if result.failed else 0


def _tell_nobody(nobody: bool) -> None:
    if nobody:
        print(
            "no confirmed subscribers, so no email: `digest subscribers add EMAIL` adds one "
            "(a sign-up counts once its link is opened); `--to ADDRESS` sends one test copy"
        )


def _preview_status(by: signal.Signals | None, where: str) -> int:
    """How a preview (a dry run, a test copy) exits: 0, or as a send that ``by`` stopped, saying so
    (``where``: what it did after the signal)."""
    if by is None:
        return 0
    print(f"stopped by {by.name}; {where}")
    return exit_status(by)


def _tell_test_copy(copy: CopySent, day: str, config: Config) -> None:
    """Which digest went to whom, and where to look for it: the SMTP server's log, or the outbox file."""
    print(f"test copy of the digest of {day} sent to {copy.to}, outside the delivery ledger")
    print(f"  subject: {copy.subject}")
    if copy.file is not None:
        print(f"  written to {copy.file} (smtp.host is not set: emails go to the outbox, none is mailed)")
    else:
        print(f"  handed to the SMTP server {config.smtp.host}:{config.smtp.port}")


def _delivery_lines(summary: DeliverySummary, config: Config) -> list[str]:
    """``digest status``'s lines on the digest copies."""
    return _ledger_lines("deliveries", summary, config, "digest send-digest --to ADDRESS")


def _notice_lines(summary: DeliverySummary, config: Config) -> list[str]:
    """``digest status``'s lines on the subscription emails (confirmations, "manage" notes, emptied
    sections)."""
    return _ledger_lines("subscription emails", summary, config, "a new sign-up on the form sends one")


def _ledger_lines(title: str, summary: DeliverySummary, config: Config, by_hand: str) -> list[str]:
    """``title``'s rows by status, the next retry, the latest error, what to do about ``unknown`` ones
    (``by_hand`` says how another is sent) and the send leases held."""
    from digest.store.lease import describe as describe_lease

    if not summary.counts:
        return []
    lines = [f"{title}: " + ", ".join(f"{n} {status}" for status, n in summary.counts)]
    if summary.next_attempt_at is not None:
        lines.append(f"  next retry: {summary.next_attempt_at.astimezone(config.tz):%Y-%m-%d %H:%M %Z}")
    if summary.last_error:
        lines.append(f"  last error: {summary.last_error}")
    unknown = dict(summary.counts).get("unknown", 0)
    if unknown:
        lines.append(
            f"  {unknown} unknown: the connection ended after the whole email went out, so each has likely"
            " arrived; look the address up in the mail server's log before sending a copy by hand"
            f" ({by_hand}), or the reader gets two"
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
    from digest.mail.roster import ImportRow, imported, kept_of
    from digest.store.database import Store
    from digest.store.records import SubscriberStatus

    config = command_config(args)
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
            # An import of one confirmed row: the same rules keep what an address already known chose.
            row = ImportRow(0, email, sections or None)
            made = imported(
                row,
                known,
                status=SubscriberStatus.CONFIRMED,
                resubscribe=args.resubscribe,
                now=utc_now(),
                source="cli",
            )
            assert made is not None  # a suppressed address without --resubscribe was refused above
            added = store.add_subscriber(made)
            kept = kept_of(known, row, made)
            kept_words = f"; kept {', '.join(kept.values())}" if kept else ""
            print(f"{'added' if added else 'updated'} {email}{kept_words}")
        elif args.action == "import":
            return _import(store, Path(args.file), args.status, args.resubscribe)
        elif args.action == "export":
            _export(store, args.file)
        elif args.action == "remove":
            email = _email(args.email)
            reason = "removed with digest subscribers remove"
            if not store.set_subscriber_status(email, SubscriberStatus.UNSUBSCRIBED, reason, utc_now()):
                print(f"error: {email} is not subscribed", file=sys.stderr)
                return 1
            print(f"removed {email} (kept on the suppression list as unsubscribed)")
        else:
            for subscriber in store.subscribers(confirmed_only=False):
                shown = ",".join(subscriber.sections) or "all sections"
                print(f"{subscriber.email}\t{subscriber.state.value}\t{shown}")
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
        # Every subscriber's address: the owner's alone, whatever the umask says.
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise ConfigError(target, f"cannot write it ({exc.strerror})", "give a writable file path") from exc


def _import(store: Store, path: Path, status: str | None, resubscribe: bool) -> int:
    """Add or update every good row of a CSV file; report each bad line; never revive a suppressed address."""
    from digest.mail.roster import imported, kept_of, parse_subscriber_csv
    from digest.store.records import SubscriberStatus

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            str(path), f"cannot read it ({exc})", "give a UTF-8 CSV file: email[,sections]"
        ) from exc
    rows, problems = parse_subscriber_csv(text)
    kept_counts: Counter[str] = Counter()
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
    now = utc_now()
    changes, kept = [], 0
    for row in rows:
        unknown = [slug for slug in row.sections or () if known_sections and slug not in known_sections]
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
            kept_counts.update(kept_of(known, row, change).keys())  # by kind, for the summary
    for problem in problems:
        print(f"error: {path}: {problem}", file=sys.stderr)
    new = store.add_subscribers(changes)
    print(
        f"imported {len(changes)} subscribers from {path}: {new} new, {len(changes) - new} updated, "
        f"{kept} kept on the suppression list, {len(problems)} lines skipped"
    )
    if kept_counts:
        kept_words = ", ".join(f"{what} ({count})" for what, count in sorted(kept_counts.items()))
        print(f"kept for addresses already known, as the file did not give them: {kept_words}")
    return 1 if problems else 0
