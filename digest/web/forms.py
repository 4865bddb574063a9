"""Whether a POST to a subscription form comes from a page of this site (CSRF), as a verdict the
subscription app turns into its answer (``subscriptions.SubscriptionApp._check_form``).

Anyone may fetch a form and copy its token into a page of their own, so with a valid token the
``Origin`` (the origin of the page that posted, which no page can choose) must still be
``site.base_url``'s or name the host the request was sent to, or be absent (no browser, nobody to
ride on).  ``null`` is refused: another site can make a browser send it; our pages send
``Referrer-Policy: strict-origin``, which keeps ours (``no-referrer`` made it ``null``).  Without a
valid token, the ``Origin`` (else the ``Referer``) must be ``site.base_url``'s origin, never judged by
the request's ``Host``.  (A DNS-rebinding page would read our forms as its own, tokens and all, its
``Origin`` naming the ``Host`` it sent: the site app refuses any ``Host`` not ours before a form sees
it, ``digest.web.hosts``.)  An RFC 8058 one-click POST comes from the mail provider without
``Origin``; its URL token is the proof.

A token of ours for the form older than ``FORM_MAX_AGE`` comes from our own page left open
(overnight, say): nothing is done, and the form comes back as sent, with a fresh token, to press once
more.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from digest.errors import TokenError
from digest.mail.tokens import Purpose, verify

FORM_MAX_AGE = timedelta(hours=12)


class Verdict(enum.Enum):
    """What a form's POST is: ours, ours but from a page open too long, or another site's."""

    OURS = "ours"
    STALE = "stale"
    FOREIGN = "foreign"


class FormGuard:
    """Judges the POSTs to the forms of a site at ``base_url`` whose tokens ``secret`` signs."""

    def __init__(self, secret: str, base_url: str, clock: Callable[[], datetime]) -> None:
        self._secret = secret
        self._origins = {origin_of(base_url)}
        self._clock = clock

    def verdict(
        self, path: str, token: str, headers: Mapping[str, str], *, one_click: bool = False
    ) -> Verdict:
        """The verdict on a POST to ``path`` with the form token ``token`` (empty: none) and
        ``headers`` (lower-case names); ``one_click``: the form takes an RFC 8058 POST."""
        origin = headers.get("origin")
        stale = False
        if token:
            try:
                verify(self._secret, token, Purpose.FORM, self._clock(), FORM_MAX_AGE, path)
                if origin is None or _addressed(origin, headers.get("host", "")):
                    return Verdict.OURS
            except TokenError as exc:
                stale = exc.expired  # set only once the MAC has proved the token ours, for this form
        if origin is not None:
            if origin.lower() in self._origins:
                return Verdict.OURS
        elif one_click:
            return Verdict.OURS
        else:
            referer = headers.get("referer")
            if referer is not None and origin_of(referer) in self._origins:
                return Verdict.OURS
        return Verdict.STALE if stale else Verdict.FOREIGN


def again(button: str) -> str:
    """The note on a form shown again because its page was open longer than ``FORM_MAX_AGE``."""
    return f"这个页面打开太久，刚才的提交没有生效，请再按一次“{button}”。"


def _addressed(origin: str, host: str) -> bool:
    """Whether ``origin`` (an ``Origin`` header) names ``host`` (the ``Host`` header), ports and all."""
    authority = origin_of(origin).partition("://")[2]
    return bool(host) and authority == host.lower().removesuffix(":80").removesuffix(":443")


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` as a browser serialises it: lower case, no default port (RFC 6454 §6.2)."""
    parts = urlsplit(url)
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower().rpartition("@")[2]
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc.removesuffix(default)
    return f"{scheme}://{netloc}"
