"""Subscriber lists as CSV: what ``digest subscribers export`` writes and ``import`` reads back.

A round trip changes nothing, and an import never overrides the suppression list without consent."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from digest.errors import AddressError
from digest.mail.subscribers import normalize_address
from digest.paper.slugs import SLUG_SHAPE
from digest.store.records import Subscriber, SubscriberStatus

# The columns ``export_subscribers`` writes and ``parse_subscriber_csv`` reads back.
EXPORT_COLUMNS = ("email", "status", "sections", "consented_at", "source", "reason", "status_at")


@dataclass(frozen=True)
class ImportRow:
    """One good line of a subscriber CSV file; empty fields are what a plain ``email,sections`` file lacks.

    ``sections`` None: the line has no sections cell, so an address already
    known keeps the sections it chose; ``()`` (an empty cell) means every section.
    """

    line: int
    email: str
    sections: tuple[str, ...] | None
    status: SubscriberStatus | None = None  # None: the importer says (``--status``)
    consented_at: datetime | None = None
    source: str = ""
    reason: str = ""
    status_at: datetime | None = None


def parse_subscriber_csv(text: str) -> tuple[list[ImportRow], list[str]]:
    """Rows of ``email[,sections]`` or of ``export_subscribers``' columns, and one problem per bad line.

    A first line naming an ``email`` column is a header, and every other known
    column (``EXPORT_COLUMNS``) is found by name.  Sections are slugs split by
    spaces or ``;``.  Blank lines are ignored; a bad address, slug, status or
    time skips its line and is reported with the line number.
    """
    rows: list[ImportRow] = []
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text))
    columns = {"email": 0, "sections": 1}
    for number, cells in enumerate(reader, start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        lowered = [cell.lower() for cell in cells]
        if number == 1 and "email" in lowered:
            columns = {name: lowered.index(name) for name in EXPORT_COLUMNS if name in lowered}
            continue
        try:
            rows.append(_import_row(number, cells, columns))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    return rows, problems


def _import_row(number: int, cells: list[str], columns: Mapping[str, int]) -> ImportRow:
    def has(name: str) -> bool:
        return 0 <= columns.get(name, -1) < len(cells)

    def cell(name: str) -> str:
        return cells[columns[name]] if has(name) else ""

    address, wanted = cell("email"), cell("sections")
    try:
        email = normalize_address(address)
    except AddressError as exc:
        raise ValueError(f"{address!r} is not an email address ({exc})") from None
    slugs = tuple(dict.fromkeys(re.split(r"[\s;|]+", wanted))) if wanted else ()
    bad = [slug for slug in slugs if not SLUG_SHAPE.match(slug)]
    if bad:
        raise ValueError(f"{', '.join(bad)} are not section slugs (like yao-wen)")
    status: SubscriberStatus | None = None
    if cell("status"):
        try:
            status = SubscriberStatus(cell("status").lower())
        except ValueError:
            choices = ", ".join(s.value for s in SubscriberStatus)
            raise ValueError(f"status {cell('status')!r} is not one of {choices}") from None
    return ImportRow(
        number,
        email,
        slugs if has("sections") else None,
        status,
        _csv_time(cell("consented_at")),
        cell("source"),
        cell("reason"),
        _csv_time(cell("status_at")),
    )


def _csv_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time (write 2024-11-27T09:30:00+08:00)") from None
    if when.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. 2024-11-27T09:30:00+08:00)")
    return when.astimezone(UTC)


def export_subscribers(subscribers: Iterable[Subscriber]) -> str:
    """Every subscriber, suppressed ones too, as CSV (``EXPORT_COLUMNS``) that ``import`` reads back as is."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for one in subscribers:
        writer.writerow(
            [
                one.email,
                one.state.value,
                ";".join(one.sections),
                one.confirmed_at.isoformat() if one.confirmed_at else "",
                one.source,
                one.reason,
                one.status_at.isoformat() if one.status_at else "",
            ]
        )
    return out.getvalue()


def imported(
    row: ImportRow,
    known: Subscriber | None,
    *,
    status: SubscriberStatus | None,
    resubscribe: bool,
    now: datetime,
    source: str = "import",
) -> Subscriber | None:
    """The subscriber an import row (or ``subscribers add``) makes of ``known`` (None: ``known`` stays).

    The suppression list wins: an address that unsubscribed, bounced or
    complained is never made pending or confirmed again by an import, unless
    ``resubscribe`` (the operator holds new consent).  A row's own status (an
    export's) goes before ``status``; one of the two must say.  A row without
    sections keeps ``known``'s; an address that keeps its status keeps its
    consent record (time and ``source``) and bounce count, so adding it again
    loses nothing.  ``source`` names where a new consent came from.
    """
    wanted = row.status or status
    if wanted is None:
        raise ValueError(f"line {row.line}: no status; say --status confirmed or --status pending")
    revived = known is not None and known.state.suppressed and not wanted.suppressed
    if revived and not resubscribe:
        return None
    confirmed = wanted is SubscriberStatus.CONFIRMED
    source = row.source or (f"{source} --resubscribe" if revived else source)
    if row.status is not None:  # an export's row: taken as it is, so a round trip changes nothing
        consented_at, reason, status_at = row.consented_at, row.reason, row.status_at
    elif known is not None and known.status is wanted:  # the same consent: its record stays
        consented_at = row.consented_at or known.confirmed_at
        reason, status_at = known.reason, known.status_at
        source = row.source or known.source or source
    else:
        consented_at, reason, status_at = row.consented_at or (now if confirmed else None), "", now
    sections = row.sections if row.sections is not None else (known.sections if known else ())
    return Subscriber(
        email=row.email,
        sections=sections,
        confirmed=confirmed,
        created=known.created if known else now,
        confirm_sent_at=known.confirm_sent_at if known else None,
        confirmed_at=consented_at,
        status=wanted,
        key=known.key if known else "",
        reason=reason,
        status_at=status_at,
        source=source,
        bounces=known.bounces if known and not revived else 0,
    )


def kept_of(known: Subscriber | None, row: ImportRow, made: Subscriber) -> dict[str, str]:
    """What ``made`` (``imported``'s answer) kept of ``known`` that ``row`` did not give.

    Keys ``sections``, ``consent record`` and ``bounce count``, each with its words for the command's output.
    """
    if known is None or row.status is not None:  # new, or an export's row taken as it is
        return {}
    kept = {}
    if row.sections is None:
        kept["sections"] = f"sections {', '.join(known.sections) or 'all'}"
    same_consent = (made.confirmed_at, made.source) == (known.confirmed_at, known.source)
    if known.confirmed_at is not None and same_consent:
        when = f"{known.confirmed_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        kept["consent record"] = f"consent of {when} ({known.source or 'no source recorded'})"
    if known.bounces and made.bounces == known.bounces:
        kept["bounce count"] = f"{known.bounces} bounces"
    return kept
