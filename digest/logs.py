"""Log records shaped for whoever reads them: a terminal, the systemd journal, or a log shipper.

Three formats (``logging.format`` or ``--log-format``):

- ``text``: ``2024-11-27T09:30:00+08:00 INFO digest.ingest.pipeline: ...`` for a
  terminal: the time carries its UTC offset, a traceback keeps its lines.
- ``journal``: what systemd expects on a service's stderr (sd-daemon(3)): no
  timestamp of our own (the journal stamps each record), the level as a
  ``<N>`` syslog priority prefix so ``journalctl -p warning`` filters, and
  every record on one line (a line break would start a new journal entry, so
  a traceback's lines are joined with a visible ``\\n``).
- ``json``: one JSON object per line (``time``, ``level``, ``logger``,
  ``message``, ``exception``) for Loki, Vector or Elasticsearch.

``auto`` (the default) picks ``journal`` when stderr is the journal stream
systemd named in ``JOURNAL_STREAM`` (its ``device:inode``), else ``text``.

Subscriber addresses are personal data: unless the level is ``debug``, every
address in a message is shown as ``r***@example.org``.  A subscription link's
token is a key to its subscription (it never expires): at every level, the
access log's ``debug`` lines included, it is shown as ``/preferences/…``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import TextIO

_ADDRESS = re.compile(r"\b([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\b")
# A link token after its path (``digest.mail.tokens``; ``digest.publish.layout``'s paths).
_TOKEN = re.compile(
    r"(/(?:confirm|preferences|unsubscribe)/)[A-Za-z0-9_-]{1,64}\.[0-9a-f]{1,12}\.[A-Za-z0-9_-]{22}"
)
# syslog(3) priorities for Python's levels, as sd-daemon(3) prefixes expect them.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
# Libraries that narrate every step at INFO; our own jobs log one line per unit of work.
_CHATTY = ("apscheduler", "watchfiles", "alembic")


class LogFormat(StrEnum):
    """How records are written (see the module docstring)."""

    AUTO = "auto"
    TEXT = "text"
    JOURNAL = "journal"
    JSON = "json"


def redact(text: str) -> str:
    """``reader@example.org`` → ``r***@example.org`` for every address in ``text``."""
    return _ADDRESS.sub(r"\1***@\2", text)


def under_journal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """True when ``stream`` is the journal connection systemd set up (``JOURNAL_STREAM=dev:inode``)."""
    device, _, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        stat = os.fstat(stream.fileno())
        return (stat.st_dev, stat.st_ino) == (int(device), int(inode))
    except (ValueError, OSError):  # unset or malformed variable; a stream with no descriptor
        return False


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class _Redacting(logging.Filter):
    def __init__(self, addresses: bool) -> None:
        super().__init__()
        self._addresses = addresses

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN.sub(r"\1…", message)
        cleaned = redact(cleaned) if self._addresses else cleaned
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class _TextFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _time(record)


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\r", "").replace("\n", "\\n")
        return f"<{_PRIORITY.get(record.levelno, 6)}>{text}"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(
    level: str,
    form: LogFormat = LogFormat.AUTO,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> LogFormat:
    """Send the root logger's records at ``level`` and above to ``stream`` (stderr) in ``form``.

    Returns the format chosen (``auto`` resolved).  Replaces any handler set
    before, so a command can call it again once its configuration is read.
    """
    stream = stream or sys.stderr
    if form is LogFormat.AUTO:
        journal = under_journal(stream, os.environ if environ is None else environ)
        form = LogFormat.JOURNAL if journal else LogFormat.TEXT
    handler = logging.StreamHandler(stream)
    if form is LogFormat.JSON:
        handler.setFormatter(_JsonFormatter())
    elif form is LogFormat.JOURNAL:
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    numeric = logging.getLevelName(level.upper())
    handler.addFilter(_Redacting(addresses=numeric > logging.DEBUG))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if numeric <= logging.DEBUG else logging.WARNING)
    return form
