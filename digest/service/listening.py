"""The listening socket of ``digest serve``, and what ``digest check`` can tell of it beforehand.

We bind it ourselves rather than let uvicorn do it, so that a host or port it cannot have is a
``ConfigError`` naming the key to change and the fix, not a traceback.
"""

from __future__ import annotations

import errno
import socket

from digest.errors import ConfigError

# Why a bind fails, as the key to change and what to do.
LISTEN_FIXES = {
    errno.EADDRINUSE: ("server.port", "stop the program using it or choose another --port / --host"),
    errno.EADDRNOTAVAIL: (
        "server.host",
        "no interface of this machine has that address; use --host 127.0.0.1, or 0.0.0.0 for every one",
    ),
    errno.EACCES: (
        "server.port",
        "ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port above 1023 "
        "(nginx in front takes 80 and 443)",
    ),
}
OTHER_LISTEN_FIX = ("server.port", "check server.host and server.port (--host, --port)")
# An address needs no lookup: a service started before the network's DNS still finds it.
UNRESOLVED_FIX = (
    "check the name's spelling, or give an IP address instead (--host): "
    "127.0.0.1 for this machine only, 0.0.0.0 for every interface"
)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` and listening; ``ConfigError`` naming the key at fault."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        # Looked up apart: ``create_server`` reports a name that does not resolve as a plain
        # OSError, which was taken for a problem of the port.
        socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
        return socket.create_server((host, port), family=family)
    except socket.gaierror as exc:
        raise ConfigError(
            "server.host", f"{host!r} does not resolve to an address ({exc.strerror})", UNRESOLVED_FIX
        ) from exc
    except OSError as exc:
        key, fix = LISTEN_FIXES.get(exc.errno or 0, OTHER_LISTEN_FIX)
        where = f"{host}:{port}" if port else host
        raise ConfigError(key, f"cannot listen on {where} ({exc.strerror or exc})", fix) from exc


def host_problem(host: str) -> ConfigError | None:
    """What ``listen`` would say of ``server.host`` itself (a name that does not resolve, an address
    no interface holds), found without taking the port: a ``serve`` running already is no obstacle."""
    try:
        listen(host, 0).close()  # port 0: any free one
    except ConfigError as exc:
        return exc if exc.key == "server.host" else None
    return None
