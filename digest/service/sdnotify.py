"""systemd's service notifications (sd_notify(3)) without libsystemd: readiness, watchdog, stopping.

Under ``Type=notify`` systemd passes a datagram socket in ``NOTIFY_SOCKET``
(a path, or ``@name`` in the abstract namespace) and, with ``WatchdogSec=``,
the interval in ``WATCHDOG_USEC``.  Outside systemd both are absent and
every call here does nothing, so the service needs no switch for it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

READY = "READY=1"
WATCHDOG = "WATCHDOG=1"
STOPPING = "STOPPING=1"


def notify(*fields: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``fields`` (``READY=1``, ``STATUS=...``) to systemd; False when not run by it."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
        except OSError:
            return False  # systemd went away (shutdown): nothing to tell
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of ``WatchdogSec``), or None when no watchdog is set."""
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None  # meant for another process of the unit
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None
