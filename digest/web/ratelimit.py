"""Who the client is and how often it may ask: the address behind trusted proxies, a token bucket each
(one for all the addresses of an IPv6 /64)."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

MAX_CLIENTS = 10_000  # rate-limit buckets kept; the least recently seen are forgotten first


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


def bucket_of(address: str) -> str:
    """The rate-limit key of a client address: an IPv6 address's /64, any other address itself.

    One IPv6 customer holds at least a /64 (RFC 6177; a home, a phone, a cloud VM alike) and may
    send each request from another address of it; a bucket per address would give it 2**64.
    An IPv4-mapped address (``::ffff:198.51.100.7``) is its IPv4 address.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


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

    def wait(self, client: str) -> float:
        """0 when ``client`` may go ahead now (and takes a token), else the seconds until it may.

        Clients share a bucket by ``bucket_of``: the addresses of one IPv6 /64 are one client.
        """
        key = bucket_of(client)
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
