"""The ``digest`` command: one entry point for every job, each with ``--help``.

Expected failures (``DigestError``) print one line, ``error: ...``, and exit
with status 2 for configuration problems (and a database schema that does not fit) or 1
otherwise; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence

from digest import __version__
from digest.commands.admin import (
    cmd_backup,
    cmd_check,
    cmd_migrate,
    cmd_prune,
    cmd_restore,
    cmd_serve,
    cmd_status,
)
from digest.commands.common import (
    LOG_LEVELS,
    log_level,
    parse_day,
)
from digest.commands.content import cmd_build, cmd_ingest, cmd_parse, cmd_publish, cmd_retract
from digest.commands.mail import (
    cmd_send_digest,
    cmd_subscribers,
)
from digest.commands.stops import Stopped, exit_status
from digest.errors import AlreadyRunningError, ConfigError, DigestError, SchemaError
from digest.logs import LogFormat, configure

# Each command imports what it needs when it runs: importing every module (the database layer,
# the mailer, the HTTP client, pinyin tables) made even ``digest --help`` take most of a second.
# The configuration loader too (TOML, time zones, the dating patterns): ``--help`` needs none of it.


Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: every command takes the shared options before or after its name.

    The shared options default to "not given" (``SUPPRESS``) rather than None,
    so ``subscribers --data X add`` keeps ``X``: a sub-command's parser would
    otherwise overwrite it with its own default.
    """
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    shared = common.add_argument_group("shared options")
    shared.add_argument("--config", metavar="PATH", help="config file (default: ./config.toml when present)")
    shared.add_argument("--source", metavar="DIR", help="folder of page files (paths.source)")
    shared.add_argument("--data", metavar="DIR", help="folder for the database and outbox (paths.data)")
    shared.add_argument("--output", metavar="DIR", help="folder for published files (paths.output)")
    shared.add_argument(
        "--log-level", choices=LOG_LEVELS, help="log detail (default: info for serve, else warning)"
    )
    shared.add_argument(
        "--log-format",
        choices=[form.value for form in LogFormat],
        help="log record format (logging.format; default auto: journal under systemd, else text)",
    )

    parser = argparse.ArgumentParser(
        prog="digest",
        description="Newspaper pages in; Atom feeds, an HTML site and a daily email digest out.",
        epilog="Every config key can also be set as DIGEST_<TABLE>_<KEY> in the environment.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    serve = command("serve", cmd_serve, "watch the source folder, publish, send digests and serve HTTP")
    serve.add_argument("--host", help="address to listen on (server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (server.port)")

    ingest_cmd = command("ingest", cmd_ingest, "read new or changed page files into the database")
    ingest_cmd.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders (default: the source folder)"
    )
    ingest_cmd.add_argument(
        "--reparse",
        action="store_true",
        help="read every file again, also those seen before (ids, first-seen times and retractions kept)",
    )

    retract = command("retract", cmd_retract, "withdraw an article from feeds, site and later digests")
    retract.add_argument("article", metavar="ID|URL", help="the article's tag: id, or the URL of its page")
    retract.add_argument("--restore", action="store_true", help="undo an earlier retraction")

    publish = command("publish", cmd_publish, "render what changed into the output folder")
    publish.add_argument(
        "--full", action="store_true", help="render every feed and page again, not only what changed"
    )

    command("build", cmd_build, "ingest the source folder, then publish everything again (one process)")

    parse = command(
        "parse", cmd_parse, "show how page files split into articles (--config: read its [parser] table)"
    )
    parse.add_argument("files", nargs="+", metavar="FILE", help="page files")
    parse.add_argument("--jsonl", action="store_true", help="one JSON object per page instead of text")
    parse.add_argument(
        "--issue", type=parse_day, metavar="YYYY-MM-DD", help="the pages' issue date (gives 18日电 its month)"
    )

    send = command("send-digest", cmd_send_digest, "make the daily digest and email it now")
    send.add_argument("--date", type=parse_day, metavar="YYYY-MM-DD", help="digest day (default: latest due)")
    send.add_argument("--dry-run", action="store_true", help="write every email under <data>/dry-run")
    send.add_argument("--to", metavar="ADDRESS", help="send one test copy here, outside the ledger")

    migrate = command(
        "migrate", cmd_migrate, "upgrade the database schema to this version (back it up first)"
    )
    migrate.add_argument(
        "--check", action="store_true", help="only say where the schema stands (exit 1: an upgrade is due)"
    )
    command("check", cmd_check, "validate the configuration and environment; print each problem and its fix")
    status = command(
        "status", cmd_status, "show the service's last runs and errors, and counts of files, articles, emails"
    )
    status.add_argument("--json", action="store_true", help="print the /healthz report as JSON")

    prune_cmd = command(
        "prune", cmd_prune, "remove old ledger rows, sign-ups, outbox files and dry runs ([retention])"
    )
    prune_cmd.add_argument("--dry-run", action="store_true", help="print what would go; remove nothing")

    backup_cmd = command("backup", cmd_backup, "copy the database into a file, also while serve runs")
    backup_cmd.add_argument("file", metavar="FILE")
    restore_cmd = command("restore", cmd_restore, "replace the database with a backup (stop serve first)")
    restore_cmd.add_argument("file", metavar="FILE")

    subs = command("subscribers", cmd_subscribers, "add, list, remove, import or export email subscribers")
    actions = subs.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="add a confirmed subscriber")
    add.add_argument("email")
    add.add_argument(
        "--section", action="append", default=[], metavar="SLUG", help="only this section (repeatable)"
    )
    resubscribe = "the address left (unsubscribed, bounced, complained) and has asked to come back"
    add.add_argument("--resubscribe", action="store_true", help=resubscribe)
    actions.add_parser("list", parents=[common], help="list subscribers with their status")
    remove = actions.add_parser(
        "remove", parents=[common], help="unsubscribe an address (kept on the suppression list)"
    )
    remove.add_argument("email")
    imports = actions.add_parser(
        "import", parents=[common], help="add subscribers from a CSV file (email[,sections], or an export)"
    )
    imports.add_argument("file", metavar="FILE.csv")
    imports.add_argument(
        "--status",
        choices=("confirmed", "pending"),
        help="the status of rows without one: confirmed (they opted in elsewhere) or pending",
    )
    imports.add_argument("--resubscribe", action="store_true", help=resubscribe)
    exports = actions.add_parser(
        "export", parents=[common], help="write every subscriber, suppressed ones too, as CSV"
    )
    exports.add_argument("file", nargs="?", default="-", metavar="FILE.csv", help="default: standard output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    configure(log_level(args), LogFormat(getattr(args, "log_format", LogFormat.AUTO)))
    handler: Handler = args.handler
    try:
        status = handler(args)
        sys.stdout.flush()  # inside the try: a closed pipe is found here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (``digest subscribers list | head``): nothing is wrong here, so no
        # traceback. Python would report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command the pipe stopped
    except (ConfigError, AlreadyRunningError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DigestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return exit_status(signal.SIGINT)
    except Stopped as exc:
        print(exc, file=sys.stderr)  # a signal from elsewhere (systemd, timeout): say why it ended here
        return exit_status(exc.signal)


if __name__ == "__main__":
    sys.exit(main())
