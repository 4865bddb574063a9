"""What every command shares: the configuration its options name, and the clock."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digest import longlived
from digest.commands.stops import Stopped, stopped_reason, stops_raise
from digest.logs import LogFormat, configure

if TYPE_CHECKING:
    from digest.config import Config


log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config.toml")


LOG_LEVELS = ("debug", "info", "warning", "error")


def command_config(args: argparse.Namespace, writes: bool = True, follow: bool = True) -> Config:
    """Load the configuration the options name, with the options applied on top (``writes``
    False: for a command that only reads, ``config_paths.path_problems``).

    ``follow`` (every command but ``serve``): with ``site.base_url`` unset, links go where the
    ``digest serve`` using the data folder links (``follow_serve``).  Logging follows the file's
    ``logging.format`` unless ``--log-format`` chose.  A command asks for its configuration once
    its modules are loaded: what is alive then stays for the process's life, and is settled out
    of the garbage collector's scans (``longlived``).
    """
    from digest.config_checks import load_config

    config = load_config(config_path(args), option_overrides(args), os.environ, writes)
    if getattr(args, "log_format", None) is None and config.logging.format != LogFormat.AUTO:
        configure(log_level(args), LogFormat(config.logging.format))
    if follow:
        config = follow_serve(config)
    _settle_once()
    return config


def follow_serve(config: Config) -> Config:
    """``config`` linking where the running ``digest serve`` of its data folder links, when
    ``site.base_url`` is unset (the address this configuration listens at) and that serve's differs.

    A serve started with ``--port`` (``./run.sh --port 8081``), or with ``DIGEST_SITE_BASE_URL`` in
    an environment this shell lacks, links elsewhere than the file says: a ``publish --full`` by hand
    rewrote the site it serves with links to nothing, and ``send-digest`` mailed them.
    """
    from digest.config import listening_url
    from digest.service.datalock import lock_holder
    from digest.service.health import load_state

    if config.site.base_url != listening_url(config.server):
        return config  # set on purpose: the serve beside it was given the same
    holder = lock_holder(config.paths.data)
    state = load_state(config.paths.data) if holder else None
    url = state.base_url if state is not None and state.pid == holder else None
    if url is None or url == config.site.base_url:
        return config
    log.info("links follow the digest serve (pid %s) using %s: %s", holder, config.paths.data, url)
    return dataclasses.replace(config, site=dataclasses.replace(config.site, base_url=url))


class JobRecord:
    """A job a command runs, to be noted in ``<data>/cli-runs.json`` (``health.save_cli_run``) so
    ``digest status`` and ``/healthz`` tell it as the job's last run when it is: ``recorded``."""

    def __init__(self, config: Config, command: str, job: str, keep: bool) -> None:
        self._config, self._command, self._job, self._keep = config, command, job, keep
        self._started = time.monotonic()
        self.ended = False

    def done(self, counts: Mapping[str, int | str], ms: int | None = None) -> None:
        """The job ended well with ``counts``, taking ``ms`` (default: since the record began)."""
        self._save(counts, None, ms)

    def failed(self, error: str) -> None:
        """The job stopped with ``error``, in plain words."""
        self._save({}, error, None)

    def _save(self, counts: Mapping[str, int | str], error: str | None, ms: int | None) -> None:
        from digest.service.health import CLI_RUNS_NAME, JobRun, save_cli_run

        self.ended = True
        if not self._keep:
            return
        took = elapsed_ms(self._started) if ms is None else ms
        run = JobRun(utc_now(), took, dict(counts), error, by=f"digest {self._command}")
        try:
            save_cli_run(self._config.paths.data, self._job, run)
        except OSError as exc:
            # A data folder that cannot take the note costs a warning, not the work done.
            log.warning(
                "%s %s, but digest status will not say so: cannot write %s (%s)",
                self._job,
                "failed" if error is not None else "ran",
                self._config.paths.data / CLI_RUNS_NAME,
                exc.strerror or exc,
            )


@contextmanager
def recorded(config: Config, command: str, job: str, keep: bool = True) -> Iterator[JobRecord]:
    """Run ``job`` for ``digest command`` inside: ``JobRecord.done`` notes its success, and an error
    escaping before that is noted as its failure, then raised on; Ctrl-C (``KeyboardInterrupt``),
    SIGTERM and SIGHUP (``Stopped``, see ``digest.commands.stops``) are noted as a stop before it
    ended.  ``keep`` False (a preview, a dry run): neither is noted, as such a run changes nothing.

    A digest asked for before its day ended (``NotDueError``) is a request refused, not a run.
    """
    from digest.errors import DigestError, NotDueError

    record = JobRecord(config, command, job, keep)
    try:
        with stops_raise():
            yield record
    except NotDueError:
        raise
    except (KeyboardInterrupt, Stopped) as exc:
        # No ``Exception``, so they passed the note by: status went on telling the run before as the
        # last, though this one may have done half its work (some pages read, some files written).
        if not record.ended:
            record.failed(str(exc) if isinstance(exc, Stopped) else stopped_reason(signal.SIGINT))
        raise
    except Exception as exc:
        if not record.ended:  # a later job of the same command failed, not this one
            expected = isinstance(exc, DigestError)
            record.failed(str(exc) if expected else f"stopped by an unexpected {type(exc).__name__}: {exc}")
        raise


def elapsed_ms(started: float) -> int:
    """Milliseconds since ``started`` (``time.monotonic()``)."""
    return round((time.monotonic() - started) * 1000)


@functools.cache
def _settle_once() -> None:
    # Once a process: tests run many commands in one, and each settle freezes what is alive.
    longlived.settle()


def config_path(args: argparse.Namespace) -> Path | None:
    """The file ``--config`` names, else ``./config.toml`` when there is one, else None (defaults only)."""
    if getattr(args, "config", None) is not None:
        return Path(args.config)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def option_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The folder and listening options given on the command line, as ``"table.key"`` overrides."""
    names = {
        "source": "paths.source",
        "data": "paths.data",
        "output": "paths.output",
        "host": "server.host",
        "port": "server.port",
    }
    return {key: getattr(args, name) for name, key in names.items() if getattr(args, name, None) is not None}


def log_level(args: argparse.Namespace) -> str:
    """``--log-level``, else ``info`` for ``serve`` and ``warning`` for every other command."""
    level: str | None = getattr(args, "log_level", None)
    return level or ("info" if args.command == "serve" else "warning")


def utc_now() -> datetime:
    """The wall clock in UTC, which the commands pass down as ``now``."""
    return datetime.now(UTC)


def parse_day(text: str) -> date:
    """An argparse type: ``YYYY-MM-DD`` as a date, else the message argparse shows."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None
