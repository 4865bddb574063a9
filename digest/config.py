"""Configuration: declared once here, loaded from TOML, overridden by environment and options.

Every key lives in one of the dataclasses below, with its default.  The
loader (``load_config``) reads ``config.toml``, applies ``DIGEST_<TABLE>_<KEY>``
environment variables, then command-line overrides, resolves relative paths
against the config file's folder, and validates everything up front so a bad
value stops the service with one clear ``ConfigError``.

Precedence, lowest first: the defaults below, the config file, the
environment, the command line.  Relative paths from the file are resolved
against the file's folder; relative paths from the environment or the
command line against the current directory, as a shell user expects.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
import tempfile
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.chars import HEADER_UNSAFE, URL_UNSAFE
from digest.errors import ConfigError
from digest.logs import LogFormat
from digest.mail.address import parse_address
from digest.paper.dating import DEFAULT_NAME_PATTERNS, DatingRules, pattern_problem
from digest.store.urls import SCHEMES, default_url, resolve_sqlite
from digest.store.urls import scheme as url_scheme


@dataclass(frozen=True)
class PathsConfig:
    source: Path = Path("examples/pages")  # folder the editorial system drops page files into
    data: Path = Path("var/data")  # database, outbox, state
    output: Path = Path("var/output")  # published files


@dataclass(frozen=True)
class SiteConfig:
    title: str = "报纸摘要"
    subtitle: str = ""
    base_url: str = "http://127.0.0.1:8080"  # absolute URL the site is reached at; feeds link with it
    author: str = "Newspaper Digest"  # feed-level author (RFC 4287 needs one)
    tag_authority: str = "digest.localhost,2024"  # authority of the tag: URIs (RFC 4151); never change


@dataclass(frozen=True)
class FeedsConfig:
    size: int = 50  # entries in each subscription document
    hubs: tuple[str, ...] = ()  # WebSub hubs to ping after a publish


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""  # empty: SQLite at <data>/digest.sqlite3; or postgresql://...


@dataclass(frozen=True)
class ScheduleConfig:
    timezone: str = "Asia/Shanghai"
    digest_time: str = "07:00"  # local time the daily digest is made and sent
    scan_interval: int = 60  # seconds between safety-net rescans of the source folder


@dataclass(frozen=True)
class DigestConfig:
    empty_days: str = "skip"  # "skip" or "notice"
    retry_seconds: int = 60  # wait before the first retry of an undelivered email; doubles, at most 1 h
    retry_hours: int = 24  # stop retrying an email this long after its digest was made
    confirm_hours: int = 48  # how long a subscription confirmation link works
    backfill_days: int = 2  # issues dated more days than this before the digest day are never mailed
    max_items: int = 40  # articles in one email at most; the rest are "还有 N 篇" on the web digest
    bounce_limit: int = 2  # hard bounces (5xx at RCPT) after which an address is suppressed


@dataclass(frozen=True)
class IngestConfig:
    # Regular expressions with groups (?P<y>)(?P<m>)(?P<d>) [and (?P<p>) the page] for dates in file paths.
    date_patterns: tuple[str, ...] = DEFAULT_NAME_PATTERNS
    # Seconds a page written in place must stay unchanged before it is read (a page renamed into the
    # folder whole is read at once, digest.ingest.watch), and a page file gone this long is retracted.
    settle_seconds: float = 5.0


@dataclass(frozen=True)
class BuildConfig:
    # Worker processes for a big ingest or full publish: 0 measures the free cores each time and uses
    # none unless two or more are free (a pool on a busy machine is slower than one process); 1 never
    # starts one; N starts N whatever the load.
    workers: int = 0


@dataclass(frozen=True)
class SmtpConfig:
    host: str = ""  # empty: write emails to <data>/outbox as .eml files
    port: int = 587
    security: str = "starttls"  # "starttls", "tls" or "none"
    username: str = ""
    password: str = ""  # prefer DIGEST_SMTP_PASSWORD in the environment
    sender: str = "报纸摘要 <digest@localhost>"
    return_path: str = ""  # envelope sender (MAIL FROM) where bounces go; empty: the sender's address


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Signs subscription links and forms.  None: generated once into <data>/server.secret
    # (digest.mail.signing).
    secret: str | None = None
    rate_limit: int = 10  # subscribe/confirm requests per client per minute
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For names the client


@dataclass(frozen=True)
class BouncesConfig:
    host: str = ""  # IMAP server of the mailbox smtp.return_path delivers to; empty: not read
    port: int = 993
    security: str = "tls"  # "tls" (implicit), "starttls" or "none"
    user: str = ""
    password: str = ""  # prefer DIGEST_BOUNCES_PASSWORD in the environment
    folder: str = "INBOX"


@dataclass(frozen=True)
class DkimConfig:
    domain: str = ""  # d= of the signature: the sender's domain (or a parent of it)
    selector: str = ""  # s=: the public key lives at <selector>._domainkey.<domain> in DNS
    key_file: Path | None = None  # PEM RSA private key; unset: no signature


@dataclass(frozen=True)
class HealthConfig:
    max_issue_age: int = 36  # hours without a new article before /healthz says degraded; 0: never
    token: str = ""  # bearer token for /healthz?details from afar; empty: details on loopback only


@dataclass(frozen=True)
class RetentionConfig:
    """How long what only grows is kept (``digest.service.retention``); 0 keeps it for ever."""

    deliveries_days: int = 90  # ledger rows of older digests: summed into daily counts, then deleted
    signups_days: int = 30  # sign-ups never confirmed, and subscription emails done with
    outbox_days: int = 30  # .eml files in <data>/outbox
    dry_run_days: int = 14  # <data>/dry-run/<day> folders of `send-digest --dry-run`


@dataclass(frozen=True)
class LoggingConfig:
    format: str = "auto"  # "auto" (journal under systemd, else text), "text", "journal", "json"


@dataclass(frozen=True)
class ParserConfig:
    """Words one paper prints that the built-in conventions lack; each list adds to the defaults."""

    roles: tuple[str, ...] = ()  # people credited for a story: 播报员 (besides 记者, 通讯员, 实习生, 拍友...)
    ranks: tuple[str, ...] = ()  # words before a role: 驻京 (besides 本报, 特约, 见习, 首席, 全媒体...)
    marks: tuple[str, ...] = ()  # credits after a name: 绘 (besides 摄, 文/图, 摄影报道...)
    editors: tuple[str, ...] = ()  # editors' titles, never authors (besides 编辑, 责任编辑...)
    outlets: tuple[str, ...] = ()  # names that open a dateline: 晨报 in 晨报讯近日… (besides 本报, 新华社...)
    outlet_endings: tuple[str, ...] = ()  # how outlet names end (besides 报, 网, 社, 台, 客户端...)
    dateline_words: tuple[str, ...] = ()  # the word closing a dateline (besides 讯, 电, 消息)
    place_endings: tuple[str, ...] = ()  # how place names end (besides 区, 县, 旗, 市, 镇...)
    source_notes: tuple[str, ...] = ()  # bracketed words after a text, no credit (besides 待续, 综合, 据...)
    roundups: tuple[str, ...] = ()  # columns of briefs, one article per ■ item (besides 简讯, 短讯, 快讯...)
    non_sections: tuple[str, ...] = ()  # folio page names that are no section (besides 头版, 一版...)


@dataclass(frozen=True)
class Config:
    """The whole configuration, every path absolute once loaded."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    parser: ParserConfig = field(default_factory=ParserConfig)
    dkim: DkimConfig = field(default_factory=DkimConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)

    @property
    def tz(self) -> ZoneInfo:
        """The configured timezone (validated at load time)."""
        return ZoneInfo(self.schedule.timezone)

    @property
    def digest_clock(self) -> time:
        """``schedule.digest_time`` as a ``time`` (validated at load time)."""
        hours, minutes = self.schedule.digest_time.split(":")
        return time(int(hours), int(minutes))

    @property
    def dating(self) -> DatingRules:
        """How page files are dated (``ingest.date_patterns``, validated at load time)."""
        return DatingRules(self.ingest.date_patterns)

    @property
    def database_url(self) -> str:
        """The database URL actually used: ``database.url`` or the SQLite file in the data folder."""
        return self.database.url or default_url(self.paths.data)


ENV_PREFIX = "DIGEST_"
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_AUTHORITY = re.compile(r"^[A-Za-z0-9.-]+(@[A-Za-z0-9.-]+)?,\d{4}(-\d{2}(-\d{2})?)?$")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_LOG_FORMATS = tuple(LogFormat)
MIN_SECRET_LENGTH = 32
_LOCAL_HOSTS = ("localhost", "::1", "[::1]", "0.0.0.0")
_ADDR_SPEC = re.compile(r"^[!#-'*+\-/-9=?A-Z^-~.]+@[A-Za-z0-9.-]+$")
# Secrets that appear in documentation and examples: a signature made with one proves nothing.
_GUESSABLE_SECRETS = ("change-me", "changeme", "secret", "password")


def tables() -> dict[str, dict[str, type]]:
    """Every table and its keys with their types: the single declaration the loader and docs follow."""
    result: dict[str, dict[str, type]] = {}
    root = typing.get_type_hints(Config)
    for table in dataclasses.fields(Config):
        hints = typing.get_type_hints(root[table.name])
        result[table.name] = {key.name: hints[key.name] for key in dataclasses.fields(root[table.name])}
    return result


def _closest(name: str, choices: typing.Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return close[0] if close else None


def _suggest(name: str, choices: typing.Iterable[str]) -> str:
    close = _closest(name, choices)
    return f"did you mean '{close}'?" if close else ""


def _coerce(key: str, kind: type, value: object, base: Path) -> object:
    """Turn a raw TOML/env/CLI value into the declared type, or say what was expected."""
    if kind is int:
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(
            key, f"expected a whole number, got {value!r}", f"write e.g. {key.split('.')[1]} = 60"
        )
    if kind is float:
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d*)?\s*", value):
            return float(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(key, f"expected a number, got {value!r}", f"write e.g. {key.split('.')[1]} = 5")
    if kind is Path or kind == Path | None:
        if not isinstance(value, str | Path) or not str(value).strip():
            raise ConfigError(key, f"expected a folder path, got {value!r}", "write a path in quotes")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (base / path).absolute()
    if kind == tuple[str, ...]:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise ConfigError(
            key, f"expected a list of strings, got {value!r}", 'write e.g. ["https://hub.example"]'
        )
    if not isinstance(value, str):
        raise ConfigError(key, f"expected a string, got {value!r}", "put the value in quotes")
    return value


def _read_file(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            "--config", f"file {path} does not exist", "check the path or omit --config"
        ) from None
    except OSError as exc:
        raise ConfigError(
            "--config", f"cannot read {path} ({exc.strerror})", "check its permissions"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML ({exc})", "fix the syntax at that line") from exc


def _from_environ(environ: Mapping[str, str], schema: dict[str, dict[str, type]]) -> dict[str, object]:
    """``DIGEST_SMTP_PASSWORD`` → ``{"smtp.password": ...}``.

    A variable naming a known table but no key of it (``DIGEST_SMTP_PASWORD``)
    is a ``ConfigError``: a silently ignored secret is worse than a stop.
    Other ``DIGEST_`` variables are not ours and are left alone.
    """
    found: dict[str, object] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name.removeprefix(ENV_PREFIX).lower()
        for table, keys in schema.items():
            if rest.startswith(table + "_"):
                key = rest.removeprefix(table + "_")
                if key not in keys:
                    close = _closest(key, keys)
                    fix = f"did you mean {f'{ENV_PREFIX}{table}_{close}'.upper()}?" if close else ""
                    raise ConfigError(
                        name, f"no key {table}.{key}", fix or f"keys of [{table}]: {', '.join(keys)}"
                    )
                found[f"{table}.{key}"] = value
    return found


def read_config(
    path: Path | None,
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Merge defaults, the TOML file, ``DIGEST_*`` variables and ``overrides`` (``"table.key"`` → value).

    Checks names and types only; ``config_problems`` checks the values.
    """
    schema = tables()
    cwd = Path.cwd()
    base = path.parent.absolute() if path is not None else cwd
    values: dict[str, dict[str, object]] = {table: {} for table in schema}
    if path is not None:
        for table, content in _read_file(path).items():
            if table not in schema:
                raise ConfigError(
                    table, "unknown table", _suggest(table, schema) or f"use one of {', '.join(schema)}"
                )
            if not isinstance(content, dict):
                raise ConfigError(table, "expected a table", f"write it as [{table}]")
            for key, value in content.items():
                if key not in schema[table]:
                    raise ConfigError(
                        f"{table}.{key}",
                        "unknown key",
                        _suggest(key, schema[table]) or f"remove it from {path}",
                    )
                values[table][key] = _coerce(f"{table}.{key}", schema[table][key], value, base)
    later = {**_from_environ(environ or {}, schema), **(overrides or {})}
    for dotted, value in later.items():
        table, _, key = dotted.partition(".")
        if key not in schema.get(table, {}):
            raise ConfigError(
                dotted, "unknown key", _suggest(dotted, [f"{t}.{k}" for t in schema for k in schema[t]])
            )
        values[table][key] = _coerce(dotted, schema[table][key], value, cwd)
    hints = typing.get_type_hints(Config)
    parts = {table: hints[table](**values[table]) for table in schema}
    config = Config(**parts)
    defaults = config.paths
    # Defaults are relative to where the configuration lives, like values from the file.
    resolved = {
        name: getattr(defaults, name)
        if getattr(defaults, name).is_absolute()
        else base / getattr(defaults, name)
        for name in ("source", "data", "output")
    }
    url = resolve_sqlite(config.database.url, base)
    return dataclasses.replace(config, paths=PathsConfig(**resolved), database=DatabaseConfig(url=url))


def _writable_folder(key: str, folder: Path) -> ConfigError | None:
    option = "--" + key.split(".")[1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return ConfigError(
            key,
            f"folder {folder} is not writable ({reason})",
            f"fix its permissions or point {key} (or {option}) at a writable folder",
        )
    return None


def value_problems(config: Config) -> list[ConfigError]:
    """Every value that cannot work, each with its fix; no filesystem access."""
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
    for key, port in (
        ("server.port", config.server.port),
        ("smtp.port", config.smtp.port),
        ("bounces.port", config.bounces.port),
    ):
        if not 1 <= port <= 65535:
            problems.append(ConfigError(key, f"port {port} is out of range", "use a number from 1 to 65535"))
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
    if config.database.url and url_scheme(config.database.url) not in SCHEMES:
        problems.append(
            ConfigError(
                "database.url",
                f"unsupported database {config.database.url.partition(':')[0]!r}",
                "leave it empty for SQLite or write postgresql://user@host/dbname",
            )
        )
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
    for pattern in config.ingest.date_patterns:
        problem = pattern_problem(pattern)
        if problem:
            problems.append(
                ConfigError(
                    "ingest.date_patterns", problem, r'write e.g. "(?P<y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)"'
                )
            )
    for key, url in [("site.base_url", config.site.base_url)] + [
        ("feeds.hubs", hub) for hub in config.feeds.hubs
    ]:
        if not re.match(r"^https?://[^/\s]+", url):
            problems.append(
                ConfigError(key, f"{url!r} is not an absolute http(s) URL", "write e.g. https://news.example")
            )
        elif URL_UNSAFE.search(url):
            problems.append(
                ConfigError(key, f"{url!r} is not a plain URL", "remove spaces, line breaks and <>")
            )
    # The same rules the mailer applies, so ``digest check`` fails where ``send-digest`` would.
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
    problems.extend(retention_problems(config))
    problems.extend(parser_problems(config.parser))
    return problems


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


_WORD = re.compile(r"^[^\s,，、;；:：()（）]{1,12}$")


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


def deliverability_warnings(config: Config) -> list[str]:
    """Settings that work but get mail lost, junked or unreachable, each with its fix (``digest check``)."""
    warnings: list[str] = []
    sender_domain = config.smtp.sender.rpartition("@")[2].rstrip(">").strip().lower()
    if (
        sender_domain in ("localhost", "")
        or sender_domain.endswith((".localhost", ".local"))
        or "." not in sender_domain
    ):
        warnings.append(
            f"smtp.sender: {config.smtp.sender!r} is a local address: receivers refuse or junk it and replies"
            " go nowhere; set an address at your own domain"
        )
    if config.smtp.host:
        base = urlsplit(config.site.base_url)
        if (
            base.scheme != "https"
            or (base.hostname or "") in _LOCAL_HOSTS
            or (base.hostname or "").startswith("127.")
        ):
            warnings.append(
                f"site.base_url: emails link to {config.site.base_url}, which readers cannot open"
                " (or not over https); set the public https address of the site"
            )
        if config.dkim.key_file is None:
            warnings.append(
                "dkim: SMTP is set but emails are not signed; Gmail and Yahoo require DKIM of bulk senders:"
                " set dkim.domain, dkim.selector and dkim.key_file, then publish the DNS record it prints"
            )
    if config.site.tag_authority == SiteConfig.tag_authority:
        warnings.append(
            f"site.tag_authority: still the default {SiteConfig.tag_authority!r}; set your domain and year"
            ' (e.g. "news.example,2024") before the feeds are first published: it can never change after'
        )
    return warnings


def path_problems(config: Config) -> list[ConfigError]:
    """The source folder must exist; the data and output folders must be creatable and writable."""
    problems: list[ConfigError] = []
    source = config.paths.source
    if not source.is_dir():
        what = "is not a folder" if source.exists() else "does not exist"
        problems.append(
            ConfigError(
                "paths.source",
                f"folder {source} {what}",
                "create it or point paths.source (or --source) at the folder the pages are dropped into",
            )
        )
    elif not os.access(source, os.R_OK | os.X_OK):
        problems.append(
            ConfigError("paths.source", f"folder {source} is not readable", "fix its permissions")
        )
    for key in ("paths.data", "paths.output"):
        problem = _writable_folder(key, getattr(config.paths, key.split(".")[1]))
        if problem:
            problems.append(problem)
    key_file = config.dkim.key_file
    if key_file is not None and not (key_file.is_file() and os.access(key_file, os.R_OK)):
        problems.append(
            ConfigError(
                "dkim.key_file",
                f"{key_file} is not a readable file",
                "point it at the PEM private key (openssl genpkey -algorithm RSA -out dkim.pem)",
            )
        )
    return problems


def load_config(
    path: Path | None,
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read and fully validate the configuration; the first problem found is raised as ``ConfigError``.

    Creates the data and output folders when missing (that is how writability is checked).
    """
    config = read_config(path, overrides, environ)
    problems = value_problems(config) or path_problems(config)
    if problems:
        raise problems[0]
    return config
