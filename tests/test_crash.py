"""Crash anywhere: kill ``digest serve`` or a CLI command with SIGKILL at every crash point, restart,
and check that nothing was lost, duplicated or left half written.

Each case starts from the same state (yesterday's pages stored and published, four confirmed
subscribers, today's pages waiting in the source folder, a digest due), runs the real command as a
process with ``DIGEST_CRASH_AT=<point>:<hit>`` (``digest.faults``), checks it died by SIGKILL at that
point and that every feed on disk is whole, then restarts the service without the fault (the same
start-up the service runs: rescan, publish, catch up the digest; in-process, to keep the suite fast)
and checks: every article stored and in the feed history exactly once, every Atom document valid,
the same files as an uninterrupted run, the digest made once and each subscriber's copy sent at most
once, no temporary file left.  A second start-up changes nothing.

Cases run in an order (and at hit counts) drawn from ``DIGEST_CRASH_SEED`` (default fixed, so CI is
reproducible; set it to explore others).
"""

from __future__ import annotations

import ast
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from atomcheck import ATOM, check_atom
from badfiles import CORPUS
from conftest import digest_time_long_past
from loopback import free_port
from smtp_sink import SmtpSink

from digest import faults
from digest.config import Config
from digest.config_checks import load_config
from digest.ingest.pipeline import ingest
from digest.mail.transports import make_mailer
from digest.publish.build import publish_store
from digest.publish.digests import digest_window
from digest.service.jobs import due_day
from digest.service.metrics import Metrics
from digest.service.runner import Runner
from digest.store.database import Store
from digest.store.records import Subscriber

ROOT = Path(__file__).resolve().parents[1]
SETTLE_SECONDS = 0.5  # ingest.settle_seconds of every copy: pages written in place settle fast
SEED = int(os.environ.get("DIGEST_CRASH_SEED", "20241127"))
SUBSCRIBERS = tuple(f"reader{n}@example.org" for n in range(4))
OLD_PAGES = 2  # ingested and published before the crash: the digest's articles
NEW_PAGES = 4  # waiting in the source folder: ingest and publish work on them
# Files the publisher keeps in the output folder: its marker; nothing else hidden may stay.
KEPT_HIDDEN = {".digest-publish"}

# Every crash point: the command that reaches it from the starting state, and how many passes
# through it that run is sure to make (the case's hit is drawn from 1..that).
PLAN: dict[str, tuple[tuple[str, ...], int]] = {
    "ingest.after_read": (("ingest",), OLD_PAGES + NEW_PAGES),
    "ingest.before_upsert": (("serve",), 1),
    "ingest.after_upsert": (("ingest",), 1),
    "ingest.after_record_sources": (("serve",), 1),
    "publish.full_after_reset": (("publish", "--full"), 1),
    "staging.after_put": (("serve",), 8),
    "publish.after_stage": (("serve",), 2),
    "staging.after_rename": (("serve",), 8),
    "staging.before_removals": (("serve",), 2),
    "publish.before_marker": (("publish", "--full"), 1),
    "publish.before_state": (("publish", "--full"), 1),
    "publish.before_mark_published": (("serve",), 2),
    "digest.before_save": (("send-digest",), 1),
    "digest.after_save": (("serve",), 1),
    "digest.after_publish": (("send-digest",), 1),
    "delivery.after_recover": (("serve",), 1),
    "delivery.after_claim": (("send-digest",), len(SUBSCRIBERS)),
    "delivery.after_accept": (("serve",), len(SUBSCRIBERS)),
    "delivery.after_mark": (("send-digest",), len(SUBSCRIBERS)),
    "service.job_start": (("serve",), 2),
    "service.after_ingest": (("serve",), 1),
    "service.before_save_state": (("serve",), 2),
    "service.after_take_over": (("serve",), 1),
}
# Where the one-write window of the delivery ledger lies (digest.mail.delivery): a copy claimed but not
# yet confirmed is never sent again; it is marked "unknown" and listed by ``digest status``.
UNCERTAIN = {"delivery.after_claim", "delivery.after_accept"}


def _cases() -> list[tuple[str, int]]:
    rng = random.Random(SEED)
    points = sorted(PLAN)
    rng.shuffle(points)
    return [(point, rng.randint(1, PLAN[point][1])) for point in points]


CASES = _cases()


def page(day: str, number: int) -> str:
    """An invented page: two sections, three articles each; headlines unique per page and day."""
    parts = []
    for section in ("要闻", "经济"):
        parts.append(f"● {section}\n")
        for k in range(1, 4):
            title = f"{section}{day}第{number}版第{k}条"
            parts.append(f"# {title}\n\n本报讯 这是虚构的第{k}条新闻，用来检查崩溃后的恢复。第二句话。\n")
    return "\n".join(parts)


@dataclass(frozen=True)
class Start:
    """The starting state every case copies: a folder with pages, data and output."""

    folder: Path
    digest_time: str
    day: str


def _write_config(folder: Path, digest_time: str, sink: SmtpSink | None, port: int = 8080) -> Path:
    smtp = f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n' if sink else ""
    path = folder / "config.toml"
    path.write_text(
        '[paths]\nsource = "pages"\ndata = "data"\noutput = "output"\n'
        f"[feeds]\nsize = 5\n[ingest]\nsettle_seconds = {SETTLE_SECONDS}\n"
        f'[schedule]\ndigest_time = "{digest_time}"\nscan_interval = 3600\n'
        f"[server]\nport = {port}\n{smtp}",
        encoding="utf-8",
    )
    return path


def _config(folder: Path) -> Config:
    return load_config(folder / "config.toml", {}, {})


def _start_up(config: Config) -> None:
    """What ``digest serve`` does before serving: ingest, publish, make or finish the due digest."""
    with Store.open(config.database_url) as store:
        mailer = make_mailer(config, config.paths.data)
        try:
            Runner(config, store, mailer, Metrics()).take_over()
        finally:
            mailer.close()


@pytest.fixture(scope="module")
def start(tmp_path_factory: pytest.TempPathFactory) -> Start:
    folder = tmp_path_factory.mktemp("start")
    digest_time = digest_time_long_past()  # so no run crosses the digest time
    _write_config(folder, digest_time, None)
    (folder / "pages").mkdir()
    config = _config(folder)
    now = datetime.now(UTC)
    day = due_day(config, now)
    # Issues of the digest's day and the day before: within digest.backfill_days, so they are mailed.
    for number in range(1, OLD_PAGES + 1):
        name = f"{day - timedelta(days=1)}_0{number}.txt"
        (config.paths.source / name).write_text(page("26日", number), encoding="utf-8")
    _, until = digest_window(day, config.digest_clock, config.tz, None)
    with Store.open(config.database_url) as store:
        ingest(config, store, until - timedelta(hours=2))  # yesterday's pages arrived in the window
        publish_store(store, config, config.paths.output)
        for email in SUBSCRIBERS:
            store.add_subscriber(Subscriber(email, (), True, now - timedelta(days=30)))
    for number in range(1, NEW_PAGES + 1):
        (config.paths.source / f"{day}_0{number}.txt").write_text(page("27日", number), encoding="utf-8")
    return Start(folder, digest_time, day.isoformat())


def _copy(start: Start, into: Path, sink: SmtpSink | None, port: int = 8080) -> Config:
    shutil.copytree(start.folder, into, symlinks=True)
    _write_config(into, start.digest_time, sink, port)
    # The copies are new files: the start-up rescan leaves files written moments ago until they
    # settle, and a command that crashes early may take less time than that.
    time.sleep(SETTLE_SECONDS + 0.1)
    return _config(into)


@dataclass(frozen=True)
class Outcome:
    """What an uninterrupted start-up produces: the articles' ids and the output's file names."""

    tags: frozenset[str]
    files: frozenset[str]


@pytest.fixture(scope="module")
def reference(start: Start, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    with SmtpSink() as sink:
        config = _copy(start, tmp_path_factory.mktemp("reference") / "run", sink)
        _start_up(config)
        assert sorted(copies(sink).values()) == [1] * len(SUBSCRIBERS)
    with Store.open(config.database_url) as store:
        tags = frozenset(entry.tag for entry in store.entries())
    assert len(tags) == 6 * (OLD_PAGES + NEW_PAGES)
    return Outcome(tags, frozenset(_files(config.paths.output)))


def copies(sink: SmtpSink) -> Counter[str]:
    return Counter(recipient for message in sink.messages for recipient in message.recipients)


def _files(output: Path) -> list[str]:
    return sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())


def _crash(config_file: Path, command: tuple[str, ...], point: str, hit: int, log: Path) -> None:
    """Run ``digest <command>`` armed to crash; assert it died by SIGKILL at that point."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env[faults.ENV] = f"{point}:{hit}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest.cli", *command, "--config", str(config_file)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            status = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"{point}:{hit} was never reached by {command}:\n{log.read_text()}")
    text = log.read_text(errors="replace")
    assert status == -signal.SIGKILL, text
    assert f"crash point {point} (hit {hit}): SIGKILL" in text, text


def _served(output: Path) -> list[Path]:
    return [p for p in output.rglob("*") if p.is_file() and not p.name.startswith(".")]


def _check_feeds_whole(output: Path) -> None:
    """Every Atom document a reader could fetch is valid: never half a file."""
    for path in _served(output):
        if path.suffix == ".atom":
            check_atom(path.read_bytes())


def _feed_history(output: Path, name: str) -> list[str]:
    """Entry ids along a feed's subscription document and every archive page (RFC 5005)."""
    documents = [output / f"feeds/{name}.atom", *sorted((output / f"feeds/archive/{name}").glob("*.atom"))]
    return [
        entry.findtext(f"{ATOM}id", "")
        for document in documents
        for entry in check_atom(document.read_bytes()).findall(f"{ATOM}entry")
    ]


def _snapshot(output: Path) -> dict[str, bytes]:
    return {name: (output / name).read_bytes() for name in _files(output)}


@pytest.mark.slow
@pytest.mark.parametrize(("point", "hit"), CASES, ids=[f"{p}:{h}" for p, h in CASES])
def test_killed_at_a_crash_point_then_restarted_loses_and_repeats_nothing(
    start: Start, reference: Outcome, tmp_path: Path, point: str, hit: int
) -> None:
    command, _ = PLAN[point]
    with SmtpSink() as sink:
        folder = tmp_path / "run"
        port = free_port()
        config = _copy(start, folder, sink, port)
        _crash(folder / "config.toml", command, point, hit, tmp_path / "crash.log")
        _check_feeds_whole(config.paths.output)
        before_restart = copies(sink)
        assert all(n == 1 for n in before_restart.values()), before_restart

        _start_up(config)
        output = config.paths.output
        with Store.open(config.database_url) as store:
            tags = [entry.tag for entry in store.entries()]
            digests = store.digests()
            rows = {row.email: row for row in store.deliveries(digests[0].day)} if digests else {}
        sent = copies(sink)
        finished = _snapshot(output)
        _start_up(config)  # a second start-up finds nothing to do
        assert copies(sink) == sent
        assert _snapshot(output) == finished

    # Every article once, in the store and along the whole feed history.
    assert sorted(tags) == sorted(reference.tags)
    history = _feed_history(output, "all")
    assert Counter(history) == Counter(reference.tags)
    # The same files as an uninterrupted run, every Atom document valid, nothing temporary left.
    _check_feeds_whole(output)
    assert set(_files(output)) - KEPT_HIDDEN == set(reference.files) - KEPT_HIDDEN
    leftovers = [name for name in _files(output) if Path(name).name.startswith(".")]
    assert set(leftovers) <= KEPT_HIDDEN, leftovers
    # The digest made once, its page published; each copy sent at most once, none silently lost.
    assert [d.day.isoformat() for d in digests] == [start.day]
    assert f"digests/{start.day}.html" in finished
    assert set(rows) == set(SUBSCRIBERS)
    assert all(n == 1 for n in sent.values()), sent
    unknown = {email for email, row in rows.items() if row.status == "unknown"}
    assert {row.status for row in rows.values()} <= {"sent", "unknown"}
    if point in UNCERTAIN:
        # The copy in flight at the crash: never sent again, and listed for the operator.
        assert len(unknown) == 1, rows
    else:
        assert not unknown, rows
    missing = set(SUBSCRIBERS) - set(sent)
    if point == "delivery.after_claim":
        assert missing == unknown  # the server dropped the message without its final "."
    else:
        assert not missing, (missing, rows)


def test_every_crash_point_has_a_case_and_a_place_in_the_code() -> None:
    assert sorted(PLAN) == sorted(faults.POINTS)
    code = "".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "digest").rglob("*.py")))
    for point in faults.POINTS:
        assert f'crash_point("{point}")' in code, point


def test_an_unknown_crash_point_is_refused_at_start() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import digest.faults"],
        cwd=ROOT,
        env={**os.environ, faults.ENV: "publish.after_stagee"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "unknown crash point" in result.stderr


def test_the_reliability_table_names_only_tests_that_exist_and_every_fault() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "tests/" in line]
    assert len(rows) > 20
    named = re.findall(r"tests/(test_\w+)\.py::(test_\w+)", text)
    for row in rows:
        assert re.search(r"tests/test_\w+\.py::test_\w+", row), row
    for module, test in named:
        tree = ast.parse((ROOT / "tests" / f"{module}.py").read_text(encoding="utf-8"))
        defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert test in defined, f"docs/reliability.md names {module}.py::{test}, which does not exist"
    for point in faults.POINTS:
        assert f"| `{point}` |" in text, point
    for bad in CORPUS:
        assert bad.what in text, bad.what
