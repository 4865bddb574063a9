"""The host names ``digest serve`` answers for: its guard against DNS rebinding.

A page on a site of the attacker's whose name they then point at 127.0.0.1 (or at this machine's
LAN address) stays, to the browser, a page of that site: its script may read what the service
answers and post its forms, from the operator's own browser, as a direct loopback client.  It
could read ``/healthz?details`` and ``/metrics``, sign addresses up past the Origin check (the
Origin and the Host both name the attacker's site), and read an intranet-only site.  What gives
it away is the ``Host`` header, which the browser fills with the attacker's name, so the service
answers only requests naming one of its own hosts (``HostNames``), and anything else with 421
Misdirected Request (RFC 9110 §15.5.20).  Its own names are:

- the host of ``site.base_url`` (what links, feeds and emails point at; behind a proxy, what the
  proxy forwards: the shipped nginx config sends ``Host $host``);
- ``server.host``, unless it is a wildcard address (``0.0.0.0``, ``::``);
- ``localhost``, and any IP address: a name the browser does not look up in DNS cannot be
  rebound, so ``Host: 192.0.2.7`` is only ever sent by a page this server itself served;
- the names in ``server.allowed_hosts`` (``"*"``: any name, the guard off).

The port is not compared: rebinding needs a name of the attacker's, whatever the port, and a
proxy sends the name alone (nginx's ``$host``).  A request with no Host (HTTP/1.0) comes from no
browser, and is answered.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import re
from dataclasses import dataclass
from functools import lru_cache, partial
from urllib.parse import urlsplit

from digest.config import Config
from digest.language import DEFAULT_LANGUAGE, fixed_words

log = logging.getLogger(__name__)

ANY_HOST = "*"
_WILDCARDS = frozenset(("", "0.0.0.0", "::"))
# A name worth suggesting as a setting: letters, digits, dots and hyphens (and a port), nothing to quote.
_PLAIN_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?")
# Refused names logged at WARNING, each once; past this many, the rest at DEBUG (a scanner sends many).
_LOGGED_NAMES = 64


def host_name(header: str) -> str:
    """The name a ``Host`` header value names, as compared: no port, no brackets, no final dot,
    lower case, and an international name in its ASCII (IDNA) form, as browsers send it."""
    value = header.strip()
    if value.startswith("["):  # [::1]:8080
        address, _, port = value[1:].partition("]")
        return address.lower() if not port or port.startswith(":") else value.lower()
    name = value.rpartition(":")[0] if value.count(":") == 1 else value
    name = name.rstrip(".").lower()
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostNames:
    """The host names a request may name (``names``), or any (``anything``)."""

    names: frozenset[str]
    anything: bool = False

    @classmethod
    def of(cls, config: Config) -> HostNames:
        """A configuration's: ``site.base_url``'s host, ``server.host``, ``server.allowed_hosts``."""
        extra = config.server.allowed_hosts
        names = {"localhost", host_name(urlsplit(config.site.base_url).netloc.rpartition("@")[2])}
        listening = config.server.host
        if listening not in _WILDCARDS:
            names.add(host_name(f"[{listening}]" if ":" in listening else listening))
        names.update(host_name(name) for name in extra if name != ANY_HOST)
        return cls(frozenset(names - {""}), anything=ANY_HOST in extra)

    def admit(self, host: str | None) -> bool:
        """Whether a request with this ``Host`` header value (None: none sent) is one to answer."""
        return host is None or self.anything or _admitted(self, host)


@lru_cache(maxsize=256)  # clients send a handful of distinct values, over and over
def _admitted(hosts: HostNames, host: str) -> bool:
    name = host_name(host)
    return name in hosts.names or _is_address(name)


class Refusals:
    """Logs each refused host name once, saying what to set if the name is the operator's own."""

    def __init__(self, hosts: HostNames) -> None:
        self._hosts = hosts
        self._seen: set[str] = set()

    def note(self, host: str, path: str, client: str) -> None:
        """Log a request for ``path`` from ``client`` refused for naming ``host``."""
        name = host_name(host)
        first = name not in self._seen and len(self._seen) < _LOGGED_NAMES
        if first:
            self._seen.add(name)
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "refused a request for %s from %s naming host %r (421, the DNS rebinding guard): this"
            " server answers for %s and IP addresses; if %r is a name of this server, set site.base_url"
            " to it or add it to server.allowed_hosts",
            path,
            client,
            name,
            ", ".join(sorted(self._hosts.names)),
            name,
        )


def misdirected_page(host: str, scheme: str, language: str = DEFAULT_LANGUAGE) -> bytes:
    """The body of a 421: what the visitor sees when a name of this server is not yet one of its own.

    Those most likely to see it are the operator and their household, opening the site by the
    machine's LAN name (``http://homeserver.local:8080``) after setting ``server.host = "0.0.0.0"``:
    so it says in the site's language (``site.language``) what to set, and the exact settings in
    TOML, to copy.  The name is the visitor's own ``Host``, escaped and never converted; a name with
    anything to quote gets no suggestion."""
    words = partial(fixed_words, tag=language)
    name = host_name(host)
    authority = host.strip().lower().rstrip(".") if host.strip() else name
    lines = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(language)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>421 {words('此服务器不响应这个主机名')}</title></head><body><main>",
        f"<h1>{words('此服务器不响应主机名')} <code>{html.escape(name)}</code></h1>",
        words(
            "<p>为防止 DNS 重绑定攻击，本服务只响应它自己的主机名和 IP 地址。"
            "如果你是通过 IP 地址访问，请直接使用该地址。</p>"
        ),
        '<p lang="en">misdirected request: this server does not answer for that host name</p>',
    ]
    if _PLAIN_NAME.fullmatch(authority) and name:
        # Only ASCII past _PLAIN_NAME: the whole suggestion may go through the conversion.
        lines += [
            words(
                "<p>如果这是本机的名称，请管理员在 <code>config.toml</code> 中把它设为网站地址"
                "（订阅源和邮件里的链接也会指向它），然后重启 <code>digest serve</code>：</p>"
            ),
            f'<pre lang="en">[site]\nbase_url = "{scheme}://{authority}"</pre>',
            words("<p>或者，若网站另有正式地址，把这个名称加入允许的主机名：</p>"),
            f'<pre lang="en">[server]\nallowed_hosts = ["{name}"]</pre>',
            words(
                f'<p>环境变量写法：<code lang="en">DIGEST_SITE_BASE_URL={scheme}://{authority}</code> 或'
                f' <code lang="en">DIGEST_SERVER_ALLOWED_HOSTS={name}</code>。</p>'
            ),
        ]
    lines.append("</main></body></html>\n")
    return "\n".join(lines).encode()
