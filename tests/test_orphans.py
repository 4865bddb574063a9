"""Children never outlive their parent: a publish killed with SIGKILL (as the out-of-memory killer
would) while its render workers run leaves no process behind, and the next publish is not blocked.

Before the fix, forked workers lived on under PID 1 holding the output folder's flock, and the next
``digest publish`` waited in ``flock`` for ever.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from loopback import free_port
from test_service import Serve

from digest.errors import PublishError
from digest.publish import staging

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from corpus import write_archive  # noqa: E402

ARTICLES = 6000  # a full build of this many takes a few seconds on two cores, with workers


def _descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (children, their children...)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = {int(c) for c in task.read_text().split()}
            except OSError:
                continue
            todo.extend(children - found)
            found |= children
    return found


def _strays(folder: Path, spare: int | None = None) -> list[int]:
    """Running processes working in ``folder`` (their cwd), but for ``spare`` and its descendants:
    an orphan is found even if it was forked after the last look at the killed process's children."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == folder and _running(int(entry.name)):
            found.append(int(entry.name))
    kept = set() if spare is None else {spare} | _descendants(spare)
    return sorted(set(found) - kept)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped (a container's PID 1 may never reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _digest(config_file: Path, *args: str, crash_at: str | None = None) -> subprocess.Popen[bytes]:
    """A ``digest`` command on ``config_file``, its output appended to ``digest.log`` beside it;
    ``crash_at`` sets ``DIGEST_CRASH_AT``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ["DIGEST_BUILD_WORKERS"] = "2"  # a pool whatever else keeps the machine running the tests busy
    if crash_at:
        environ["DIGEST_CRASH_AT"] = crash_at
    with (config_file.parent / "digest.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "digest.cli", *args, "--config", str(config_file)],
            cwd=config_file.parent,  # where _strays looks
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_sigkill_of_a_full_publish_leaves_no_worker_and_the_next_publish_finishes(tmp_path: Path) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: no worker processes to orphan")
    write_archive(tmp_path / "pages", ARTICLES)
    config_file = tmp_path / "config.toml"
    config_file.write_text('[paths]\nsource = "pages"\ndata = "data"\noutput = "output"\n', encoding="utf-8")
    log = tmp_path / "digest.log"
    ingest = _digest(config_file, "ingest")
    assert ingest.wait(timeout=600) == 0, log.read_text()

    killed = _digest(config_file, "publish", "--full")
    deadline = time.monotonic() + 60
    family: set[int] = set()
    while time.monotonic() < deadline and len(family) < 2:  # wait for the render workers
        assert killed.poll() is None, log.read_text()
        family |= _descendants(killed.pid)
        time.sleep(0.05)
    assert len(family) >= 2, "the full build never started worker processes"
    time.sleep(0.5)  # workers staging pages, the build far from done
    family |= _descendants(killed.pid)
    assert killed.poll() is None, "the build finished before it could be killed; make ARTICLES bigger"
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.wait(timeout=10) == -signal.SIGKILL

    started = time.monotonic()
    following = _digest(config_file, "publish")
    try:
        following.wait(timeout=60)
    except subprocess.TimeoutExpired:
        following.kill()
        following.wait()
        raise AssertionError(f"the next publish did not finish within 60 s:\n{log.read_text()}") from None
    assert following.returncode == 0, log.read_text()
    assert time.monotonic() - started < 60
    time.sleep(0.5)  # SIGKILL on a parent's death is prompt, but give the kernel its moment
    left = sorted(pid for pid in family if _running(pid))
    assert not left, f"processes of the killed run still running: {left}"
    assert _strays(tmp_path) == []
    assert not list((tmp_path / "output").rglob("*.tmp"))


def test_a_publish_waits_for_the_folder_lock_only_so_long_then_says_why(tmp_path: Path) -> None:
    folder = tmp_path / "output"
    folder.mkdir()
    holder = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    waiter = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(PublishError, match=r"another publish has held the output folder .* fuser"):
            staging._wait_for_lock(waiter, folder, seconds=0.3)
        fcntl.flock(holder, fcntl.LOCK_UN)
        staging._wait_for_lock(waiter, folder, seconds=0.3)  # free: taken at once
    finally:
        os.close(holder)
        os.close(waiter)


@pytest.mark.slow
def test_sigkill_of_serve_during_its_start_up_ingest_leaves_nothing_holding_serve_lock(
    tmp_path: Path,
) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: no worker processes to orphan")
    pages = tmp_path / "pages"
    write_archive(pages, ARTICLES)
    folders = ["--source", str(pages), "--data", str(tmp_path / "data"), "--output", str(tmp_path / "out")]
    command = [sys.executable, "-m", "digest.cli", "serve", *folders, "--port", str(free_port())]
    log = tmp_path / "first.log"
    with log.open("ab") as output:  # the same folders as ``Serve`` below, killed before it serves
        environ = {**os.environ, "DIGEST_BUILD_WORKERS": "2"}  # a pool however busy the machine is
        killed = subprocess.Popen(command, cwd=tmp_path, stdout=output, stderr=output, env=environ)
    family: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(family) < 2:  # the start-up ingest's parse workers
        assert killed.poll() is None, log.read_text()
        family |= _descendants(killed.pid)
        time.sleep(0.05)
    assert len(family) >= 2, f"the start-up ingest never started worker processes:\n{log.read_text()}"
    family |= _descendants(killed.pid)
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.wait(timeout=10) == -signal.SIGKILL

    restarted = Serve(tmp_path, pages)  # waits for /healthz: it did not exit 2 on a held serve.lock
    try:
        time.sleep(0.5)  # SIGKILL on a parent's death is prompt, but give the kernel its moment
        left = sorted(pid for pid in family if _running(pid))
        assert not left, f"processes of the killed serve still running: {left}"
        assert _strays(tmp_path, spare=restarted.process.pid) == []
    finally:
        assert restarted.stop() == 0, restarted.log()


FORK_SERVER_USER = """
import sys, threading, time
from digest import workerpool

threading.Thread(target=threading.Event().wait, daemon=True).start()  # a second thread: a fork server
context = workerpool.start_method(["digest.publish.build"])
assert context.get_start_method() == "forkserver"
child = context.Process(target=time.sleep, args=(600,))
child.start()
print(child.pid, flush=True)
time.sleep(600)
"""


def test_a_fork_server_and_its_children_end_with_the_process_they_work_for(tmp_path: Path) -> None:
    """The fork server's child holds the server's "parent alive" pipe, so without ``digest.forkguard``
    both waited for good under PID 1 after a SIGKILL of the process they worked for."""
    user = subprocess.Popen(
        [sys.executable, "-c", FORK_SERVER_USER], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    assert user.stdout is not None
    child = int(user.stdout.readline())
    family = _descendants(user.pid)
    assert child in family and len(family) >= 3  # the fork server, its child, the resource tracker
    os.kill(user.pid, signal.SIGKILL)
    assert user.wait(timeout=10) == -signal.SIGKILL
    user.stdout.close()
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in family if _running(pid)] == []
    assert _strays(tmp_path) == []
