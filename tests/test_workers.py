"""Worker processes that cannot start: a big ingest and a full build finish in one process, and say so.

The limits are real.  A pids cgroup (what systemd's ``TasksMax=`` and docker's ``--pids-limit``
set) with a tiny ``pids.max``, the ``digest`` commands inside it, pinned to two cores so they want
two workers: ``pids.max`` 1 refuses the first fork; 3 lets both workers fork and refuses the pool's
manager thread; 4 lets that thread start and refuses the thread it starts for the pool's queue, so
the pool never answers (the stdlib prints that thread's traceback; ours must not appear).  And a
read-only /dev/shm in a private mount namespace, where a pool cannot make its semaphores.  Tests
run as root; where they cannot set a limit up they skip and say why.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest

from digest import workers
from digest.config import Config
from digest.config_checks import load_config
from digest.ingest import pipeline as ingest_module
from digest.ingest import read as read_module
from digest.ingest.pipeline import ingest
from digest.publish import build as publish_module
from digest.publish.build import publish_store
from digest.store.database import Store

PACKAGE = Path(ingest_module.__file__).parents[1]  # the digest package
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
# Enough for both thresholds: 200 pages to read, 1,500 articles to build.
COPIES = 40


def _pids_cgroup(name: str) -> Path | None:
    """A new pids cgroup (v1 hierarchy, or v2 with the pids controller on), or None."""
    for root in CGROUP_ROOTS:
        group = root / name
        try:
            group.mkdir()
        except OSError:
            continue
        if (group / "pids.max").exists():
            return group
        group.rmdir()  # a plain folder (no cgroup mounted there) or a group without the pids controller
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@pytest.fixture
def limited() -> Iterator[Callable[[int], Callable[[], None]]]:
    """``limited(n)``: a ``preexec_fn`` that moves the child into a cgroup allowing ``n`` tasks."""
    if os.geteuid() != 0 or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs root (to make a cgroup) and two cores (for the commands to want workers)")
    group = _pids_cgroup(f"digest-test-{os.getpid()}")
    if group is None:
        pytest.skip("no pids cgroup could be made here (no pids controller mounted, or not writable)")

    def enter(tasks: int) -> Callable[[], None]:
        (group / "pids.max").write_text(str(tasks))

        def move_in() -> None:  # runs in the child between fork and exec
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0)), max(os.sched_getaffinity(0))})
            (group / "cgroup.procs").write_text(str(os.getpid()))

        return move_in

    try:
        yield enter
    finally:
        # Whatever a failed run left inside (a hung command, orphaned workers) goes first.
        for pid in _read(group / "cgroup.procs").split():
            os.kill(int(pid), signal.SIGKILL)
        (group / "pids.max").write_text("max")
        for _ in range(100):
            try:
                group.rmdir()
                break
            except OSError:
                os.sched_yield()


def _folders(root: Path) -> Config:
    """A configuration like the one the commands make from ``--source/--data/--output`` under ``root``."""
    (root / "pages").mkdir(parents=True, exist_ok=True)
    overrides: dict[str, object] = {
        "paths.source": root / "pages",
        "paths.data": root / "data",
        "paths.output": root / "out",
    }
    return load_config(None, overrides, {})


def _archive(root: Path, seeds: Path) -> Config:
    """Enough pages for both thresholds (200 pages to read, 1,500 articles to build), and their folders."""
    config = _folders(root)
    pages = sorted(seeds.glob("*.txt"))
    for index in range(COPIES * len(pages)):
        day, page = divmod(index, len(pages))
        name = f"2023-{1 + day // 28:02d}-{1 + day % 28:02d}_{page + 1:02d}.txt"
        shutil.copy(pages[page], config.paths.source / name)
    return config


def _run_both(
    config: Config, wrap: Sequence[str] = (), preexec: Callable[[], None] | None = None
) -> list[str]:
    """``digest ingest`` then ``digest publish --full`` (each behind ``wrap``); each one's stderr."""
    folders = ["--source", config.paths.source, "--data", config.paths.data, "--output", config.paths.output]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ["DIGEST_BUILD_WORKERS"] = "2"  # a pool whatever else keeps the machine running the tests busy
    said = []
    for command in (["ingest"], ["publish", "--full"]):
        done = subprocess.run(
            [*wrap, sys.executable, "-m", "digest.cli", *command, *map(str, folders)],
            cwd=config.paths.source,
            env=environ,
            preexec_fn=preexec,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert f'File "{PACKAGE}' not in done.stderr  # no traceback through our code
        said.append(done.stderr)
    return said


def _assert_as_one_process_would(config: Config, tmp_path: Path, now: datetime) -> None:
    """The same archive, read and built here in one process, is what the commands made."""
    pages_for_workers, articles_for_workers = read_module.POOL_MIN_FILES, publish_module.POOL_MIN_ARTICLES
    expected = _folders(tmp_path / "expected")
    with (
        Store.open(expected.database_url) as inline,
        Store.open(config.database_url) as made,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(read_module, "POOL_MIN_FILES", sys.maxsize)
        patch.setattr(publish_module, "POOL_MIN_ARTICLES", sys.maxsize)
        report = ingest(expected, inline, now, [config.paths.source])
        assert report.read >= pages_for_workers and report.new >= articles_for_workers  # workers were wanted
        assert {e.uid for e in made.entries()} == {e.uid for e in inline.entries()}
        publish_store(inline, expected, expected.paths.output, full=True)
    assert _files(config.paths.output) == _files(expected.paths.output)


def _files(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize(
    ("tasks", "refusal"),
    [(1, "Resource temporarily unavailable"), (3, "can't start new thread"), (4, "did not answer")],
    ids=["fork-refused", "manager-thread-refused", "queue-thread-refused"],
)
def test_commands_that_cannot_start_workers_do_the_work_themselves(
    limited: Callable[[int], Callable[[], None]],
    now: datetime,
    seeds: Path,
    tmp_path: Path,
    tasks: int,
    refusal: str,
) -> None:
    config = _archive(tmp_path / "limited", seeds)
    for stderr in _run_both(config, preexec=limited(tasks)):
        warning = next(line for line in stderr.splitlines() if "cannot use worker processes" in line)
        assert refusal in warning and "TasksMax=" in warning
        if tasks < 4:
            assert "Traceback" not in stderr
    _assert_as_one_process_would(config, tmp_path, now)


def test_commands_without_shared_memory_for_a_pool_do_the_work_themselves(
    now: datetime, seeds: Path, tmp_path: Path
) -> None:
    """A pool's queues need POSIX semaphores, which live in /dev/shm: here a read-only one."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs root and unshare (util-linux), to mount over /dev/shm privately, and two cores")
    config = _archive(tmp_path / "no-shm", seeds)
    # A private mount namespace: the read-only /dev/shm exists for the command alone.
    mount = 'mount -t tmpfs -o ro,size=4k tmpfs /dev/shm && exec "$@"'
    for stderr in _run_both(config, wrap=["unshare", "--mount", "sh", "-c", mount, "sh"]):
        assert "cannot use worker processes ([Errno 30] Read-only file system" in stderr
        assert "Traceback" not in stderr
    _assert_as_one_process_would(config, tmp_path, now)


FREE_CORES = "from digest import workers; print(workers.free_cores(0.3), workers.useful_workers())"


def test_a_core_kept_busy_by_another_process_is_not_free_and_no_pool_is_started() -> None:
    if shutil.which("taskset") is None:
        pytest.skip("needs taskset (util-linux)")
    spin = [sys.executable, "-c", "while True: pass"]
    hog = subprocess.Popen(["taskset", "-c", "0", *spin])
    try:
        looked = subprocess.run(
            ["taskset", "-c", "0", sys.executable, "-c", FREE_CORES],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        hog.kill()
        hog.wait()
    free, useful = looked.stdout.split()
    assert float(free) < 0.5 and useful == "0"  # the only core it may use is busy


def test_the_pool_is_as_big_as_the_free_cores_or_as_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "cpu_count", lambda: 4)
    for free, useful in ((0.0, 0), (1.8, 2), (1.7, 0), (3.9, 4)):
        monkeypatch.setattr(workers, "free_cores", lambda free=free: free)
        assert workers.useful_workers() == useful, free
    assert workers.useful_workers(asked=1) == 0  # build.workers = 1: never a pool
    assert workers.useful_workers(asked=3) == 3  # whatever the load
    assert 0.0 <= workers.free_cores(0.01) <= len(os.sched_getaffinity(0))


# Runs the commands in one interpreter, then names the pool's modules it loaded.
POOL_MODULES = """
import sys
from digest.cli import main

folders = sys.argv[1:]
assert main(["ingest", *folders]) == 0
assert main(["publish", "--full", *folders]) == 0
assert "digest.workers" in sys.modules  # the decision was made: no pool paid for these few pages
pool = ("multiprocessing", "concurrent.futures.process", "digest.workerpool")
print(sorted(name for name in sys.modules if name.startswith(pool)))
"""


def test_a_command_that_starts_no_pool_never_imports_the_pool(tmp_path: Path, seeds: Path) -> None:
    config = _folders(tmp_path)
    for page in sorted(seeds.glob("*.txt"))[:2]:
        shutil.copy(page, config.paths.source / f"2023-01-02_{page.stem[-2:]}.txt")
    folders = ["--source", config.paths.source, "--data", config.paths.data, "--output", config.paths.output]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ["DIGEST_BUILD_WORKERS"] = "2"  # a pool whenever one is wanted: too few pages want none
    done = subprocess.run(
        [sys.executable, "-c", POOL_MODULES, *map(str, folders)],
        cwd=config.paths.source,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"  # after what the commands say
