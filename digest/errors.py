"""Every error the service raises on purpose, with a message a user can act on.

    DigestError
    ├── ConfigError          a config value or command-line option is wrong
    ├── SourceError          a page file cannot be read or decoded
    ├── StoreError           the database cannot be reached or written
    ├── BackupError          a backup cannot be made or restored (nothing was replaced)
    ├── UnknownArticleError  ``digest retract`` was given an id or URL no article has
    ├── PublishError         the output folder cannot be written
    ├── DeliveryError        an email could not be handed over
    │   ├── PermanentDeliveryError   the server refused the address for good (5xx)
    │   └── UncertainDeliveryError   the server may have taken it; never sent again
    └── AlreadyRunningError  another ``digest serve`` holds the data folder

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


class StoreError(DigestError):
    """The database failed; the message says which URL and what to check."""


class BackupError(DigestError):
    """A backup or restore failed; the database in place is left as it was."""


class UnknownArticleError(DigestError):
    """No stored article has the id or URL given; the message says what was looked for."""


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
    """Another process already serves this data folder."""
