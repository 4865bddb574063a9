"""What every command shares: the configuration its options name, and the clock."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digest import longlived
from digest.logs import LogFormat, configure

if TYPE_CHECKING:
    from digest.config import Config


log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config.toml")


LOG_LEVELS = ("debug", "info", "warning", "error")


def command_config(args: argparse.Namespace, writes: bool = True) -> Config:
    """Load the configuration the options name, with the options applied on top (``writes``
    False: for a command that only reads, ``config_checks.path_problems``).

    Logging follows the file's ``logging.format`` unless ``--log-format`` chose.  A command
    asks for its configuration once its modules are loaded: what is alive then stays for the
    process's life, and is settled out of the garbage collector's scans (``longlived``).
    """
    from digest.config_checks import load_config

    config = load_config(config_path(args), option_overrides(args), os.environ, writes)
    if getattr(args, "log_format", None) is None and config.logging.format != LogFormat.AUTO:
        configure(log_level(args), LogFormat(config.logging.format))
    _settle_once()
    return config


def record_run(config: Config, command: str, job: str, ms: int, counts: Mapping[str, int | str]) -> None:
    """Note that ``digest command`` ran ``job`` (``health.save_cli_run``), so ``digest status`` and
    ``/healthz`` tell it as the last run when it is; a data folder that cannot take the note costs a
    warning, not the work done."""
    from digest.service.health import CLI_RUNS_NAME, JobRun, save_cli_run

    try:
        save_cli_run(config.paths.data, job, JobRun(utc_now(), ms, dict(counts), by=f"digest {command}"))
    except OSError as exc:
        log.warning(
            "%s ran, but digest status will not say so: cannot write %s (%s)",
            job,
            config.paths.data / CLI_RUNS_NAME,
            exc.strerror or exc,
        )


def elapsed_ms(started: float) -> int:
    """Milliseconds since ``started`` (``time.monotonic()``)."""
    return round((time.monotonic() - started) * 1000)


@functools.cache
def _settle_once() -> None:
    # Once a process: tests run many commands in one, and each settle freezes what is alive.
    longlived.settle()


def config_path(args: argparse.Namespace) -> Path | None:
    if getattr(args, "config", None) is not None:
        return Path(args.config)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def option_overrides(args: argparse.Namespace) -> dict[str, object]:
    names = {
        "source": "paths.source",
        "data": "paths.data",
        "output": "paths.output",
        "host": "server.host",
        "port": "server.port",
    }
    return {key: getattr(args, name) for name, key in names.items() if getattr(args, name, None) is not None}


def log_level(args: argparse.Namespace) -> str:
    level: str | None = getattr(args, "log_level", None)
    return level or ("info" if args.command == "serve" else "warning")


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None
