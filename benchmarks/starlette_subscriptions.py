"""The subscription app ported to Starlette, for ``bench_forms``: same handlers and pages, Starlette plumbing.

Issue 12 asks whether the form app is better on Starlette.  This port keeps
every handler, page and check of ``digest.web.subscriptions`` (they are
inherited, so both apps run the same code for the work itself) and swaps the
hand-written plumbing for Starlette's: ``Route`` patterns instead of path
splitting, ``Request.form()`` (python-multipart) instead of ``parse_qs``,
``max_body_size`` instead of the body reader, exception handlers for the
Chinese 404/405 pages, and ``Response`` objects for the answers.  Swapped in,
it passes the subscription tests but one (see docs/performance.md: a
``Content-Length`` past the cap gets Starlette's own 413, without our
headers), so the benchmark compares two apps that behave alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.config import Config
from digest.errors import DigestError
from digest.mail.transports import Mailer
from digest.publish.layout import CONFIRM_PATH, PREFERENCES_PATH, SUBSCRIBE_PATH, UNSUBSCRIBE_PATH
from digest.store.database import Store
from digest.web.http import Answer, Headers
from digest.web.ratelimit import RateLimiter, client_address
from digest.web.subscriptions import _SECURITY_HEADERS, MAX_BODY, _Request, _SubscriptionApp

Handler = Callable[[_Request, str], Awaitable[tuple[bytes, Headers]]]
# digest.web.http.respond adds this to every answer of the hand-written apps; Starlette does not.
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_METHODS = ["GET", "HEAD", "POST"]


def create_starlette_subscription_app(
    config: Config,
    store: Store,
    mailer: Callable[[], Mailer],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    limiter: RateLimiter | None = None,
) -> Starlette:
    """``create_subscription_app`` on Starlette: the same paths, answers and checks."""
    forms = _SubscriptionApp(config, store, mailer, clock, limiter or RateLimiter(config.server.rate_limit))

    def page(status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()) -> Response:
        answer = Response(body, status, media_type="text/html; charset=utf-8")
        answer.raw_headers += [_NOSNIFF, *_SECURITY_HEADERS, *headers]
        return answer

    def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def answer(request: Request) -> Response:
            peer = request.client.host if request.client else "unknown"
            trusted = config.server.trusted_proxies
            client = client_address(peer, request.headers.get("x-forwarded-for"), trusted)
            forms._check_rate(request.url.path, client)
            form = await request.form(max_fields=100)
            fields = {name: [v for v in form.getlist(name) if isinstance(v, str)] for name in form}
            query = parse_qs(request.url.query, max_num_fields=20)
            ours = _Request(request.method, request.url.path, request.headers, fields, query, client)
            body, headers = await handler(ours, request.path_params.get("token", ""))
            return page(200, body, headers)

        return answer

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Answer)
        return page(exc.status, exc.body, exc.headers)

    async def failed(request: Request, exc: Exception) -> Response:
        body = forms._message(request.url.path, "暂时无法处理", "服务暂时出了问题，请稍后再试。")
        return page(HTTPStatus.SERVICE_UNAVAILABLE, body, [(b"retry-after", b"60")])

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = request.url.path
        if exc.status_code == HTTPStatus.NOT_FOUND:
            return page(exc.status_code, forms._message(path, "找不到页面", "这个地址不存在。"))
        if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            body = forms._message(path, "不支持", "只支持 GET 和 POST。")
            return page(exc.status_code, body, [(b"allow", b"GET, HEAD, POST")])
        return page(exc.status_code, f"{exc.detail}\n".encode())

    routes = [
        Route(SUBSCRIBE_PATH, endpoint(forms._subscribe), methods=_METHODS),
        Route(CONFIRM_PATH + "/{token}", endpoint(forms._confirm), methods=_METHODS),
        Route(PREFERENCES_PATH + "/{token}", endpoint(forms._preferences), methods=_METHODS),
        Route(UNSUBSCRIBE_PATH + "/{token}", endpoint(forms._unsubscribe), methods=_METHODS),
    ]
    handlers = {Answer: refused, DigestError: failed, HTTPException: http_error}
    app = Starlette(routes=routes, exception_handlers=handlers, max_body_size=MAX_BODY)  # type: ignore[arg-type]
    app.router.redirect_slashes = False  # "/confirm/" is a 404, as in the hand-written app
    return app
