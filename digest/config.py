"""Configuration: declared once here, loaded from TOML, overridden by environment and options.

Every key lives in one of the dataclasses below, with its default.  The
loader (``load_config``) reads ``config.toml``, applies ``DIGEST_<TABLE>_<KEY>``
environment variables, then command-line overrides, resolves relative paths
against the config file's folder, and validates everything up front so a bad
value stops the service with one clear ``ConfigError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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


@dataclass(frozen=True)
class SmtpConfig:
    host: str = ""  # empty: write emails to <data>/outbox as .eml files
    port: int = 587
    security: str = "starttls"  # "starttls", "tls" or "none"
    username: str = ""
    password: str = ""  # prefer DIGEST_SMTP_PASSWORD in the environment
    sender: str = "报纸摘要 <digest@localhost>"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    secret: str = "change-me"  # signs subscription links; required beyond loopback


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``config_dir`` is where relative paths were resolved from."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
