"""Every check a configuration must pass, each problem naming its key and the fix.

``digest check`` lists them all; ``load_config`` (what every command uses) stops at the first.  The
mailer and the server rely on these checks instead of repeating them, so a value ``check`` passes is
one they accept.  The folders' and files' checks are in ``config_paths``; this module judges the
values."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.chars import HEADER_UNSAFE, URL_UNSAFE
from digest.config import (
    MIN_SECRET_LENGTH,
    Config,
    IngestConfig,
    ParserConfig,
    read_config,
)
from digest.config_paths import path_problems
from digest.errors import ConfigError
from digest.language import tag_problem
from digest.logs import LogFormat
from digest.mail.address import parse_address
from digest.paper.dating import pattern_problem
from digest.store.urls import SCHEMES, mask_url
from digest.store.urls import scheme as url_scheme

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


_AUTHORITY = re.compile(r"^[A-Za-z0-9.-]+(@[A-Za-z0-9.-]+)?,\d{4}(-\d{2}(-\d{2})?)?$")


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


_LOG_FORMATS = tuple(LogFormat)


_ADDR_SPEC = re.compile(r"^[!#-'*+\-/-9=?A-Z^-~.]+@[A-Za-z0-9.-]+$")
# A name of server.allowed_hosts: DNS labels (underscores too, as in Docker's service names).
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")


# Secrets that appear in documentation and examples: a signature made with one proves nothing.
_GUESSABLE_SECRETS = ("change-me", "changeme", "secret", "password")


def _parses(url: str) -> bool:
    """Whether ``url``'s host and port read as the site's publish and the mailer will read them."""
    try:
        urlsplit(url).port  # noqa: B018 - raises on a bad port or bracketed host
    except ValueError:
        return False
    return True


def value_problems(config: Config) -> list[ConfigError]:
    """Every value that cannot work, each with its fix; no filesystem access."""
    problems = [
        *_schedule_problems(config),
        *_port_and_host_problems(config),
        *_option_problems(config),
        *_database_problems(config),
        *_number_problems(config),
        *_ingest_problems(config),
    ]
    # Left unset, the base URL is made of server.host and server.port: told once, under their keys.
    listening = any(p.key in ("server.host", "server.port") for p in problems)
    problems += _url_problems(config, listening)
    # The same rules the mailer applies, so ``digest check`` fails where ``send-digest`` would.
    problems += _mail_problems(config)
    problems += _identity_problems(config)
    problems += retention_problems(config)
    problems += parser_problems(config.parser)
    problems += _language_problems(config)
    return problems


def _language_problems(config: Config) -> list[ConfigError]:
    """A ``site.language`` that is no BCP 47 tag."""
    problem = tag_problem(config.site.language)
    if problem is None:
        return []
    fix = 'write a language tag, e.g. "zh-CN" (mainland), "zh-TW" (Taiwan) or "zh-HK" (Hong Kong)'
    return [ConfigError("site.language", problem, fix)]


def _schedule_problems(config: Config) -> list[ConfigError]:
    """The digest time, the time zone and the scan interval."""
    problems: list[ConfigError] = []
    schedule = config.schedule
    if not _TIME.match(schedule.digest_time):
        problems.append(
            ConfigError(
                "schedule.digest_time",
                f"{schedule.digest_time!r} is not a time of day",
                'write HH:MM, e.g. "07:00"',
            )
        )
    try:
        ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            ConfigError(
                "schedule.timezone",
                f"unknown timezone {schedule.timezone!r}",
                "use a name such as Asia/Shanghai",
            )
        )
    if schedule.scan_interval < 1:
        problems.append(ConfigError("schedule.scan_interval", "must be at least 1 second", "e.g. 60"))
    return problems


def _port_and_host_problems(config: Config) -> list[ConfigError]:
    """Ports out of range, and a ``server.host`` written with a URL's brackets."""
    problems: list[ConfigError] = []
    for key, port in (
        ("server.port", config.server.port),
        ("smtp.port", config.smtp.port),
        ("bounces.port", config.bounces.port),
    ):
        if not 1 <= port <= 65535:
            problems.append(ConfigError(key, f"port {port} is out of range", "use a number from 1 to 65535"))
    host = config.server.host
    if host.startswith("[") or host.endswith("]"):
        # Brackets belong to a URL; here they made every link http://[[::1]]:8080 and publish crash.
        problems.append(
            ConfigError(
                "server.host",
                f"{host!r} is written as in a URL",
                f'drop the brackets: host = "{host.strip("[]")}"',
            )
        )
    return problems


def _option_problems(config: Config) -> list[ConfigError]:
    """Settings that take one of a few words (``smtp.security``, ``logging.format``,
    ``digest.empty_days``), and the health endpoint's."""
    problems: list[ConfigError] = []
    if config.smtp.security not in ("starttls", "tls", "none"):
        problems.append(
            ConfigError(
                "smtp.security",
                f"{config.smtp.security!r} is not a choice",
                'use "starttls", "tls" or "none"',
            )
        )
    if config.health.max_issue_age < 0:
        problems.append(ConfigError("health.max_issue_age", "cannot be negative", "e.g. 36; 0 turns it off"))
    if config.health.token and len(config.health.token) < 16:
        problems.append(
            ConfigError(
                "health.token",
                "is shorter than 16 characters and could be guessed",
                "set DIGEST_HEALTH_TOKEN to a long random string, e.g. `openssl rand -hex 16`",
            )
        )
    if config.logging.format not in _LOG_FORMATS:
        problems.append(
            ConfigError(
                "logging.format",
                f"{config.logging.format!r} is not a choice",
                "use " + ", ".join(f'"{name}"' for name in _LOG_FORMATS),
            )
        )
    if config.digest.empty_days not in ("skip", "notice"):
        problems.append(
            ConfigError(
                "digest.empty_days", f"{config.digest.empty_days!r} is not a choice", 'use "skip" or "notice"'
            )
        )
    return problems


def _database_problems(config: Config) -> list[ConfigError]:
    """A ``database.url`` of a database we do not support, or with a port that is no number."""
    problems: list[ConfigError] = []
    if config.database.url and url_scheme(config.database.url) not in SCHEMES:
        problems.append(
            ConfigError(
                "database.url",
                f"unsupported database {config.database.url.partition(':')[0]!r}",
                "leave it empty for SQLite or write postgresql://user@host/dbname",
            )
        )
    elif config.database.url:
        try:
            urlsplit(config.database.url).port  # noqa: B018 (raises on a port that is no port)
        except ValueError as exc:
            problems.append(
                ConfigError(
                    "database.url",
                    f"{mask_url(config.database.url)!r} has no valid port ({exc})",
                    "write postgresql://user@host:5432/dbname, the port a number up to 65535 (or none: 5432)",
                )
            )
    return problems


def _number_problems(config: Config) -> list[ConfigError]:
    """Counts, sizes and durations out of range."""
    problems: list[ConfigError] = []
    if not 0 <= config.build.workers <= 256:
        problems.append(
            ConfigError(
                "build.workers",
                f"{config.build.workers} is out of range",
                "use 0 (as many as cores are free), 1 (never a worker process) or a number up to 256",
            )
        )
    if not 0.1 <= config.ingest.settle_seconds <= 3600:
        problems.append(
            ConfigError(
                "ingest.settle_seconds",
                f"{config.ingest.settle_seconds:g} is out of range",
                "use a number of seconds from 0.1 to 3600, e.g. 5; longer than the longest pause of the"
                " program writing the pages",
            )
        )
    if config.feeds.size < 1:
        problems.append(ConfigError("feeds.size", "must be at least 1", "e.g. 50"))
    for key, number, example in (
        ("digest.retry_seconds", config.digest.retry_seconds, 60),
        ("digest.retry_hours", config.digest.retry_hours, 24),
        ("digest.confirm_hours", config.digest.confirm_hours, 48),
        ("digest.max_items", config.digest.max_items, 40),
        ("digest.bounce_limit", config.digest.bounce_limit, 2),
        ("server.rate_limit", config.server.rate_limit, 10),
    ):
        if number < 1:
            problems.append(ConfigError(key, "must be at least 1", f"e.g. {example}"))
    if config.digest.backfill_days < 0:
        problems.append(ConfigError("digest.backfill_days", "must be 0 or more", "e.g. 2"))
    return problems


def _ingest_problems(config: Config) -> list[ConfigError]:
    """``ingest.encoding`` that names no text codec, and each ``ingest.date_patterns`` pattern that
    cannot date a page (``pattern_problem``)."""
    problems = encoding_problems(config.ingest)
    for pattern in config.ingest.date_patterns:
        problem = pattern_problem(pattern)
        if problem:
            problems.append(
                ConfigError(
                    "ingest.date_patterns", problem, r'write e.g. "(?P<y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)"'
                )
            )
    return problems


def _url_problems(config: Config, listening: bool) -> list[ConfigError]:
    """The base URL and the hubs: absolute http(s) URLs, plain; the base URL only when not made of
    ``server.host`` and ``server.port`` that are already refused (``listening``)."""
    problems: list[ConfigError] = []
    urls = [] if listening else [("site.base_url", config.site.base_url)]
    for key, url in urls + [("feeds.hubs", hub) for hub in config.feeds.hubs]:
        if not re.match(r"^https?://[^/\s]+", url) or not _parses(url):
            problems.append(
                ConfigError(key, f"{url!r} is not an absolute http(s) URL", "write e.g. https://news.example")
            )
        elif URL_UNSAFE.search(url):
            problems.append(
                ConfigError(key, f"{url!r} is not a plain URL", "remove spaces, line breaks and <>")
            )
    return problems


def _mail_problems(config: Config) -> list[ConfigError]:
    """What the mailer would refuse: sender, subject, DKIM and the bounce mailbox."""
    problems: list[ConfigError] = []
    try:
        parse_address(config.smtp.sender)
    except ValueError as exc:
        problems.append(
            ConfigError(
                "smtp.sender",
                f"{config.smtp.sender!r} is not one email address ({exc})",
                'use a form like "报纸摘要 <digest@example.org>"',
            )
        )
    if HEADER_UNSAFE.search(config.site.title) or not config.site.title.strip():
        problems.append(
            ConfigError(
                "site.title",
                f"{config.site.title!r} cannot be an email subject",
                "use one line of plain text",
            )
        )
    dkim = config.dkim
    if (dkim.domain or dkim.selector or dkim.key_file) and not (
        dkim.domain and dkim.selector and dkim.key_file
    ):
        problems.append(
            ConfigError(
                "dkim",
                "domain, selector and key_file go together",
                "set all three (or none): domain = the sender's domain, selector = e.g. digest2024",
            )
        )
    for key, label in (("dkim.domain", dkim.domain), ("dkim.selector", dkim.selector)):
        if label and not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", label):
            problems.append(
                ConfigError(key, f"{label!r} is not a DNS name", "letters, digits, dots and hyphens")
            )
    bounces = config.bounces
    if bounces.host and not (bounces.user and config.smtp.return_path):
        problems.append(
            ConfigError(
                "bounces.host",
                "a bounce mailbox needs bounces.user and smtp.return_path (the address that delivers to it)",
                "set both, or leave bounces.host empty",
            )
        )
    if bounces.security not in ("tls", "starttls", "none"):
        problems.append(
            ConfigError(
                "bounces.security", f"{bounces.security!r} is not a choice", 'use "tls", "starttls" or "none"'
            )
        )
    return problems


def _identity_problems(config: Config) -> list[ConfigError]:
    """Whom the service trusts and what it signs with: the reverse proxies, the host names it answers
    for, the return path, the feeds' tag authority and the signing secret."""
    problems: list[ConfigError] = []
    for proxy in config.server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(
                ConfigError(
                    "server.trusted_proxies",
                    f"{proxy!r} is not an IP address or network",
                    'list the reverse proxy\'s addresses, e.g. ["127.0.0.1", "::1"] or ["10.0.0.0/8"]',
                )
            )
    for name in config.server.allowed_hosts:
        if name != "*" and not _HOST_NAME.fullmatch(name):
            problems.append(
                ConfigError(
                    "server.allowed_hosts",
                    f"{name!r} is not a host name",
                    'write the name alone, no scheme, port or path: ["news.example.org"] (or "*" for any)',
                )
            )
    return_path = config.smtp.return_path
    if return_path and (not _ADDR_SPEC.match(return_path) or "=?" in return_path):
        problems.append(
            ConfigError(
                "smtp.return_path",
                f"{return_path!r} is not one plain address",
                'write just the address, e.g. "bounces@news.example", no name or <>',
            )
        )
    if not _AUTHORITY.match(config.site.tag_authority):
        problems.append(
            ConfigError(
                "site.tag_authority",
                f"{config.site.tag_authority!r} is not a tag authority (RFC 4151)",
                'write "domain,YYYY", e.g. "news.example,2024", and never change it afterwards',
            )
        )
    secret = config.server.secret
    if secret is not None and (
        len(secret.strip()) < MIN_SECRET_LENGTH or secret.strip().lower() in _GUESSABLE_SECRETS
    ):
        problems.append(
            ConfigError(
                "server.secret",
                f"a secret of {len(secret.strip())} characters can be guessed, and with it any link forged",
                f"remove it to have one generated into the data folder, or set DIGEST_SERVER_SECRET to"
                f" {MIN_SECRET_LENGTH}+ random characters (openssl rand -hex 32)",
            )
        )
    return problems


_WORD = re.compile(r"^[^\s,，、;；:：()（）]{1,12}$")


def encoding_problems(ingest: IngestConfig) -> list[ConfigError]:
    """``ingest.encoding`` when it names no text encoding page files could be decoded from."""
    if not ingest.encoding:
        return []
    try:
        b"\n".decode(ingest.encoding)
    except UnicodeDecodeError:
        pass  # a text encoding of two or four bytes a character (UTF-16, UTF-32)
    except LookupError:  # unknown, or no text encoding (base64, rot13)
        return [
            ConfigError(
                "ingest.encoding",
                f"{ingest.encoding!r} is no text encoding Python knows",
                'write a codec name, e.g. "big5hkscs" (Hong Kong), "cp950" (Big5 from Windows, Taiwan) or'
                ' "gb18030"; or "" to tell GB18030/GBK from Big5 by the bytes',
            )
        ]
    return []


def parser_problems(parser: ParserConfig) -> list[ConfigError]:
    """Every word of the ``[parser]`` table that cannot be one: empty, spaced or too long."""
    problems: list[ConfigError] = []
    for key in dataclasses.fields(parser):
        for word in getattr(parser, key.name):
            if not _WORD.match(word):
                problems.append(
                    ConfigError(
                        f"parser.{key.name}",
                        f"{word!r} is not a word the parser can look for",
                        "write each as it is printed, 1 to 12 characters, without spaces or punctuation",
                    )
                )
    return problems


def load_config(
    path: Path | None,
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    writes: bool = True,
) -> Config:
    """Read and fully validate the configuration; the first problem found is raised as ``ConfigError``.

    Creates the data and output folders when missing (that is how writability is checked), unless
    the command only reads (``writes`` False; see ``path_problems``).
    """
    config = read_config(path, overrides, environ)
    problems = value_problems(config) or path_problems(config, writes)
    if problems:
        raise problems[0]
    return config


def retention_problems(config: Config) -> list[ConfigError]:
    """Retention periods that are negative or would delete what is still in use."""
    retention = config.retention
    problems = [
        ConfigError(f"retention.{key.name}", "cannot be negative", "a number of days, or 0 to keep for ever")
        for key in dataclasses.fields(retention)
        if getattr(retention, key.name) < 0
    ]
    # A ledger row is retried until digest.retry_hours after its digest, and a confirmation link
    # works for digest.confirm_hours: what they need must outlive that.
    for key, days, what, hours_key, hours, example in (
        (
            "deliveries_days",
            retention.deliveries_days,
            "emails still being retried",
            "retry_hours",
            config.digest.retry_hours,
            90,
        ),
        (
            "signups_days",
            retention.signups_days,
            "sign-ups whose confirmation link still works",
            "confirm_hours",
            config.digest.confirm_hours,
            30,
        ),
    ):
        needed = -(-hours // 24)
        if 0 < days <= needed:
            problems.append(
                ConfigError(
                    f"retention.{key}",
                    f"{days} days would delete {what} (digest.{hours_key} = {hours})",
                    f"use more than {needed} days (e.g. {example}), or 0 to keep them for ever",
                )
            )
    return problems
