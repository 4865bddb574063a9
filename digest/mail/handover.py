"""One claimed email handed over: composed, sent with its claim committed at the point of no
return, and what came of it as a ledger state.  The digest's send loop (``digest.mail.delivery``)
and the subscription emails (``digest.mail.subscribers``) send each claimed row through here
(the claims themselves: ``digest.store.claims``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from digest.errors import DeliveryError, HardBounceError, PermanentDeliveryError, UncertainDeliveryError
from digest.mail.message import Outgoing
from digest.mail.transports import Mailer
from digest.store.records import DeliveryState


@dataclass(frozen=True)
class Handover:
    """What became of one claimed email.

    ``outcome`` None: the row was no longer this sender's at the commit (another took it over),
    so the email was abandoned before its final "." and nothing is to be written.  ``committed``:
    the commit went through (what it noted stands only if the email may have arrived).
    """

    outcome: DeliveryState | None
    error: str | None = None
    committed: bool = False


class _Taken(Exception):
    """The row is no longer this sender's: abandon the email before its final "."."""


def hand_over(
    mailer: Mailer,
    compose: Callable[[], EmailMessage | Outgoing],
    commit: Callable[[], bool],
    on_hard_bounce: Callable[[str], None] | None = None,
) -> Handover:
    """Compose and send one email whose row this sender claimed; ``commit`` moves the row to
    ``sending`` at the point of no return and says False when it is no longer ours.

    ``sent``; ``unknown`` when it may have arrived; ``refused`` for good (a hard bounce is
    passed to ``on_hard_bounce`` with the error); ``failed`` to retry.
    """
    committed = False

    def guarded() -> None:
        nonlocal committed
        if not commit():
            raise _Taken
        committed = True

    try:
        mailer.send(compose(), commit=guarded)
    except _Taken:
        return Handover(None)
    except UncertainDeliveryError as exc:
        return Handover(DeliveryState.UNKNOWN, str(exc), committed)
    except HardBounceError as exc:
        if on_hard_bounce is not None:
            on_hard_bounce(str(exc))
        return Handover(DeliveryState.REFUSED, str(exc), committed)
    except PermanentDeliveryError as exc:
        return Handover(DeliveryState.REFUSED, str(exc), committed)
    except DeliveryError as exc:
        return Handover(DeliveryState.FAILED, str(exc), committed)
    return Handover(DeliveryState.SENT, None, committed)
