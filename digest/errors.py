"""Every error the service raises on purpose, with a message a user can act on.

    DigestError
    ├── ConfigError          a config value or command-line option is wrong
    ├── SourceError          a page file cannot be read or decoded
    │   └── EncodingError    its encoding is not the one ``ingest.encoding`` names, or cannot be told
    ├── StoreError           the database cannot be reached or written
    │   └── SchemaError      its schema does not fit this version (newer, or not upgraded yet)
    ├── BackupError          a backup cannot be made or restored (nothing was replaced)
    ├── UnknownArticleError  ``digest retract`` was given an id or URL no article has
    ├── NotDueError          ``digest send-digest`` asked for a digest whose day has not ended
    ├── AddressError         text that is not one usable email address
    ├── TokenError           a link or form token that is malformed, forged, misused or expired
    ├── PublishError         the output folder cannot be written
    ├── DeliveryError        an email could not be handed over
    │   ├── PermanentDeliveryError   the server refused the address for good (5xx)
    │   └── UncertainDeliveryError   the server may have taken it; never sent again
    └── AlreadyRunningError  another ``digest serve`` holds the data folder (or, for a
                             restore, leads on the PostgreSQL database)

Anything else that escapes is a bug and should surface loudly.  Third-party
errors are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base class: an expected failure with a plain-words message."""


class ConfigError(DigestError):
    """A configuration key or option holds a value we cannot use.

    The message names the key and the fix, e.g.
    ``schedule.timezone: unknown timezone 'Mars/Base'; use a name such as Asia/Shanghai``.
    """

    def __init__(self, key: str, problem: str, fix: str = "") -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        text = f"{key}: {problem}"
        if fix:
            text += f"; {fix}"
        super().__init__(text)


class SourceError(DigestError):
    """A page file is unreadable: the message names the file and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class EncodingError(SourceError):
    """A page file is neither UTF-8 nor marked by a byte-order mark, and ``ingest.encoding`` does not
    read it: a file a change of that setting may make readable."""


class StoreError(DigestError):
    """The database failed; the message says which URL and what to check."""


class SchemaError(StoreError):
    """The database's schema revision does not fit this code; the message names both and the fix."""


class BackupError(DigestError):
    """A backup or restore failed; the database in place is left as it was."""


class UnknownArticleError(DigestError):
    """No stored article has the id or URL given; the message says what was looked for."""


class NotDueError(DigestError):
    """A digest was asked for before its day ended; nothing was made.  Not a configuration mistake:
    waiting, or a preview, is the fix, so the command exits 1 rather than 2."""


class AddressError(DigestError, ValueError):
    """Text that is not one usable email address."""


class TokenError(DigestError, ValueError):
    """A token that is malformed, forged, for another purpose, or expired."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        self.expired = expired
        super().__init__(reason)


class PublishError(DigestError):
    """Writing the output folder failed; the previous output stays in place."""


class DeliveryError(DigestError):
    """An email could not be delivered now; it will be retried."""


class PermanentDeliveryError(DeliveryError):
    """The mail server refused this recipient for good; not retried."""


class HardBounceError(PermanentDeliveryError):
    """The receiving server refused the address itself (5xx at RCPT): a hard bounce, counted."""


class UncertainDeliveryError(DeliveryError):
    """The connection broke after the whole message went out: it may have arrived; not retried."""


class AlreadyRunningError(DigestError):
    """Another process already serves this data folder (or leads on the database a restore would replace).

    Exit status 2, the same for a second ``digest serve`` and for a ``digest restore`` it refuses.
    """
