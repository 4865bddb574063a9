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
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.config_values import coerce, from_environ, read_file, suggest
from digest.errors import ConfigError
from digest.paper.dating import DEFAULT_NAME_PATTERNS, DatingRules
from digest.store.urls import default_url, resolve_sqlite


@dataclass(frozen=True)
class PathsConfig:
    """``[paths]``: the folders the service reads pages from and writes to."""

    source: Path = Path("examples/pages")  # folder the editorial system drops page files into
    data: Path = Path("var/data")  # database, outbox, state
    output: Path = Path("var/output")  # published files


@dataclass(frozen=True)
class SiteConfig:
    """``[site]``: what the published site, its feeds and emails call themselves, and where they are."""

    title: str = "报纸摘要"
    subtitle: str = ""
    base_url: str = "http://127.0.0.1:8080"  # absolute URL the site is reached at; feeds link with it
    author: str = ""  # feed-level author (RFC 4287 needs one); empty: the site's title
    tag_authority: str = "digest.localhost,2024"  # authority of the tag: URIs (RFC 4151); never change
    # BCP 47 tag the pages, feeds and emails declare (fonts follow it): "zh-TW", "zh-HK" for a paper
    # in traditional characters, whose fixed words (buttons, headings) are then written so too.
    language: str = "zh-CN"

    @property
    def feed_author(self) -> str:
        """The name feeds are signed with: ``author``, or else the title readers know the site by."""
        return self.author.strip() or self.title


@dataclass(frozen=True)
class FeedsConfig:
    """``[feeds]``: how long the subscription documents are, and whom to tell of a new one."""

    size: int = 50  # entries in each subscription document
    hubs: tuple[str, ...] = ()  # WebSub hubs to ping after a publish


@dataclass(frozen=True)
class DatabaseConfig:
    """``[database]``: where the articles, digests and subscribers are kept."""

    url: str = ""  # empty: SQLite at <data>/digest.sqlite3; or postgresql://...


@dataclass(frozen=True)
class ScheduleConfig:
    """``[schedule]``: when the digest is made, in which time zone, and how often the folder is rescanned."""

    timezone: str = "Asia/Shanghai"
    digest_time: str = "07:00"  # local time the daily digest is made and sent
    scan_interval: int = 60  # seconds between safety-net rescans of the source folder


@dataclass(frozen=True)
class DigestConfig:
    """``[digest]``: what the daily email holds and how its delivery is retried."""

    empty_days: str = "skip"  # "skip" or "notice"
    retry_seconds: int = 60  # wait before the first retry of an undelivered email; doubles, at most 1 h
    retry_hours: int = 24  # stop retrying an email this long after its digest was made
    confirm_hours: int = 48  # how long a subscription confirmation link works
    backfill_days: int = 2  # issues dated more days than this before the digest day are never mailed
    max_items: int = 40  # articles in one email at most; the rest are "还有 N 篇" on the web digest
    bounce_limit: int = 2  # hard bounces (5xx at RCPT) after which an address is suppressed


@dataclass(frozen=True)
class IngestConfig:
    """``[ingest]``: how page files are dated and when one is settled enough to read."""

    # Regular expressions with groups (?P<y>)(?P<m>)(?P<d>) [and (?P<p>) the page] for dates in file paths.
    date_patterns: tuple[str, ...] = DEFAULT_NAME_PATTERNS
    # Seconds a page file must stay unchanged before it is read (renamed into the folder whole, it waits
    # as long but is never half-written, digest.ingest.watch), and a page file gone this long is retracted.
    settle_seconds: float = 5.0
    # The encoding of page files that are neither UTF-8 nor marked by a byte-order mark (a Python codec
    # name: "big5hkscs", "cp950", "gb18030"); empty: GB18030/GBK or Big5, told apart by their bytes.
    encoding: str = ""


@dataclass(frozen=True)
class BuildConfig:
    """``[build]``: the worker processes of a big ingest or full publish."""

    # Worker processes for a big ingest or full publish: 0 measures the free cores each time and uses
    # none unless two or more are free (a pool on a busy machine is slower than one process); 1 never
    # starts one; N starts N whatever the load.
    workers: int = 0


@dataclass(frozen=True)
class SmtpConfig:
    """``[smtp]``: the mail server the emails go through, and who they come from."""

    host: str = ""  # empty: write emails to <data>/outbox as .eml files
    port: int = 587
    security: str = "starttls"  # "starttls", "tls" or "none"
    username: str = ""
    password: str = ""  # prefer DIGEST_SMTP_PASSWORD in the environment
    sender: str = "报纸摘要 <digest@localhost>"
    return_path: str = ""  # envelope sender (MAIL FROM) where bounces go; empty: the sender's address


@dataclass(frozen=True)
class ServerConfig:
    """``[server]``: where the HTTP server listens, and what it trusts."""

    host: str = "127.0.0.1"
    port: int = 8080
    # Signs subscription links and forms.  None: generated once into <data>/server.secret
    # (digest.mail.signing).
    secret: str | None = None
    rate_limit: int = 10  # subscribe/confirm requests per client per minute
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For names the client
    # Host names answered besides site.base_url's, server.host's, localhost and IP addresses
    # (digest.web.hosts: DNS rebinding); "*": any.
    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class BouncesConfig:
    """``[bounces]``: the IMAP mailbox the bounce reports arrive in."""

    host: str = ""  # IMAP server of the mailbox smtp.return_path delivers to; empty: not read
    port: int = 993
    security: str = "tls"  # "tls" (implicit), "starttls" or "none"
    user: str = ""
    password: str = ""  # prefer DIGEST_BOUNCES_PASSWORD in the environment
    folder: str = "INBOX"


@dataclass(frozen=True)
class DkimConfig:
    """``[dkim]``: the DKIM signature of every email (all three keys, or none)."""

    domain: str = ""  # d= of the signature: the sender's domain (or a parent of it)
    selector: str = ""  # s=: the public key lives at <selector>._domainkey.<domain> in DNS
    key_file: Path | None = None  # PEM RSA private key; unset: no signature


@dataclass(frozen=True)
class HealthConfig:
    """``[health]``: when ``/healthz`` says degraded, and who may read its details."""

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
    """``[logging]``: the format of log lines."""

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


MIN_SECRET_LENGTH = 32


def tables() -> dict[str, dict[str, type]]:
    """Every table and its keys with their types: the single declaration the loader and docs follow."""
    result: dict[str, dict[str, type]] = {}
    root = typing.get_type_hints(Config)
    for table in dataclasses.fields(Config):
        hints = typing.get_type_hints(root[table.name])
        result[table.name] = {key.name: hints[key.name] for key in dataclasses.fields(root[table.name])}
    return result


def _default(key: str) -> object:
    """The default of ``key`` (``"table.key"``), as the example a type error's fix shows."""
    table, _, name = key.partition(".")
    return getattr(typing.get_type_hints(Config)[table](), name)


def listening_url(server: ServerConfig) -> str:
    """``http://host:port/`` of ``digest serve``, a wildcard address read as this machine's loopback."""
    host = server.host if server.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{server.port}"


def read_config(
    path: Path | None,
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    problems: list[ConfigError] | None = None,
) -> Config:
    """Merge defaults, the TOML file, ``DIGEST_*`` variables and ``overrides`` (``"table.key"`` → value).

    Checks names and types only; ``config_checks.value_problems`` checks the values.  The first
    problem is raised; with ``problems``, every one is added there instead and the
    key keeps its default, so ``digest check`` can list them all.  A file that cannot
    be read or parsed is always raised: nothing in it can be checked.
    """

    def note(error: ConfigError) -> None:
        if problems is None:
            raise error
        problems.append(error)

    def coerce_into(dotted: str, value: object, where: Path, variable: str | None = None) -> None:
        table, _, key = dotted.partition(".")
        try:
            default = functools.partial(_default, dotted)
            values[table][key] = coerce(dotted, schema[table][key], value, where, default, variable)
        except ConfigError as exc:
            note(exc)

    schema = tables()
    cwd = Path.cwd()
    base = path.parent.absolute() if path is not None else cwd
    values: dict[str, dict[str, object]] = {table: {} for table in schema}
    if path is not None:
        for table, content in read_file(path).items():
            owners = [name for name, keys in schema.items() if table in keys]
            if table not in schema and not isinstance(content, dict) and owners:
                # ``port = 8081`` above every [table]: a key of one, not a table of its own.
                where = " or ".join(f"[{owner}]" for owner in owners)
                note(ConfigError(table, "is a key outside its table", f"write it below the line {where}"))
            elif table not in schema:
                fix = suggest(table, schema) or f"use one of {', '.join(schema)}"
                note(ConfigError(table, "unknown table", fix))
            elif not isinstance(content, dict):
                note(ConfigError(table, "expected a table", f"write it as [{table}]"))
            else:
                for key, value in content.items():
                    if key in schema[table]:
                        coerce_into(f"{table}.{key}", value, base)
                    else:
                        fix = suggest(key, schema[table]) or f"remove it from {path}"
                        note(ConfigError(f"{table}.{key}", "unknown key", fix))
    variables = from_environ(environ or {}, schema, note)
    later = {**{dotted: value for dotted, (_, value) in variables.items()}, **(overrides or {})}
    for dotted, value in later.items():
        table, _, key = dotted.partition(".")
        if key in schema.get(table, {}):
            # An option given on the command line wins over the variable: then it is the option's value.
            named = variables.get(dotted) if dotted not in (overrides or {}) else None
            coerce_into(dotted, value, cwd, named[0] if named else None)
        else:
            keys = [f"{t}.{k}" for t in schema for k in schema[t]]
            note(ConfigError(dotted, "unknown key", suggest(dotted, keys)))
    hints = typing.get_type_hints(Config)
    if "base_url" not in values["site"]:
        # Left unset, the site is where this service listens: a port moved in the file, the
        # environment or on the command line moves every link, in serve and in every other command.
        values["site"]["base_url"] = listening_url(hints["server"](**values["server"]))
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
