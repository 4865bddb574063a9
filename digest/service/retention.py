"""Retention: what only grows is pruned by age, so the database and data folder stay bounded for years.

``[retention]`` says how many days each kind is kept (0: for ever):

- ``deliveries_days``: delivery-ledger rows of digests older than that, once
  settled (sent, refused, skipped, unknown, expired), are counted per day and
  status into ``delivery_counts`` and deleted, in one transaction, counts
  first.  ``digest_deliveries{status}`` and ``digest status`` add those counts,
  so the history stays while the ledger (about 130 bytes a row: 1.4 GB for
  10k subscribers over three years) stays at ``days × subscribers`` rows.
  A digest's rows are only written when it is made, so a deleted row never
  makes an email go out again.
- ``signups_days``: sign-ups never confirmed (any source) and subscription
  emails sent or given up on.  The suppression list is kept for ever.
- ``outbox_days``, ``dry_run_days``: ``.eml`` files in ``<data>/outbox`` and
  ``<data>/dry-run/<day>`` folders, by their modification time.

The service runs ``prune`` once a day on the leader; ``digest prune [--dry-run]``
runs it by hand and prints what goes.  ``now`` is passed in, as with every job.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from digest.config import Config
from digest.errors import ConfigError
from digest.store.database import Store

log = logging.getLogger(__name__)

OUTBOX = "outbox"
DRY_RUN = "dry-run"


@dataclass(frozen=True)
class PruneReport:
    """What one run removed (or, with ``dry_run``, would remove)."""

    deliveries: int = 0  # ledger rows folded into daily counts
    signups: int = 0  # pending sign-ups
    notices: int = 0  # subscription emails
    outbox: tuple[Path, ...] = ()  # .eml files
    dry_runs: tuple[Path, ...] = ()  # dry-run folders
    dry_run: bool = False

    @property
    def removed(self) -> int:
        """Rows, files and folders together."""
        return self.deliveries + self.signups + self.notices + len(self.outbox) + len(self.dry_runs)

    def describe(self) -> str:
        """One line, for the log and the command."""
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{verb} {self.deliveries} delivery rows (kept as daily counts), {self.signups} unconfirmed"
            f" sign-ups, {self.notices} subscription emails, {len(self.outbox)} outbox files,"
            f" {len(self.dry_runs)} dry-run folders"
        )


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def old_entries(folder: Path, pattern: str, before: datetime) -> list[Path]:
    """Entries of ``folder`` matching ``pattern`` last modified before ``before``, in name order."""
    if not folder.is_dir():
        return []
    limit = before.timestamp()
    found = []
    for path in sorted(folder.glob(pattern)):
        try:
            if path.lstat().st_mtime < limit:
                found.append(path)
        except FileNotFoundError:
            continue  # removed meanwhile
    return found


def prune(config: Config, store: Store, now: datetime, dry_run: bool = False) -> PruneReport:
    """Remove what ``[retention]`` says is too old at ``now``; ``dry_run``: only say what."""
    retention = config.retention
    deliveries = signups = notices = 0
    if (cut := _cutoff(now, retention.deliveries_days)) is not None:
        # By the digest's day in the configured timezone, as digests are named.
        deliveries = store.prune_deliveries(cut.astimezone(config.tz).date(), dry_run)
    if (cut := _cutoff(now, retention.signups_days)) is not None:
        signups, notices = store.prune_signups(cut, dry_run)
    data = config.paths.data
    outbox: list[Path] = []
    if (cut := _cutoff(now, retention.outbox_days)) is not None:
        outbox = [path for path in old_entries(data / OUTBOX, "*.eml", cut) if path.is_file()]
    dry_runs: list[Path] = []
    if (cut := _cutoff(now, retention.dry_run_days)) is not None:
        dry_runs = [path for path in old_entries(data / DRY_RUN, "*", cut) if path.is_dir()]
    if not dry_run:
        _remove(outbox, dry_runs)
    report = PruneReport(deliveries, signups, notices, tuple(outbox), tuple(dry_runs), dry_run)
    log.log(logging.INFO if report.removed else logging.DEBUG, "prune: %s", report.describe())
    return report


def _remove(files: list[Path], folders: list[Path]) -> None:
    """Remove every one that can be; then, if any could not, say which (the first, and how many)."""
    failed: list[tuple[Path, OSError]] = []
    for path in files:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            failed.append((path, exc))
    for path in folders:
        try:
            shutil.rmtree(path)
        except OSError as exc:
            # rmtree names the file inside the folder by its bare name; the folder is what to look at.
            failed.append((path, exc))
    if failed:
        where, error = failed[0]
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        raise ConfigError(
            "paths.data",
            f"cannot remove {where}{more} ({error.strerror or error})",
            "let the service's user write the data folder",
        ) from error
