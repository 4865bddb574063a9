"""Settings that work but that an operator should change: ``digest check`` prints these as warnings.

Unlike ``config_checks.value_problems`` nothing here stops the service; each names its fix.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

from digest.config import Config, SiteConfig, listening_url
from digest.store.urls import is_postgresql


def deliverability_warnings(config: Config) -> list[str]:
    """Settings that work but get mail lost, junked or unreachable, each with its fix (``digest check``)."""
    warnings: list[str] = []
    sender_domain = config.smtp.sender.rpartition("@")[2].rstrip(">").strip().lower()
    local = (
        sender_domain in ("localhost", "")
        or sender_domain.endswith((".localhost", ".local"))
        or "." not in sender_domain
    )
    # Emails written to the outbox folder (no smtp.host) reach no receiver that could refuse them.
    if local and config.smtp.host:
        warnings.append(
            f"smtp.sender: {config.smtp.sender!r} is a local address: receivers refuse or junk it and replies"
            " go nowhere; set an address at your own domain"
        )
    if config.smtp.host:
        base = urlsplit(config.site.base_url)
        # A reader's mail client can never reach this machine's loopback or wildcard address.
        if base.scheme != "https" or _is_loopback(base.hostname or "") or base.hostname == "0.0.0.0":
            warnings.append(
                f"site.base_url: emails link to {config.site.base_url}, which readers cannot open"
                " (or not over https); set the public https address of the site"
            )
        if config.dkim.key_file is None:
            warnings.append(
                "dkim: SMTP is set but emails are not signed; Gmail and Yahoo require DKIM of bulk senders:"
                " set dkim.domain, dkim.selector and dkim.key_file, then publish the DNS record it prints"
            )
    signer = config.dkim.domain.strip(".").lower()
    if config.dkim.key_file is not None and signer and not _aligned(signer, sender_domain):
        warnings.append(
            f"dkim.domain: emails are signed for {signer}, but come from {sender_domain} (smtp.sender): DMARC"
            " counts only a signature of the From domain or a domain it shares, so receivers see these as"
            f" unsigned; sign for {sender_domain} (or its parent domain), or send from an address there"
        )
    if config.site.tag_authority == SiteConfig.tag_authority:
        warnings.append(
            f"site.tag_authority: still the default {SiteConfig.tag_authority!r}; set your domain and year"
            ' (e.g. "news.example,2024") before the feeds are first published: it can never change after'
        )
    return warnings


def _aligned(signer: str, sender: str) -> bool:
    """Whether a DKIM signature for ``signer`` can align with a From at ``sender`` (RFC 7489 §3.1.1,
    relaxed): one a subdomain of the other, or both below one parent.  Without the public suffix list
    two names ending in the same two labels are taken as sharing it, so no alignment is warned of wrongly."""
    if signer == sender or sender.endswith("." + signer) or signer.endswith("." + sender):
        return True
    return signer.split(".")[-2:] == sender.split(".")[-2:]


def sharing_warnings(config: Config) -> list[str]:
    """Settings that work for one instance but not for several sharing a PostgreSQL database
    (docs/scaling.md), each with its fix (``digest check``)."""
    if not is_postgresql(config.database_url) or config.site.base_url != listening_url(config.server):
        return []
    # Unset, the base URL is the address this instance listens on: each instance links with its
    # own, and the leader publishes, so every failover rewrites the pages with the new leader's.
    return [
        f"site.base_url: links go to this instance's own address ({config.site.base_url}, as when unset);"
        " instances sharing the PostgreSQL database each link with theirs, and every change of leader"
        " rewrites the published pages with the new leader's: set site.base_url to the public address,"
        " the same on every instance"
    ]


def lan_warnings(config: Config) -> list[str]:
    """A wildcard ``server.host`` whose visitors by name would get 421: ``site.base_url`` on loopback
    and no ``server.allowed_hosts`` (``digest check``).  Quiet in a container, where the wildcard is
    how any published port reaches the service at all, whoever may connect: one whose manager says so
    in the ``container`` variable (systemd's container interface; Podman sets it, the shipped
    ``deploy/Dockerfile`` too).  Docker's ``/.dockerenv`` is not taken as the sign: CI and development
    shells run in containers too, where a wildcard host is the operator's choice like anywhere else."""
    if config.server.host not in ("0.0.0.0", "::", "") or config.server.allowed_hosts or _in_container():
        return []
    if not _is_loopback(urlsplit(config.site.base_url).hostname or ""):
        return []
    name = socket.gethostname().partition(".")[0] or "homeserver"
    return [
        f"server.host: {config.server.host!r} takes connections from other machines, but site.base_url is"
        f" {config.site.base_url} (loopback): a visitor opening http://{name}.local:{config.server.port}/ or"
        " any other name of this machine gets 421 (the DNS rebinding guard), and feeds and emails link to"
        f' loopback; set site.base_url to the address readers use, e.g. base_url = "http://{name}.local:'
        f'{config.server.port}" under [site], or add the names to server.allowed_hosts'
    ]


def _is_loopback(host: str) -> bool:
    """Whether ``host`` (no brackets) names this machine alone: ``localhost``, ``*.localhost``
    (RFC 6761), or a loopback address."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _in_container() -> bool:
    return bool(os.environ.get("container"))  # noqa: SIM112 (systemd names it in lower case)
