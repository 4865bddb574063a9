"""The subscription endpoints, an ASGI app mounted beside the published site.

    GET  /subscribe                the form (email, sections)
    POST /subscribe                an unconfirmed subscriber + a confirmation email (double opt-in)
    GET  /confirm/<token>          a page with a button; POST /confirm/<token> confirms
    GET  /preferences/<token>      the sections form; POST saves it
    GET  /unsubscribe/<token>      a page with a button; POST unsubscribes (RFC 8058 one-click too)

No cookies and no logins: a link's token (``digest.mail.tokens``, HMAC with
``server.secret``) is the only authority, so a GET never changes anything
(mail scanners prefetch links) and there is no session for a forged form
to ride on.  Forms are still CSRF-checked (``digest.web.forms``), since a
visitor's browser can still be made to post a form for another site
(sign-ups from many addresses, past the rate limit): a POST needs the
page's signed form token and an ``Origin`` of this site, or an ``Origin``
(else ``Referer``) equal to ``site.base_url``'s origin.  The one
exception is the RFC 8058 unsubscribe POST, which mail providers send server to server with no
``Origin``; its URL token is the proof.  A form token of ours past
``FORM_MAX_AGE`` (a page left open overnight) changes nothing but gets the
form back as it was sent, with a fresh token, to be sent once more.
``/subscribe`` and ``/confirm`` are rate-limited per client address (429
with ``Retry-After``), and a confirmation email goes to one address at most
every ``RESEND_AFTER``, so the form cannot be used to flood someone's mailbox.
That email is queued before the answer and sent after it, so the answer takes
as long whoever the address is (one that bounced gets no email, and a slow mail
server would tell them apart).  It is handed to the app's own ``AFTER_THREADS``
threads, never the ones requests read the store on, and the request ends
without waiting for it (a server stopping meanwhile has no request to cancel;
``close`` waits for the email under way).  The mailer (``signup_mailer``) waits
at most ``AFTER_SMTP_SECONDS`` a step, so a mail server that takes connections
and never answers holds up later sign-up emails, not pages, search or other
forms; but ``transports.DOT_TIMEOUT`` for the reply to the final ".", which a relay
scanning the message gives last, since giving up there would leave the email
``unknown`` and never sent again.  One that cannot be sent waits in the queue
for the service's retry job, as every subscription email does (claimed first,
so the two never both send it: ``digest.mail.subscribers.send_notices``).

The client is the TCP peer, or, when that is one of ``server.trusted_proxies``,
the address it names in ``X-Forwarded-For`` (``client_address``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from digest.config import Config
from digest.errors import AddressError, DigestError, TokenError
from digest.mail.signing import signing_secret
from digest.mail.subscribers import normalize_address, queue_confirmation, send_notices
from digest.mail.tokens import Purpose, from_release_010, sign, verify
from digest.mail.transports import Mailer, make_mailer
from digest.paper.slugs import SLUG_SHAPE
from digest.publish.chrome import Link
from digest.publish.layout import (
    CONFIRM_PATH,
    PREFERENCES_PATH,
    SUBSCRIBE_PATH,
    UNSUBSCRIBE_PATH,
)
from digest.store.database import Store
from digest.store.records import Subscriber, SubscriberStatus
from digest.types import Section
from digest.web.forms import FORM_MAX_AGE, FormGuard, Verdict, again
from digest.web.http import (
    SECURITY_HEADERS,
    Answer,
    ASGIApp,
    BodyTooLarge,
    Headers,
    Receive,
    Scope,
    Send,
    lifespan,
    query_fields,
    read_body,
    respond,
)
from digest.web.ratelimit import RateLimiter, client_address
from digest.web.subscription_pages import (
    Pages,
    root_of,
)

log = logging.getLogger(__name__)

PATHS = (SUBSCRIBE_PATH, CONFIRM_PATH, PREFERENCES_PATH, UNSUBSCRIBE_PATH)
RATE_LIMITED = (SUBSCRIBE_PATH, CONFIRM_PATH)
RESEND_AFTER = timedelta(minutes=10)  # at most one confirmation email per address this often
MAX_BODY = 16 * 1024
# A link of an email sent before the upgrade from 0.1.0, whose links had another form.
_BEFORE_UPGRADE = (
    "这个链接来自本站升级之前发出的邮件，已经不能使用。要退订或选择版面，请使用最近一封摘要邮件里的链接"
    "（升级之后发出的每封邮件都带有可用的链接）；尚未确认的订阅请重新订阅。"
)
# The sign-up emails sent after their answers: two threads of their own, and a mailer bounded to a
# few seconds a step (``signup_mailer``); a silent mail server ties up only these.
AFTER_THREADS = 2
AFTER_SMTP_SECONDS = 5.0


# --- page contexts (each template receives one of these as ``page``) ------------------------------


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    headers: Mapping[str, str]
    fields: Mapping[str, list[str]]
    query: Mapping[str, list[str]]
    client: str
    # Work for once the answer is out (``SubscriptionApp.__call__``), on its own threads.
    after: list[Callable[[], None]] = dataclasses.field(default_factory=list)


def create_subscription_app(
    config: Config,
    store: Store,
    mailer: Callable[[], Mailer],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    limiter: RateLimiter | None = None,
) -> SubscriptionApp:
    """The ASGI app for ``PATHS``; mount it with ``server.create_app(routes=...)``, ``close`` it once
    the server stopped.

    ``mailer`` makes a mailer for one confirmation email (opened and closed
    around it, so this app shares no connection with the digest job); ``digest serve``
    gives ``signup_mailer``.
    """
    return SubscriptionApp(config, store, mailer, clock, limiter or RateLimiter(config.server.rate_limit))


def signup_mailer(config: Config) -> Mailer:
    """The mailer of one sign-up's email: ``AFTER_SMTP_SECONDS`` a step, ``transports.DOT_TIMEOUT`` for the
    reply to the final "."."""
    return make_mailer(config, config.paths.data, timeout=AFTER_SMTP_SECONDS)


def subscription_routes(app: ASGIApp) -> dict[str, ASGIApp]:
    """The ``routes`` mapping that mounts ``app`` at every path it answers: ``/subscribe`` itself,
    and the paths below the others (``/confirm/<token>``)."""
    return {SUBSCRIBE_PATH: app, **{path + "/": app for path in PATHS if path != SUBSCRIBE_PATH}}


class SubscriptionApp:
    """The subscription endpoints, and the threads that send what a sign-up queued."""

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
        self._forms = FormGuard(self._secret, config.site.base_url, clock)
        # The sections as last read (each request reads them again; see ``_route``): the masthead
        # lists them like every published page, and an error page still draws with the last ones.
        self._sections: tuple[Section, ...] = ()
        self._pages = Pages(config, self._secret, clock, lambda: self._sections)
        self._after = ThreadPoolExecutor(AFTER_THREADS, thread_name_prefix="digest-signup-mail")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served alone (tests); mounted, the site app answers these
            await lifespan(receive, send)
            return
        request: _Request | None = None
        try:
            request = await self._request(scope, receive)
            body, headers = await self._route(request)
            status, drain = HTTPStatus.OK, False
        except Answer as answer:
            status, body, headers, drain = answer.status, answer.body, answer.headers, answer.drain
        except DigestError as exc:
            log.error("subscription request failed: %s", exc)
            status, headers, drain = HTTPStatus.SERVICE_UNAVAILABLE, [(b"retry-after", b"60")], False
            body = self._pages.message(scope["path"], "暂时无法处理", "服务暂时出了问题，请稍后再试。")
        page = [(b"content-type", b"text/html; charset=utf-8"), *SECURITY_HEADERS, *headers]
        head = scope["method"] == "HEAD"
        await respond(send, status, page, body, head=head, drain=receive if drain else None)
        for job in request.after if request is not None else ():
            # Not awaited: the request is over once answered, so a server stopping meanwhile has
            # nothing to cancel, and ``close`` waits for the email under way.
            self._after.submit(job).add_done_callback(_log_failure)

    def close(self) -> None:
        """Finish the sign-up emails being sent (``AFTER_SMTP_SECONDS`` a step, ``transports.DOT_TIMEOUT``
        for the reply to the "." at most) and drop the ones not started: they stay queued for the
        retry job."""
        self._after.shutdown(wait=True, cancel_futures=True)

    # -- request plumbing ----------------------------------------------------------------------

    async def _request(self, scope: Scope, receive: Receive) -> _Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        peer = (scope.get("client") or ("unknown", 0))[0]
        client = client_address(peer, headers.get("x-forwarded-for"), self._config.server.trusted_proxies)
        path: str = scope["path"]
        self._check_rate(path, client)
        raw = b""
        if scope["method"] == "POST":
            try:
                raw = await read_body(receive, headers, MAX_BODY)
            except BodyTooLarge as exc:
                # Closed once the rest is read away: the next request gets a fresh connection.
                body = self._pages.too_large(path, MAX_BODY)
                close = [(b"connection", b"close")]
                raise Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, body, close, drain=exc.unread) from None
        fields: dict[str, list[str]] = {}
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            try:
                fields = parse_qs(raw.decode("utf-8"), max_num_fields=100)
            except (UnicodeDecodeError, ValueError):
                raise Answer(
                    HTTPStatus.BAD_REQUEST, self._pages.message(path, "无法识别", "表单数据有误。")
                ) from None
        query = query_fields(scope.get("query_string", b""))
        return _Request(scope["method"], path, headers, fields, query, client)

    def _check_rate(self, path: str, client: str) -> None:
        """429 with ``Retry-After`` once ``client`` has used up its sign-ups and confirmations."""
        if not path.startswith(RATE_LIMITED):
            return
        wait = self._limiter.wait(client)
        if wait > 0:
            retry = str(max(1, round(wait + 0.5)))
            log.warning("rate limit: %s on %s, retry after %ss", client, path, retry)
            body = self._pages.message(path, "请求太频繁", f"请 {retry} 秒后再试。")
            raise Answer(HTTPStatus.TOO_MANY_REQUESTS, body, [(b"retry-after", retry.encode())])

    async def _route(self, request: _Request) -> tuple[bytes, Headers]:
        # Read after the rate limit, so a refused flood costs the database nothing.
        self._sections = tuple(await asyncio.to_thread(self._store.sections))
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
            body = self._pages.message(request.path, "找不到页面", "这个地址不存在。")
            raise Answer(HTTPStatus.NOT_FOUND, body)
        if request.method not in ("GET", "HEAD", "POST"):
            raise Answer(
                HTTPStatus.METHOD_NOT_ALLOWED,
                self._pages.message(request.path, "不支持", "只支持 GET 和 POST。"),
                [(b"allow", b"GET, HEAD, POST")],
            )
        result: tuple[bytes, Headers] = await handler(request, rest)
        return result

    def _check_form(self, request: _Request, again: Callable[[], bytes], *, one_click: bool = False) -> None:
        """CSRF: go on only with a POST from a page of this site (``forms.FormGuard``); ``again()`` is
        the form as sent, given back when it came from our page left open past ``FORM_MAX_AGE``."""
        token = _field(request, "form_token")
        verdict = self._forms.verdict(request.path, token, request.headers, one_click=one_click)
        if verdict is Verdict.OURS:
            return
        if verdict is Verdict.STALE:
            log.info(
                "a form of %s opened over %s ago: shown again to send once more", request.path, FORM_MAX_AGE
            )
            raise Answer(HTTPStatus.UNPROCESSABLE_ENTITY, again())
        origin = request.headers.get("origin")
        log.warning("refused a cross-site POST to %s from origin %r", request.path, origin)
        text = "这个表单不是从本站提交的。请回到本站页面重新提交。"
        body = self._pages.message(request.path, "请求被拒绝", text)
        raise Answer(HTTPStatus.FORBIDDEN, body)

    async def _holder(
        self, request: _Request, token: str, purpose: Purpose, max_age: timedelta | None
    ) -> Subscriber | None:
        """The subscriber a valid link is for (None once the store no longer has it); 400/410 otherwise."""
        try:
            key = verify(self._secret, token, purpose, self._clock(), max_age)
        except TokenError as exc:
            status, text = _link_refused(exc, token, request.path)
            links = (Link("重新订阅", root_of(request.path) + SUBSCRIBE_PATH[1:]),)
            raise Answer(status, self._pages.message(request.path, "链接无效", text, links)) from None
        return await asyncio.to_thread(self._store.subscriber_by_key, key)

    def _not_subscribed(self, request: _Request) -> bytes:
        links = (Link("订阅", root_of(request.path) + SUBSCRIBE_PATH[1:]),)
        return self._pages.message(request.path, "未订阅", "这个地址目前没有订阅。", links)

    # -- handlers ------------------------------------------------------------------------------

    async def _subscribe(self, request: _Request, _rest: str) -> tuple[bytes, Headers]:
        if request.method != "POST":
            return self._pages.subscribe_form(request.path, "", (), ""), []
        text = _field(request, "email").strip()
        sections = self._chosen_sections(request)
        self._check_form(
            request, lambda: self._pages.subscribe_form(request.path, text, sections, again("订阅"))
        )
        try:
            email = normalize_address(text)
        except AddressError:
            body = self._pages.subscribe_form(
                request.path, text, sections, "这个邮箱地址看起来不对，请检查后重试。"
            )
            raise Answer(HTTPStatus.UNPROCESSABLE_ENTITY, body) from None
        now = self._clock()
        if await asyncio.to_thread(queue_confirmation, self._store, email, sections, now, RESEND_AFTER):
            request.after.append(functools.partial(self._send_notices, email))
        # The same answer, as soon, whether the address was new, pending, confirmed or refusing mail:
        # the email goes out after it (``_Request.after``): neither its words nor its time reveal anybody.
        return self._pages.message(
            request.path,
            "请查收确认邮件",
            f"如果 {email} 可以收信，几分钟内会收到一封确认邮件；点击其中的链接后订阅才会生效。",
        ), []

    def _send_notices(self, email: str) -> None:
        """Send what a sign-up of ``email`` queued: called once its answer is out, so the answer's
        time says nothing about the address.  What fails waits in the queue for the retry job."""
        mailer = self._mailer()
        try:
            send_notices(self._config, self._store, mailer, self._clock(), email)
        except DigestError as exc:
            log.error("email to %s not sent now, the retry job will: %s", email, exc)
        finally:
            mailer.close()

    async def _confirm(self, request: _Request, token: str) -> tuple[bytes, Headers]:
        max_age = timedelta(hours=self._config.digest.confirm_hours)
        known = await self._holder(request, token, Purpose.CONFIRM, max_age)
        if known is None:
            links = (Link("重新订阅", root_of(request.path) + SUBSCRIBE_PATH[1:]),)
            text = "这个订阅申请已经失效，请重新订阅。"
            return self._pages.message(request.path, "订阅申请已失效", text, links), []
        question = f"确认用 {known.email} 订阅{self._site}的每日邮件摘要？"
        if request.method != "POST":
            return self._pages.action(request.path, "确认订阅", question), []
        self._check_form(
            request, lambda: self._pages.action(request.path, "确认订阅", question, again("确认订阅"))
        )
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
        location = root_of(request.path) + f"{PREFERENCES_PATH[1:]}/{manage}?confirmed=1"
        raise Answer(HTTPStatus.SEE_OTHER, b"", [(b"location", location.encode())])

    async def _preferences(self, request: _Request, token: str) -> tuple[bytes, Headers]:
        known = await self._holder(request, token, Purpose.MANAGE, None)
        if known is None or not known.confirmed:
            return self._not_subscribed(request), []
        welcome = request.query.get("confirmed") == ["1"]
        form = functools.partial(
            self._pages.preferences_form, request.path, token, known.email, welcome=welcome
        )
        if request.method != "POST":
            return form(known.sections), []
        chosen = self._chosen_sections(request)
        self._check_form(request, lambda: form(chosen, note=again("保存")))
        await asyncio.to_thread(self._store.add_subscriber, dataclasses.replace(known, sections=chosen))
        return form(chosen, saved=True), []

    async def _unsubscribe(self, request: _Request, token: str) -> tuple[bytes, Headers]:
        known = await self._holder(request, token, Purpose.MANAGE, None)
        if known is None or known.state.suppressed:
            links = (Link("重新订阅", root_of(request.path) + SUBSCRIBE_PATH[1:]),)
            return self._pages.message(request.path, "已退订", "这个地址不会收到每日邮件摘要。", links), []
        question = f"不再给 {known.email} 发送{self._site}的每日邮件摘要？"
        if request.method != "POST":
            # RFC 8058 §4: a GET must not unsubscribe (link scanners prefetch); it offers the button.
            return self._pages.action(request.path, "退订", question), []
        self._check_form(
            request, lambda: self._pages.action(request.path, "退订", question, again("退订")), one_click=True
        )
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
        links = (Link("重新订阅", root_of(request.path) + SUBSCRIBE_PATH[1:]),)
        text = f"{known.email} 不会再收到每日邮件摘要。"
        return self._pages.message(request.path, "已退订", text, links), []

    # -- helpers -------------------------------------------------------------------------------

    def _chosen_sections(self, request: _Request) -> tuple[str, ...]:
        """The known section slugs ticked in the form; anything else is dropped."""
        known = {s.slug for s in self._sections}
        ticked = request.fields.get("section", [])
        return tuple(dict.fromkeys(s for s in ticked if SLUG_SHAPE.match(s) and s in known))


def _log_failure(job: Future[None]) -> None:
    """A sign-up email's job that raised: a bug (``_send_notices`` handles the expected failures)."""
    error = None if job.cancelled() else job.exception()
    if error is not None:
        log.error("a sign-up's email failed: %s", error, exc_info=error)


def _link_refused(exc: TokenError, token: str, path: str) -> tuple[HTTPStatus, str]:
    """The status and the words for a link token ``verify`` refused."""
    if exc.expired:
        return HTTPStatus.GONE, "这个链接已经过期。"
    if from_release_010(token):  # the upgrade changed every link's form
        log.info("a link from an email of release 0.1.0 for %s: no longer valid", path)
        return HTTPStatus.GONE, _BEFORE_UPGRADE
    return HTTPStatus.BAD_REQUEST, "这个链接无效，可能复制得不完整。"


def _field(request: _Request, name: str) -> str:
    values = request.fields.get(name)
    return values[0] if values else ""
