"""The ``digest`` command as a user runs it: a subprocess, its exit status, stdout and stderr."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.cli import build_parser
from digest.service.health import CLI_RUNS_NAME, JobRun, ServiceState, save_state

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "pages"


def digest(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m digest.cli`` with a clean DIGEST_ environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "digest.cli", *map(str, args)],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_config_error(result: subprocess.CompletedProcess[str], key: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {key}: ")
    assert "; " in lines[0]  # the fix follows the problem
    assert "Traceback" not in result.stderr


@pytest.fixture
def folders(tmp_path: Path) -> list[str]:
    (tmp_path / "pages").mkdir()
    return [
        "--source",
        str(tmp_path / "pages"),
        "--data",
        str(tmp_path / "data"),
        "--output",
        str(tmp_path / "out"),
    ]


def test_every_command_has_help_and_the_shared_options() -> None:
    parser = build_parser()
    commands = ["serve", "ingest", "publish", "parse", "send-digest", "check", "status", "subscribers"]
    commands += ["migrate", "backup", "restore", "retract", "build"]
    for command in commands:
        with pytest.raises(SystemExit) as done:
            parser.parse_args([command, "--help"])
        assert done.value.code == 0
    for argv in (["serve", "--host", "::1", "--port", "1"], ["ingest", "a"], ["publish"], ["parse", "f"]):
        args = parser.parse_args([*argv, "--config", "c", "--source", "s", "--data", "d", "--output", "o"])
        assert (args.config, args.source, args.data, args.output) == ("c", "s", "d", "o")


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = digest("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "ingest", "publish", "parse", "send-digest", "check"):
        assert command in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config_text", "extra", "key"),
    [
        ('[paths]\nsource = "missing"\n', [], "paths.source"),
        ("[schedule]\ndigest_tme = '07:00'\n", [], "schedule.digest_tme"),
        ("[schedule]\ndigest_time = '7 o clock'\n", [], "schedule.digest_time"),
        ("[schedule]\ntimezone = 'Mars/Olympus'\n", [], "schedule.timezone"),
        ("", ["--output", "blocker/out"], "paths.output"),
    ],
    ids=["missing-source", "unknown-key", "bad-time", "bad-timezone", "unwritable-output"],
)
def test_bad_configuration_is_one_line_naming_the_key(
    tmp_path: Path, config_text: str, extra: list[str], key: str
) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    (tmp_path / "pages").mkdir()
    (tmp_path / "config.toml").write_text(
        '[paths]\nsource = "pages"\n' * (key != "paths.source") + config_text
    )
    assert_config_error(digest("ingest", *extra, cwd=tmp_path), key)


@pytest.mark.slow
def test_environment_variables_are_validated_too(tmp_path: Path, folders: list[str]) -> None:
    result = digest("check", *folders, cwd=tmp_path, env={"DIGEST_SCHEDULE_TIMEZONE": "Nowhere/Else"})
    assert_config_error(result, "schedule.timezone")


@pytest.mark.slow
def test_check_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[schedule]\ntimezone = 'X/Y'\ndigest_time = '25:00'\n")
    result = digest("check", "--source", tmp_path / "nope", cwd=tmp_path)
    assert result.returncode == 2
    keys = [line.split(":")[1].strip() for line in result.stderr.strip().splitlines()]
    assert keys == ["schedule.digest_time", "schedule.timezone", "paths.source"]


@pytest.mark.slow
def test_check_creates_no_folder_it_is_given_and_names_those_missing(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "blocker").write_text("a file where a folder should be")
    result = digest("check", "--source", "pages", "--data", "d", "--output", "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for key, name in (("paths.data", "d"), ("paths.output", "o")):
        assert f"note: {key}: folder {tmp_path / name} does not exist yet" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["blocker", "pages"]
    # What could not be made is still a problem, found without trying to make it.
    blocked = digest("check", "--source", "pages", "--data", "d", "--output", "blocker/o", cwd=tmp_path)
    assert blocked.returncode == 2
    assert f"error: paths.output: folder {tmp_path / 'blocker' / 'o'} is not writable" in blocked.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["blocker", "pages"]


@pytest.mark.slow
def test_check_lists_misspelt_names_and_wrong_types_with_every_other_problem(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        "[feeds]\nsize = 'abc'\nsizes = 5\n[bogus]\nx = 1\n[schedule]\ntimezone = 'X/Y'\n"
    )
    result = digest("check", "--source", tmp_path / "nope", cwd=tmp_path, env={"DIGEST_FEEDS_SIZ": "3"})
    assert result.returncode == 2
    keys = [line.split(":")[1].strip() for line in result.stderr.strip().splitlines()]
    assert keys == [
        "feeds.size",
        "feeds.sizes",
        "bogus",
        "DIGEST_FEEDS_SIZ",
        "schedule.timezone",
        "paths.source",
    ]
    # Every other command still stops at the first, in one line.
    assert_config_error(digest("status", "--source", tmp_path / "nope", cwd=tmp_path), "feeds.size")


@pytest.mark.slow
def test_status_and_backup_only_read_so_they_need_no_writable_folder(
    tmp_path: Path, folders: list[str]
) -> None:
    pages = Path(folders[1])
    (pages / "2024-11-27_01.txt").write_bytes((EXAMPLES / "2024-11-27_01.txt").read_bytes())
    assert digest("ingest", *folders, cwd=tmp_path).returncode == 0
    # An output folder that cannot be written (here: a file in its place) is no concern of theirs.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    reading = [*folders[:4], "--output", str(blocked)]
    status = digest("status", *reading, cwd=tmp_path)
    assert status.returncode == 0 and "articles:" in status.stdout, status.stderr
    copy = tmp_path / "copy.sqlite3"
    assert digest("backup", str(copy), *reading, cwd=tmp_path).returncode == 0 and copy.is_file()
    # A mistyped data folder holds no database, which is said; and it is not created.
    typo = tmp_path / "dta"
    mistyped = digest("status", "--source", pages, "--data", typo, cwd=tmp_path)
    assert mistyped.returncode == 1 and f"{typo / 'digest.sqlite3'} does not exist" in mistyped.stderr
    assert not typo.exists()
    # A command that writes still needs its folders.
    assert_config_error(digest("ingest", *reading, cwd=tmp_path), "paths.output")


@pytest.mark.slow
def test_ingest_publish_status_and_subscribers(tmp_path: Path, folders: list[str], database_url: str) -> None:
    (tmp_path / "config.toml").write_text(f'[database]\nurl = "{database_url}"\n')  # read from the cwd
    pages = Path(folders[1])
    for page in EXAMPLES.glob("*.txt"):
        (pages / page.name).write_bytes(page.read_bytes())
    (pages / "2024-11-29_01.txt").write_bytes(b"\x00\x01binary\x00")
    result = digest("ingest", *folders, cwd=tmp_path)
    assert result.returncode == 1  # one page was unreadable
    assert "4 files: 3 read, 0 unchanged, 1 failed" in result.stdout
    (warning,) = result.stderr.strip().splitlines()  # logged once, by name, with the reason
    assert "skipped page 2024-11-29_01.txt: contains NUL bytes" in warning
    assert digest("publish", *folders, cwd=tmp_path).returncode == 0
    assert (tmp_path / "out" / "feeds" / "all.atom").is_file()
    status = digest("status", *folders, cwd=tmp_path)
    assert "source files: 4 (1 unreadable)" in status.stdout and "2024-11-29_01.txt" in status.stdout
    assert (
        digest(
            "subscribers", "add", "Reader@Example.org", "--section", "yao-wen", *folders, cwd=tmp_path
        ).returncode
        == 0
    )
    listed = digest("subscribers", "list", *folders, cwd=tmp_path)
    assert listed.stdout.splitlines() == ["reader@example.org\tconfirmed\tyao-wen"]
    bad = digest("subscribers", "add", "not-an-address", *folders, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: address: ")
    assert digest("subscribers", "remove", "reader@example.org", *folders, cwd=tmp_path).returncode == 0


@pytest.mark.slow
def test_parse_needs_no_configuration(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[nonsense]\n")  # read by parse only when --config names it
    page = EXAMPLES / "2024-11-27_02.txt"
    text = digest("parse", page, cwd=tmp_path)
    assert text.returncode == 0 and "虚构的青松果园迎来丰收季" in text.stdout
    lines = digest("parse", "--jsonl", page, EXAMPLES / "2024-11-28_01.txt", cwd=tmp_path).stdout.splitlines()
    assert [json.loads(line)["file"] for line in lines] == ["2024-11-27_02.txt", "2024-11-28_01.txt"]
    assert json.loads(lines[0])["articles"][0]["title"] == "虚构的青松果园迎来丰收季"
    missing = digest("parse", tmp_path / "missing.txt", cwd=tmp_path)
    assert (
        missing.returncode == 1 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr
    )


@pytest.mark.slow
def test_parse_reads_the_parser_table_of_the_config_it_is_given(tmp_path: Path) -> None:
    page = tmp_path / "p.txt"
    page.write_text("新桥通车\n\n播报员 甲乙\n\n新桥今天通车。\n", encoding="utf-8")
    before = json.loads(digest("parse", "--jsonl", page, cwd=tmp_path).stdout)
    assert before["articles"][0]["authors"] == []
    config = tmp_path / "paper.toml"
    config.write_text('[parser]\nroles = ["播报员"]\n', encoding="utf-8")
    after = json.loads(digest("parse", "--jsonl", "--config", config, page, cwd=tmp_path).stdout)
    assert after["articles"][0]["authors"] == ["甲乙"]
    assert after["articles"][0]["body"] == "新桥今天通车。"
    config.write_text('[parser]\nroles = ["播 报"]\n', encoding="utf-8")
    assert_config_error(digest("parse", "--config", config, page, cwd=tmp_path), "parser.roles")


@pytest.mark.slow
def test_parse_gives_a_day_only_dateline_the_issue_month(tmp_path: Path) -> None:
    page = tmp_path / "p.txt"
    page.write_text("新桥通车\n\n本报某地18日电 新桥今天通车。\n", encoding="utf-8")
    plain = json.loads(digest("parse", "--jsonl", page, cwd=tmp_path).stdout)
    assert plain["articles"][0]["date"] is None
    dated = json.loads(digest("parse", "--jsonl", "--issue", "2026-03-19", page, cwd=tmp_path).stdout)
    assert dated["articles"][0]["date"] == "03-18"
    bad = digest("parse", "--issue", "19.3.2026", page, cwd=tmp_path)
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_send_digest_says_an_empty_day_is_skipped(tmp_path: Path) -> None:
    options = ["--source", tmp_path / "pages", "--data", tmp_path / "data", "--output", tmp_path / "out"]
    (tmp_path / "pages").mkdir()
    assert digest("subscribers", "add", "reader@example.org", *options, cwd=tmp_path).returncode == 0
    skipped = digest("send-digest", "--date", "2024-11-28", *options, cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert "0 articles" in skipped.stdout and "no email, web page or feed entry" in skipped.stdout
    assert not (tmp_path / "out" / "digests" / "2024-11-28.html").exists()


@pytest.mark.slow
def test_status_tells_the_last_ingest_and_digest_whether_run_by_the_service_or_by_hand(
    tmp_path: Path, folders: list[str]
) -> None:
    """Before, ``digest status`` said ``last ingest: -`` and ``last digest: -`` after ``digest ingest`` and
    ``send-digest``: only the service kept its runs."""
    pages, data = Path(folders[1]), Path(folders[3])
    (pages / "2024-11-27_01.txt").write_bytes((EXAMPLES / "2024-11-27_01.txt").read_bytes())
    assert digest("ingest", *folders, cwd=tmp_path).returncode == 0
    sent = digest("send-digest", "--date", "2024-11-27", *folders, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    # Previews store nothing: no run of the digest job.
    assert digest("send-digest", "--date", "2024-11-28", "--dry-run", *folders, cwd=tmp_path).returncode == 0
    shown = digest("status", *folders, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "service: has never run with this data folder" in lines
    (ingest,) = [line for line in lines if line.startswith("last ingest: ")]
    assert re.fullmatch(
        r"last ingest: .* files 1, read 1, failed 0, new \d+, changed 0, retracted 0 \(by digest ingest\)",
        ingest,
    )
    (made,) = [line for line in lines if line.startswith("last digest: ")]
    pattern = (
        r"last digest: .* day 2024-11-27, articles \d+, sent 0, failed 0, refused 0 \(by digest send-digest\)"
    )
    assert re.fullmatch(pattern, made)
    assert "last publish: -" in lines  # send-digest published, but as part of the digest job
    report = json.loads(digest("status", "--json", *folders, cwd=tmp_path).stdout)
    assert (
        report["last_digest"]["by"] == "digest send-digest" and report["last_digest"]["day"] == "2024-11-27"
    )
    # A later run of the service's is the last one; an earlier one is not.
    later, earlier = datetime.now(UTC) + timedelta(hours=1), datetime(2024, 11, 28, 7, 0, tzinfo=UTC)
    failed = JobRun(earlier, 5, {}, "cannot reach the SMTP server")
    save_state(
        data,
        ServiceState(4242, earlier, {"ingest": JobRun(later, 12, {"files": 0}), "digest": failed}, 0, ()),
    )
    lines = digest("status", *folders, cwd=tmp_path).stdout.splitlines()
    assert [line.endswith("(12 ms) files 0") for line in lines if line.startswith("last ingest: ")] == [True]
    # The digest sent by hand since the service's failed is the last run shown, but it proves nothing
    # of the service's own (another environment): that failure stands until the service's digest job
    # ends well, which its start-up, finding nothing left to do, would (``health.failing``).
    assert [line for line in lines if line.startswith("last digest: ")] == [made]
    assert "errors: digest: cannot reach the SMTP server (by the service)" in lines


def test_status_with_postgresql_away_still_shows_the_last_runs(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL gone (its port refuses) is when an operator asks ``digest status``: the runs the
    service last saved are still shown, with the database's error, exit 1 and no traceback."""
    data = tmp_path / "data"
    options = ["--source", str(EXAMPLES), "--data", str(data), "--output", str(tmp_path / "out")]
    assert digest("ingest", *options, cwd=tmp_path, env={"DIGEST_DATABASE_URL": pg_url}).returncode == 0
    at = datetime(2024, 11, 28, 7, 0, tzinfo=UTC)
    runs = {"publish": JobRun(at, 12, {"written": 3, "new": 7}, None)}
    save_state(data, ServiceState(4242, at, runs, 0, ()))
    with socket.socket() as probe:  # a loopback port nothing listens on, as when PostgreSQL went away
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    away = {"DIGEST_DATABASE_URL": pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")}

    shown = digest("status", *options, cwd=tmp_path, env=away)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    assert "last publish: 2024-11-28 15:00:00 CST (12 ms) written 3, new 7" in shown.stdout
    assert (
        "new 7, changed 0, retracted 0 (by digest ingest)" in shown.stdout
    )  # the command's own run, before it
    assert "errors: database " in shown.stdout and "Connection refused" in shown.stdout
    assert shown.stderr.startswith("error: database ") and len(shown.stderr.strip().splitlines()) == 1
    report = json.loads(digest("status", "--json", *options, cwd=tmp_path, env=away).stdout)
    assert report["status"] == "error" and report["last_publish"]["new"] == 7 and "articles" not in report
    assert report["last_ingest"]["by"] == "digest ingest"


def test_a_record_of_runs_edited_by_hand_costs_status_nothing(tmp_path: Path, folders: list[str]) -> None:
    """A time without a UTC offset, or a count named like a field of the run, in ``cli-runs.json``:
    before, ``digest status`` (and ``/healthz``, which reads the same file) stopped with a traceback
    when the service had a run of the same job."""
    data = Path(folders[3])
    assert digest("ingest", *folders, cwd=tmp_path).returncode == 0
    record = data / CLI_RUNS_NAME
    service = JobRun(datetime(2024, 11, 27, 1, 0, tzinfo=UTC), 5, {"files": 1})
    save_state(data, ServiceState(1, datetime(2024, 11, 27, tzinfo=UTC), {"ingest": service}, 0, ()))
    runs = json.loads(record.read_text(encoding="utf-8"))
    for edit in ({"at": "2099-01-01T00:00:00"}, {"counts": {"at": "x", "files": 1}}):
        record.write_text(json.dumps({"ingest": runs["ingest"] | edit}), encoding="utf-8")
        shown = digest("status", *folders, cwd=tmp_path)
        assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
        assert "last ingest: " in shown.stdout


def test_a_port_set_in_the_file_or_environment_moves_the_links_of_every_command(tmp_path: Path) -> None:
    """``[server] port`` with ``site.base_url`` unset: pages and emails link where ``serve`` listens,
    whoever renders them; before, only ``serve --port`` did, so a CLI publish linked to port 8080."""
    options = ["--source", EXAMPLES, "--data", tmp_path / "data", "--output", tmp_path / "out"]
    (tmp_path / "config.toml").write_text("[server]\nport = 18123\n", encoding="utf-8")
    assert digest("build", *options, cwd=tmp_path).returncode == 0
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert '<link rel="canonical" href="http://127.0.0.1:18123/">' in index
    env = {"DIGEST_SERVER_HOST": "::", "DIGEST_SERVER_PORT": "18124"}
    assert digest("publish", "--full", *options, cwd=tmp_path, env=env).returncode == 0
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert '<link rel="canonical" href="http://127.0.0.1:18124/">' in index
    chosen = env | {"DIGEST_SITE_BASE_URL": "https://news.example/"}
    assert digest("publish", "--full", *options, cwd=tmp_path, env=chosen).returncode == 0
    assert "https://news.example/" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_a_host_written_as_in_a_url_is_refused_before_it_reaches_the_links(tmp_path: Path) -> None:
    """``server.host = "[::1]"`` with ``site.base_url`` unset made every link ``http://[[::1]]:8080``:
    ``check`` said ok and ``publish`` stopped with a traceback. A base URL whose port cannot be read
    was taken by ``check`` the same way."""
    options = ["--source", EXAMPLES, "--data", tmp_path / "data", "--output", tmp_path / "out"]
    for command in (["check"], ["publish", "--full"]):
        done = digest(*command, *options, cwd=tmp_path, env={"DIGEST_SERVER_HOST": "[::1]"})
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "server.host: '[::1]' is written as in a URL; drop the brackets: host = \"::1\"" in done.stderr
    done = digest("check", *options, cwd=tmp_path, env={"DIGEST_SITE_BASE_URL": "https://news.example:80a/"})
    assert (
        done.returncode == 2
        and "site.base_url: 'https://news.example:80a/' is not an absolute" in done.stderr
    )


@pytest.mark.parametrize(
    ("host", "says", "fix"),
    [
        ("127.0.0.1", "Address already in use", "stop the program using it or choose another --port"),
        # TEST-NET-1 (RFC 5737): an address no interface of this machine holds, as after a typo.
        ("192.0.2.1", "Cannot assign requested address", "use --host 127.0.0.1, or 0.0.0.0"),
        # A name that does not resolve (RFC 6761's .invalid never does) was blamed on server.port.
        ("no-such-host.invalid", "'no-such-host.invalid' does not resolve", "give an IP address instead"),
    ],
)
def test_serve_names_why_it_cannot_listen_and_the_fix_that_fits(
    tmp_path: Path, folders: list[str], host: str, says: str, fix: str
) -> None:
    """A taken port and an address this machine does not have call for different fixes; before,
    both were told to stop the program using the port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = digest("serve", *folders, "--host", host, "--port", str(port), cwd=tmp_path)
    assert_config_error(result, "server.port" if host == "127.0.0.1" else "server.host")
    assert says in result.stderr and fix in result.stderr


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("no-such-host.invalid", "'no-such-host.invalid' does not resolve to an address"),
        ("192.0.2.1", "cannot listen on 192.0.2.1 ("),
    ],
)
def test_check_finds_the_host_serve_could_not_listen_on(
    tmp_path: Path, folders: list[str], host: str, says: str
) -> None:
    """Before, ``check`` said ok of a ``server.host`` that does not resolve or that no interface holds,
    and ``serve`` then stopped at start."""
    result = digest("check", *folders, cwd=tmp_path, env={"DIGEST_SERVER_HOST": host})
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 2 and error.startswith(f"error: server.host: {says}"), result.stderr
    assert "127.0.0.1" in error and "Traceback" not in result.stderr


def _unprivileged_port_start() -> int:
    path = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    return int(path.read_text()) if path.exists() else 1024


@pytest.mark.skipif(_unprivileged_port_start() <= 80, reason="this kernel lets anyone bind port 80")
@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="root needs setpriv to drop it")
def test_serve_says_a_low_port_needs_privileges(tmp_path: Path, folders: list[str]) -> None:
    """Port 80 refused (no CAP_NET_BIND_SERVICE): the fix is another port, not stopping a program."""
    bounding = ["--inh-caps=-net_bind_service", "--bounding-set=-net_bind_service"]
    drop = ["setpriv", *bounding, "--"] if os.geteuid() == 0 else []
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    argv = [*drop, sys.executable, "-m", "digest.cli", "serve", *folders, "--port", "80"]
    result = subprocess.run(argv, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60)
    assert_config_error(result, "server.port")
    assert "Permission denied" in result.stderr and "a port above 1023" in result.stderr


def test_send_digest_says_which_back_issues_it_kept_out_of_the_email(tmp_path: Path) -> None:
    """The example pages are of 2024: read today, they are back issues, on the site but in no email.
    The command says so; before, it printed "0 articles" and the reason only at --log-level info."""
    options = ["--source", EXAMPLES, "--data", tmp_path / "data", "--output", tmp_path / "out"]
    # The digest time six hours back: the next digest's window, from then to 18 hours on, holds the
    # ingest below whatever the hour.  With 00:00 and the day taken after the ingest, a midnight
    # passing in between named the day after, whose window starts after the ingest.
    since = datetime.now(UTC) - timedelta(hours=6)
    env = {"DIGEST_SCHEDULE_TIMEZONE": "UTC", "DIGEST_SCHEDULE_DIGEST_TIME": since.strftime("%H:%M")}
    assert digest("ingest", *options, cwd=tmp_path, env=env).returncode == 0
    day = (since + timedelta(days=1)).date().isoformat()
    preview = digest("send-digest", "--dry-run", "--date", day, *options, cwd=tmp_path, env=env)
    assert preview.returncode == 0, preview.stderr
    assert "0 articles" in preview.stdout
    assert "kept out of the email: 2 back issues (7 articles) dated more than 2 days before" in preview.stdout
    assert "digest.backfill_days" in preview.stdout


def test_the_shared_options_may_come_before_the_command(tmp_path: Path) -> None:
    """``digest --config /etc/digest/config.toml status``, as many tools take it; before, argparse
    answered "invalid choice: '/etc/digest/config.toml'" as if the path were a command."""
    args = build_parser().parse_args(["--config", "c", "--data", "d", "serve", "--port", "1", "--data", "e"])
    assert (args.config, args.data, args.port) == ("c", "e", 1)  # the later one wins, as after it
    (tmp_path / "pages").mkdir()
    result = digest("--source", tmp_path / "pages", "--data", tmp_path / "data", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"ok: pages from {tmp_path / 'pages'}" in result.stdout
    # Which database was checked: after a move to PostgreSQL, the line said nothing of it.
    assert f"database sqlite:///{tmp_path / 'data' / 'digest.sqlite3'}" in result.stdout
    assert f"emails to outbox {tmp_path / 'data' / 'outbox'}" in result.stdout


def test_check_warns_when_instances_sharing_postgresql_would_each_link_with_their_own_address(
    tmp_path: Path, folders: list[str], pg_schema: Callable[[], str]
) -> None:
    """Before, ``check`` said ok of a PostgreSQL database (several instances may share it,
    docs/scaling.md) with ``site.base_url`` unset: each instance then links with its own host and
    port, and every change of leader rewrites the published pages with the new leader's."""
    shared = {"DIGEST_DATABASE_URL": pg_schema(), "DIGEST_SERVER_PORT": "8099"}
    assert digest("migrate", *folders, cwd=tmp_path, env=shared).returncode == 0
    unset = digest("check", *folders, cwd=tmp_path, env=shared)
    warnings = [line for line in unset.stderr.splitlines() if line.startswith("warning: site.base_url: ")]
    assert unset.returncode == 0 and len(warnings) == 1, unset.stderr
    assert "http://127.0.0.1:8099" in warnings[0] and "the same on every instance" in warnings[0]
    public = shared | {"DIGEST_SITE_BASE_URL": "https://news.example"}
    sqlite = {"DIGEST_SERVER_PORT": "8099"}  # one instance per data folder
    for env in (public, sqlite):
        done = digest("check", *folders, cwd=tmp_path, env=env)
        assert done.returncode == 0 and "site.base_url" not in done.stderr, done.stderr
