"""The subscription endpoints, an ASGI app mounted beside the published site.

    GET  /subscribe                the form (email, sections)
    POST /subscribe                an unconfirmed subscriber + a confirmation email (double opt-in)
    GET  /confirm/<token>          a page with a button; POST /confirm/<token> confirms
    GET  /preferences/<token>      the sections form; POST saves it
    GET  /unsubscribe/<token>      a page with a button; POST unsubscribes (RFC 8058 one-click too)

No cookies and no logins: a link's token (``digest.tokens``, HMAC with
``server.secret``) is the only authority, so a GET never changes anything
(mail scanners prefetch links) and there is no session for a forged form
to ride on.  Forms are still CSRF-checked: a POST needs the page's
signed form token, or an ``Origin`` (else ``Referer``) equal to
``site.base_url``'s origin.  The one exception is the RFC 8058
unsubscribe POST, which mail providers send server to server with no
``Origin``; its URL token is the proof.  ``/subscribe`` and ``/confirm``
are rate-limited per client address (429 with ``Retry-After``), and a
confirmation email goes to one address at most every ``RESEND_AFTER``, so
the form cannot be used to flood someone's mailbox.

The client is the TCP peer, or, when that is one of ``server.trusted_proxies``,
the address it names in ``X-Forwarded-For`` (``client_address``).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import ipaddress
import logging
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from email_validator import EmailNotValidError, validate_email

from digest.bounces import process_bounce_mailbox
from digest.config import Config
from digest.delivery import Links, Retry
from digest.errors import (
    DeliveryError,
    DigestError,
    HardBounceError,
    PermanentDeliveryError,
    UncertainDeliveryError,
)
from digest.feeds import all_spec
from digest.mail import Mailer, compose_confirmation_email, compose_manage_email, prepared
from digest.output import ALL_FEED, DIGESTS_INDEX, INDEX, SUBSCRIBE, feed_path, root_prefix
from digest.server import ASGIApp, Receive, Scope, Send
from digest.signing import signing_secret
from digest.site import Chrome, Link, environment, make_chrome
from digest.store import NoticeKind, Store, Subscriber, SubscriberStatus, new_key
from digest.tokens import FORM_KEY, Purpose, TokenError, sign, verify

log = logging.getLogger(__name__)

SUBSCRIBE_PATH = "/subscribe"
CONFIRM_PATH = "/confirm"
PREFERENCES_PATH = "/preferences"
UNSUBSCRIBE_PATH = "/unsubscribe"
PATHS = (SUBSCRIBE_PATH, CONFIRM_PATH, PREFERENCES_PATH, UNSUBSCRIBE_PATH)
RATE_LIMITED = (SUBSCRIBE_PATH, CONFIRM_PATH)
RESEND_AFTER = timedelta(minutes=10)  # at most one confirmation email per address this often
FORM_MAX_AGE = timedelta(hours=12)
MAX_BODY = 16 * 1024
MAX_CLIENTS = 10_000  # rate-limit buckets kept; the least recently seen are forgotten first

SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    # Tokens live in the URL: never leak them to another site through Referer.
    (b"referrer-policy", b"no-referrer"),
    # No framing (clickjacking on the buttons), no scripts, forms post only to us.
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
]
_SLUG = re.compile(r"^[a-z0-9-]{1,80}$")


class AddressError(ValueError):
    """Text that is not one usable email address."""


def normalize_address(text: str) -> str:
    """The address in one spelling (``Reader@X.org`` → ``reader@x.org``); ``AddressError`` otherwise.

    email-validator checks the syntax without any network look-up; it refuses
    line breaks and every other character that could start a new header.
    Only ASCII addresses are taken, because the mail path does not use SMTPUTF8.
    ``=?`` (the start of an RFC 2047 encoded word) is refused anywhere: decoded
    while a header is refolded it can become a line break (CVE-2024-6923).
    """
    if "=?" in text:
        raise AddressError("an address cannot contain =? (it reads as an encoded word)")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from exc
    return (valid.ascii_email or valid.normalized).lower()


def personal_links(config: Config, now: datetime, store: Store | None = None) -> Callable[[str], Links]:
    """A function giving each address its unsubscribe (https, mailto) and preferences links.

    The links carry the subscriber's opaque key from ``store``, never the
    address; an address the store does not know (a test copy) gets a key nobody has.
    """
    base = config.site.base_url.rstrip("/")
    secret = signing_secret(config)
    # A mailto only when a mailbox reads what it receives (the bounce mailbox): else https alone.
    mailto = f"mailto:{config.smtp.return_path}?subject=unsubscribe" if config.bounces.host else ""
    keys = store.subscriber_keys() if store is not None else {}

    def links(email: str) -> Links:
        token = sign(secret, Purpose.MANAGE, keys.get(email) or new_key(), now)
        return Links(
            unsubscribe=f"{base}{UNSUBSCRIBE_PATH}/{token}",
            mailto=mailto,
            preferences=f"{base}{PREFERENCES_PATH}/{token}",
        )

    return links


def send_notices(
    config: Config, store: Store, mailer: Mailer, now: datetime, email: str | None = None
) -> Counter[str]:
    """Send the subscription emails due at ``now`` (every address's, or ``email``'s); count the outcomes.

    The same rules as digests: a transient failure waits ``digest.retry_seconds``,
    doubling, and is retried by the service's retry job; a refusal for good is
    not retried (a hard bounce is counted); a confirmation still unsent after
    ``digest.confirm_hours`` expires, as its sign-up does.
    """
    secret = signing_secret(config)
    base = config.site.base_url.rstrip("/")
    retry = Retry(
        first=timedelta(seconds=config.digest.retry_seconds),
        give_up_after=timedelta(hours=config.digest.confirm_hours),
    )
    counts: Counter[str] = Counter()
    for notice in store.due_notices(now, email):
        subscriber = store.subscriber(notice.email)
        stale = subscriber is None or (notice.kind is NoticeKind.CONFIRM and subscriber.confirmed)
        if stale or now >= notice.created + retry.give_up_after:
            store.mark_notice(notice, "expired", notice.last_error or "no longer needed", now, None)
            counts["expired"] += 1
            continue
        assert subscriber is not None
        status, error, wait = "sent", None, None
        try:
            mailer.send(prepared(_notice_email(config, secret, base, subscriber, notice.kind, now), config))
        except UncertainDeliveryError as exc:
            status, error = "unknown", str(exc)
        except HardBounceError as exc:
            status, error = "refused", str(exc)
            bounce_recorder(config, store, now)(notice.email, error)
        except PermanentDeliveryError as exc:
            status, error = "refused", str(exc)
        except DeliveryError as exc:
            status, error, wait = "failed", str(exc), now + retry.wait(notice.attempts + 1)
            log.warning("%s email to %s not delivered, will retry: %s", notice.kind.value, notice.email, exc)
        store.mark_notice(notice, status, error, now, wait)
        counts[status] += 1
    return counts


def _notice_email(
    config: Config, secret: str, base: str, subscriber: Subscriber, kind: NoticeKind, now: datetime
) -> EmailMessage:
    if kind is NoticeKind.CONFIRM:
        token = sign(secret, Purpose.CONFIRM, subscriber.key, now)
        return compose_confirmation_email(
            config=config,
            recipient=subscriber.email,
            confirm_url=f"{base}{CONFIRM_PATH}/{token}",
            hours=config.digest.confirm_hours,
            site_url=base + "/",
            now=now,
        )
    manage = sign(secret, Purpose.MANAGE, subscriber.key, now)
    return compose_manage_email(
        config=config,
        recipient=subscriber.email,
        preferences_url=f"{base}{PREFERENCES_PATH}/{manage}",
        unsubscribe_url=f"{base}{UNSUBSCRIBE_PATH}/{manage}",
        site_url=base + "/",
        now=now,
    )


def subscription_upkeep(config: Config, store: Store, mailer: Mailer, now: datetime) -> None:
    """The retry job's part: send subscription emails whose wait is over, forget expired sign-ups,
    and read the bounce mailbox when there is one."""
    send_notices(config, store, mailer, now)
    if config.bounces.host:
        try:
            read = process_bounce_mailbox(config, store, now)
        except DeliveryError as exc:
            log.warning("bounce mailbox not read: %s", exc)
        else:
            if read:
                log.info("bounce mailbox: %s", ", ".join(f"{n} {what}" for what, n in sorted(read.items())))
    gone = store.remove_expired_signups(now - timedelta(hours=config.digest.confirm_hours))
    if gone:
        log.info(
            "%d sign-ups never confirmed within %d h were removed", len(gone), config.digest.confirm_hours
        )


def bounce_recorder(config: Config, store: Store, now: datetime) -> Callable[[str, str], None]:
    """What a hard bounce does: count it, and suppress the address at ``digest.bounce_limit``."""

    def record(email: str, error: str) -> None:
        after = store.record_hard_bounce(email, error, now, config.digest.bounce_limit)
        if after is not None and after.state is SubscriberStatus.BOUNCED:
            log.warning("%s bounced %d times; suppressed: %s", email, after.bounces, error)

    return record


def client_address(peer: str, forwarded_for: str | None, trusted: Iterable[str]) -> str:
    """The client's address: ``peer``, unless it is a trusted proxy that says who it forwards for.

    ``X-Forwarded-For`` is read from the right (RFC 7239 §5.2 order: each proxy
    appends the address it saw) and the first address that is not a trusted
    proxy is the client; whatever a client wrote further left is ignored, so
    it cannot pick its own rate-limit bucket.
    """
    networks = [ipaddress.ip_network(proxy, strict=False) for proxy in trusted]

    def is_proxy(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    if not forwarded_for or not is_proxy(peer):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_proxy(hop):
            return hop
    return hops[0] if hops else peer


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled steadily, bursts up to the same."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, clients: int = MAX_CLIENTS
    ) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._clients = clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)

    def wait(self, key: str) -> float:
        """0 when ``key`` may go ahead now (and takes a token), else the seconds until it may."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - at) * self._rate)
        if tokens >= 1:
            tokens -= 1
            wait = 0.0
        else:
            wait = (1 - tokens) / self._rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._clients:
            self._buckets.popitem(last=False)
        return wait


# --- page contexts (each template receives one of these as ``page``) ------------------------------


@dataclass(frozen=True)
class SectionChoice:
    """One checkbox of the sections form."""

    name: str
    slug: str
    checked: bool


@dataclass(frozen=True)
class SubscribeForm:
    """``subscription/form.html``: the sign-up form; ``error`` explains a refused attempt."""

    chrome: Chrome
    action: str
    form_token: str
    email: str
    sections: tuple[SectionChoice, ...]
    error: str


@dataclass(frozen=True)
class PreferencesForm:
    """``subscription/preferences.html``: a subscriber's sections, and the way out."""

    chrome: Chrome
    email: str
    action: str
    unsubscribe_action: str
    form_token: str
    unsubscribe_token: str
    sections: tuple[SectionChoice, ...]
    saved: bool
    welcome: bool  # just confirmed


@dataclass(frozen=True)
class ActionPage:
    """``subscription/action.html``: one sentence and one button (confirm, unsubscribe)."""

    chrome: Chrome
    heading: str
    text: str
    button: str
    action: str
    form_token: str


@dataclass(frozen=True)
class MessagePage:
    """``subscription/message.html``: the outcome of a request, or why it failed."""

    chrome: Chrome
    heading: str
    text: str
    links: tuple[Link, ...]


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    headers: Mapping[str, str]
    fields: Mapping[str, list[str]]
    query: Mapping[str, list[str]]
    client: str


class _Response(Exception):
    """A finished answer, raised from anywhere in a handler."""

    def __init__(self, status: HTTPStatus, body: bytes, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or []


def create_subscription_app(
    config: Config,
    store: Store,
    mailer: Callable[[], Mailer],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    limiter: RateLimiter | None = None,
) -> ASGIApp:
    """The ASGI app for ``PATHS``; mount it with ``server.create_app(routes=...)``.

    ``mailer`` makes a mailer for one confirmation email (opened and closed
    around it, so this app shares no connection with the digest job).
    """
    return _SubscriptionApp(config, store, mailer, clock, limiter or RateLimiter(config.server.rate_limit))


def subscription_routes(app: ASGIApp) -> dict[str, ASGIApp]:
    """The ``routes`` mapping that mounts ``app`` at every path it answers."""
    return dict.fromkeys(PATHS, app)


class _SubscriptionApp:
    def __init__(
        self,
        config: Config,
        store: Store,
        mailer: Callable[[], Mailer],
        clock: Callable[[], datetime],
        limiter: RateLimiter,
    ) -> None:
        self._config = config
        self._store = store
        self._mailer = mailer
        self._clock = clock
        self._limiter = limiter
        self._secret = signing_secret(config)
        self._site = config.site.title
        self._origins = {_origin(config.site.base_url)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served alone (tests); mounted, the site app answers these
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        try:
            request = await self._request(scope, receive)
            body, headers = await self._route(request)
            status = HTTPStatus.OK
        except _Response as answer:
            status, body, headers = answer.status, answer.body, answer.headers
        except DigestError as exc:
            log.error("subscription request failed: %s", exc)
            status, headers = HTTPStatus.SERVICE_UNAVAILABLE, [(b"retry-after", b"60")]
            body = self._message(scope["path"], "暂时无法处理", "服务暂时出了问题，请稍后再试。")
        await send(
            {
                "type": "http.response.start",
                "status": int(status),
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    *SECURITY_HEADERS,
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    # -- request plumbing ----------------------------------------------------------------------

    async def _request(self, scope: Scope, receive: Receive) -> _Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        peer = (scope.get("client") or ("unknown", 0))[0]
        client = client_address(peer, headers.get("x-forwarded-for"), self._config.server.trusted_proxies)
        path: str = scope["path"]
        if path.startswith(RATE_LIMITED):
            wait = self._limiter.wait(client)
            if wait > 0:
                retry = str(max(1, round(wait + 0.5)))
                log.warning("rate limit: %s on %s, retry after %ss", client, path, retry)
                body = self._message(path, "请求太频繁", f"请 {retry} 秒后再试。")
                raise _Response(HTTPStatus.TOO_MANY_REQUESTS, body, [(b"retry-after", retry.encode())])
        raw = b""
        if scope["method"] == "POST":
            raw = await _read_body(receive)
        fields: dict[str, list[str]] = {}
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            try:
                fields = parse_qs(raw.decode("utf-8"), max_num_fields=100)
            except (UnicodeDecodeError, ValueError):
                raise _Response(
                    HTTPStatus.BAD_REQUEST, self._message(path, "无法识别", "表单数据有误。")
                ) from None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=20)
        return _Request(scope["method"], path, headers, fields, query, client)

    async def _route(self, request: _Request) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        prefix, _, rest = request.path[1:].partition("/")
        handlers: dict[str, Callable[[_Request, str], Any]] = {
            SUBSCRIBE_PATH: self._subscribe,
            CONFIRM_PATH: self._confirm,
            PREFERENCES_PATH: self._preferences,
            UNSUBSCRIBE_PATH: self._unsubscribe,
        }
        handler = handlers.get("/" + prefix)
        # /subscribe takes nothing after it; every other path takes exactly one token.
        wants_token = prefix != SUBSCRIBE_PATH[1:]
        if handler is None or wants_token != bool(rest) or "/" in rest:
            raise _Response(
                HTTPStatus.NOT_FOUND, self._message(request.path, "找不到页面", "这个地址不存在。")
            )
        if request.method not in ("GET", "HEAD", "POST"):
            raise _Response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                self._message(request.path, "不支持", "只支持 GET 和 POST。"),
                [(b"allow", b"GET, HEAD, POST")],
            )
        result: tuple[bytes, list[tuple[bytes, bytes]]] = await handler(request, rest)
        return result

    def _check_form(self, request: _Request, *, one_click: bool = False) -> None:
        """CSRF: a valid signed form token for this path is enough, whatever ``Origin`` says.

        Our pages send ``Referrer-Policy: no-referrer``, under which browsers send
        ``Origin: null`` on a same-site POST (Fetch standard, "serializing a request
        origin"), so ``null`` proves nothing either way: the token decides.  Without a
        valid token, the ``Origin`` (or, when absent, the ``Referer``) must be
        ``site.base_url``'s origin; the request's own ``Host`` is never trusted, since a
        DNS-rebinding page would make it match.  An RFC 8058 one-click POST comes from the
        mail provider without ``Origin``; its URL token is the proof.
        """
        token = _field(request, "form_token")
        if token:
            try:
                verify(self._secret, token, Purpose.FORM, self._clock(), FORM_MAX_AGE, request.path)
                return
            except TokenError:
                pass
        origin = request.headers.get("origin")
        if origin is not None:
            if origin.lower() in self._origins:
                return
        elif one_click:
            return
        else:
            referer = request.headers.get("referer")
            if referer is not None and _origin(referer) in self._origins:
                return
        log.warning("refused a cross-site POST to %s from origin %r", request.path, origin)
        body = self._message(request.path, "请求被拒绝", "这个表单不是从本站提交的。请回到本站页面重新提交。")
        raise _Response(HTTPStatus.FORBIDDEN, body)

    async def _holder(
        self, request: _Request, token: str, purpose: Purpose, max_age: timedelta | None
    ) -> Subscriber | None:
        """The subscriber a valid link is for (None once the store no longer has it); 400/410 otherwise."""
        try:
            key = verify(self._secret, token, purpose, self._clock(), max_age)
        except TokenError as exc:
            text = "这个链接已经过期。" if exc.expired else "这个链接无效，可能复制得不完整。"
            links = (Link("重新订阅", self._root(request.path) + SUBSCRIBE_PATH[1:]),)
            status = HTTPStatus.GONE if exc.expired else HTTPStatus.BAD_REQUEST
            raise _Response(status, self._message(request.path, "链接无效", text, links)) from None
        return await asyncio.to_thread(self._store.subscriber_by_key, key)

    def _not_subscribed(self, request: _Request) -> bytes:
        links = (Link("订阅", self._root(request.path) + SUBSCRIBE_PATH[1:]),)
        return self._message(request.path, "未订阅", "这个地址目前没有订阅。", links)

    # -- handlers ------------------------------------------------------------------------------

    async def _subscribe(self, request: _Request, _rest: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        if request.method != "POST":
            return await self._subscribe_form(request, "", (), ""), []
        self._check_form(request)
        text = _field(request, "email").strip()
        sections = await self._chosen_sections(request)
        try:
            email = normalize_address(text)
        except AddressError:
            body = await self._subscribe_form(
                request, text, sections, "这个邮箱地址看起来不对，请检查后重试。"
            )
            raise _Response(HTTPStatus.UNPROCESSABLE_ENTITY, body) from None
        await asyncio.to_thread(self._request_confirmation, email, sections)
        # The same answer whether the address was new, pending or confirmed: it reveals nobody.
        return self._message(
            request.path,
            "请查收确认邮件",
            f"如果 {email} 可以收信，几分钟内会收到一封确认邮件；点击其中的链接后订阅才会生效。",
        ), []

    def _request_confirmation(self, email: str, sections: tuple[str, ...]) -> None:
        """Queue the email this sign-up calls for and try it now; when the server is down, the retry job."""
        now = self._clock()
        # A suppressed address keeps its status until its owner confirms again (fresh consent).
        asked = Subscriber(email, sections, False, now, source="web")
        claimed = self._store.claim_confirmation(asked, now, RESEND_AFTER)
        if claimed is None:
            log.info("no email to %s: the last one went out less than %s ago", email, RESEND_AFTER)
            return
        kind = NoticeKind.MANAGE if claimed.confirmed else NoticeKind.CONFIRM
        if kind is NoticeKind.CONFIRM and claimed.sections != sections:
            self._store.add_subscriber(dataclasses.replace(claimed, sections=sections))
        self._store.queue_notice(email, kind, now)
        mailer = self._mailer()
        try:
            send_notices(self._config, self._store, mailer, now, email)
        finally:
            mailer.close()

    async def _confirm(self, request: _Request, token: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        max_age = timedelta(hours=self._config.digest.confirm_hours)
        known = await self._holder(request, token, Purpose.CONFIRM, max_age)
        if known is None:
            links = (Link("重新订阅", self._root(request.path) + SUBSCRIBE_PATH[1:]),)
            text = "这个订阅申请已经失效，请重新订阅。"
            return self._message(request.path, "订阅申请已失效", text, links), []
        if request.method != "POST":
            return self._action(
                request, "确认订阅", f"确认用 {known.email} 订阅{self._site}的每日邮件摘要？"
            ), []
        self._check_form(request)
        if not known.confirmed:
            now = self._clock()
            confirmed = dataclasses.replace(
                known,
                confirmed=True,
                status=SubscriberStatus.CONFIRMED,
                confirmed_at=now,
                status_at=now,
                reason="",
                source="web",
                bounces=0,
            )
            await asyncio.to_thread(self._store.add_subscriber, confirmed)
            log.info("subscriber confirmed: %s", known.email)
        manage = sign(self._secret, Purpose.MANAGE, known.key, self._clock())
        location = self._root(request.path) + f"{PREFERENCES_PATH[1:]}/{manage}?confirmed=1"
        raise _Response(HTTPStatus.SEE_OTHER, b"", [(b"location", location.encode())])

    async def _preferences(self, request: _Request, token: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        known = await self._holder(request, token, Purpose.MANAGE, None)
        if known is None or not known.confirmed:
            return self._not_subscribed(request), []
        saved = False
        chosen = known.sections
        if request.method == "POST":
            self._check_form(request)
            chosen = await self._chosen_sections(request)
            changed = dataclasses.replace(known, sections=chosen)
            await asyncio.to_thread(self._store.add_subscriber, changed)
            saved = True
        unsubscribe_path = f"{UNSUBSCRIBE_PATH}/{token}"
        page = PreferencesForm(
            chrome=self._chrome(request.path, "订阅设置"),
            email=known.email,
            action=self._leaf(request.path),
            unsubscribe_action=self._root(request.path) + unsubscribe_path[1:],
            form_token=self._form_token(request.path),
            unsubscribe_token=self._form_token(unsubscribe_path),
            sections=await self._choices(chosen),
            saved=saved,
            welcome=request.query.get("confirmed") == ["1"],
        )
        return _render("subscription/preferences.html", page), []

    async def _unsubscribe(self, request: _Request, token: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        known = await self._holder(request, token, Purpose.MANAGE, None)
        if known is None or known.state.suppressed:
            links = (Link("重新订阅", self._root(request.path) + SUBSCRIBE_PATH[1:]),)
            return self._message(request.path, "已退订", "这个地址不会收到每日邮件摘要。", links), []
        if request.method != "POST":
            # RFC 8058 §4: a GET must not unsubscribe (link scanners prefetch); it offers the button.
            return self._action(request, "退订", f"不再给 {known.email} 发送{self._site}的每日邮件摘要？"), []
        self._check_form(request, one_click=True)
        one_click = "form_token" not in request.fields  # the mail provider posts no form of ours
        reason = "one-click unsubscribe from the mail client (RFC 8058)" if one_click else "unsubscribe page"
        await asyncio.to_thread(
            self._store.set_subscriber_status,
            known.email,
            SubscriberStatus.UNSUBSCRIBED,
            reason,
            self._clock(),
        )
        log.info("subscriber left: %s (%s)", known.email, reason)
        links = (Link("重新订阅", self._root(request.path) + SUBSCRIBE_PATH[1:]),)
        return self._message(request.path, "已退订", f"{known.email} 不会再收到每日邮件摘要。", links), []

    # -- helpers -------------------------------------------------------------------------------

    async def _subscribe_form(
        self, request: _Request, email: str, sections: tuple[str, ...], error: str
    ) -> bytes:
        page = SubscribeForm(
            chrome=self._chrome(request.path, "订阅每日摘要"),
            action=self._leaf(request.path),
            form_token=self._form_token(request.path),
            email=email,
            sections=await self._choices(sections),
            error=error,
        )
        return _render("subscription/form.html", page)

    async def _chosen_sections(self, request: _Request) -> tuple[str, ...]:
        """The known section slugs ticked in the form; anything else is dropped."""
        known = {s.slug for s in await asyncio.to_thread(self._store.sections)}
        ticked = request.fields.get("section", [])
        return tuple(dict.fromkeys(s for s in ticked if _SLUG.match(s) and s in known))

    async def _choices(self, chosen: Iterable[str]) -> tuple[SectionChoice, ...]:
        picked = set(chosen)
        sections = await asyncio.to_thread(self._store.sections)
        return tuple(SectionChoice(s.name, s.slug, s.slug in picked) for s in sections)

    def _action(self, request: _Request, verb: str, question: str) -> bytes:
        """A page asking ``question`` with one button, ``verb``, that POSTs back to this page."""
        page = ActionPage(
            chrome=self._chrome(request.path, verb),
            heading=verb,
            text=question,
            button=verb,
            action=self._leaf(request.path),
            form_token=self._form_token(request.path),
        )
        return _render("subscription/action.html", page)

    def _form_token(self, path: str) -> str:
        return sign(self._secret, Purpose.FORM, FORM_KEY, self._clock(), path)

    def _chrome(self, path: str, title: str) -> Chrome:
        root = self._root(path)
        nav = (
            Link("首页", root + INDEX),
            Link("每日摘要", root + DIGESTS_INDEX),
            Link("订阅", root + SUBSCRIBE),
        )
        feeds = (Link(all_spec(self._config).title, root + feed_path(ALL_FEED)),)
        return make_chrome(self._site, title, root, nav, feeds)

    @staticmethod
    def _root(path: str) -> str:
        return root_prefix(path.lstrip("/"))

    @staticmethod
    def _leaf(path: str) -> str:
        """The last segment: a form on a page posts back to the page, relatively."""
        return path.rsplit("/", 1)[-1]

    def _message(self, path: str, heading: str, text: str, links: tuple[Link, ...] = ()) -> bytes:
        root = self._root(path)
        return _render(
            "subscription/message.html",
            MessagePage(
                self._chrome(path, heading), heading, text, links or (Link("返回首页", root + INDEX),)
            ),
        )


def _render(template: str, page: object) -> bytes:
    return environment().get_template(template).render(page=page).encode("utf-8")


def _field(request: _Request, name: str) -> str:
    values = request.fields.get(name)
    return values[0] if values else ""


def _origin(url: str) -> str:
    """``scheme://host[:port]`` as a browser serialises it: lower case, no default port (RFC 6454 §6.2)."""
    parts = urlsplit(url)
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower().rpartition("@")[2]
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc.removesuffix(default)
    return f"{scheme}://{netloc}"


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Response(HTTPStatus.BAD_REQUEST, b"")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _Response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"request body too large\n")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


# The columns ``export_subscribers`` writes and ``parse_subscriber_csv`` reads back.
EXPORT_COLUMNS = ("email", "status", "sections", "consented_at", "source", "reason", "status_at")


@dataclass(frozen=True)
class ImportRow:
    """One good line of a subscriber CSV file; empty fields are what a plain ``email,sections`` file lacks."""

    line: int
    email: str
    sections: tuple[str, ...]
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
    def cell(name: str) -> str:
        at = columns.get(name, -1)
        return cells[at] if 0 <= at < len(cells) else ""

    address, wanted = cell("email"), cell("sections")
    try:
        email = normalize_address(address)
    except AddressError as exc:
        raise ValueError(f"{address!r} is not an email address ({exc})") from None
    slugs = tuple(dict.fromkeys(re.split(r"[\s;|]+", wanted))) if wanted else ()
    bad = [slug for slug in slugs if not _SLUG.match(slug)]
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
        slugs,
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
) -> Subscriber | None:
    """The subscriber an import row makes of ``known`` (None: ``known`` stays as it is).

    The suppression list wins: an address that unsubscribed, bounced or
    complained is never made pending or confirmed again by an import, unless
    ``resubscribe`` (the operator holds new consent).  A row's own status (an
    export's) goes before ``status``; one of the two must say.
    """
    wanted = row.status or status
    if wanted is None:
        raise ValueError(f"line {row.line}: no status; say --status confirmed or --status pending")
    revived = known is not None and known.state.suppressed and not wanted.suppressed
    if revived and not resubscribe:
        return None
    confirmed = wanted is SubscriberStatus.CONFIRMED
    if row.status is not None:  # an export's row: taken as it is, so a round trip changes nothing
        consented_at, reason, status_at = row.consented_at, row.reason, row.status_at
    elif known is not None and known.status is wanted:
        consented_at = row.consented_at or known.confirmed_at
        reason, status_at = known.reason, known.status_at
    else:
        consented_at, reason, status_at = row.consented_at or (now if confirmed else None), "", now
    return Subscriber(
        email=row.email,
        sections=row.sections,
        confirmed=confirmed,
        created=known.created if known else now,
        confirm_sent_at=known.confirm_sent_at if known else None,
        confirmed_at=consented_at,
        status=wanted,
        key=known.key if known else "",
        reason=reason,
        status_at=status_at,
        source=row.source or ("import --resubscribe" if revived else "import"),
        bounces=known.bounces if known and not revived else 0,
    )
