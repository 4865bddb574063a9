"""Exactly once per address under the faults real deployments add: two senders at once, a relay that
answers 451 to some recipients and one that hangs up in the middle of a body.

The senders are real ``digest send-digest`` processes; the relay is ``tests/faulty_smtp.py``, whose
faults are seeded so a failure can be replayed.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import digest_time_long_past
from faulty_smtp import FaultySmtp
from loopback import free_port
from smtp_sink import SmtpSink
from test_delivery import NOW, _send_digest, everyone, made, make_config, seed

from digest.config import Config
from digest.config_checks import load_config
from digest.errors import StoreError
from digest.mail.transports import SMTP_TIMEOUT, OutboxMailer, SmtpMailer, make_mailer
from digest.publish.digests import digest_window
from digest.service import jobs
from digest.service.health import CLI_RUNS_NAME
from digest.service.jobs import retry_deliveries, run_digest
from digest.store.database import Store
from digest.store.records import WAITING, DigestRecord

ROOT = Path(__file__).resolve().parents[1]
# Runs ``python`` with the default actions of SIGHUP and SIGINT whatever this process was given: the
# runs below are what a terminal's hang-up or Ctrl-C stops, but under ``nohup`` (or a runner that
# ignores SIGHUP) the children inherited SIGHUP ignored, which send-digest and serve keep, and a shell
# without job control starts ``pytest &`` with SIGINT ignored, for which Python installs no
# KeyboardInterrupt: the SIGHUP cases failed every time, and a Ctrl-C sent to ``publish`` did nothing.
STOPS_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_DFL); "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def _write_config(tmp_path: Path, host: str, port: int, database_url: str = "") -> Path:
    """A config file for the ``digest`` commands: SMTP at ``host:port``, retries after 1 s, the digest
    due long before the real clock they run on (``digest_time_long_past``)."""
    (tmp_path / "pages").mkdir(exist_ok=True)
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        '[paths]\nsource = "pages"\ndata = "data"\noutput = "output"\n'
        f'[database]\nurl = "{database_url}"\n'
        f'[schedule]\ndigest_time = "{digest_time_long_past()}"\n'
        "[digest]\nretry_seconds = 1\n"
        f'[smtp]\nhost = "{host}"\nport = {port}\nsecurity = "none"\n',
        encoding="utf-8",
    )
    return config_file


def _rerun_until_nothing_waits(config_file: Path, day: date, log: Path) -> int:
    """Run ``send-digest`` whenever a row is due, until none waits; the number of runs."""
    config = load_config(config_file, {}, {})
    for runs in range(60):
        with Store.open(config.database_url) as store:
            waiting = [row for row in store.deliveries(day) if row.status in WAITING]
        if not waiting:
            return runs
        due = min(row.next_attempt_at or datetime.now(UTC) for row in waiting)
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.1)
        assert _send_digest(config_file, log).wait(timeout=300) in (0, 1), log.read_text()
    raise AssertionError(f"rows still waiting after 60 runs:\n{log.read_text()}")


@pytest.mark.slow
def test_two_senders_with_451s_and_mid_body_drops_deliver_exactly_one_copy_each(
    tmp_path: Path, database_url: str
) -> None:
    log = tmp_path / "send-digest.log"
    with FaultySmtp(seed=19, rcpt_busy=0.06, drop_body=0.05) as server:
        config_file = _write_config(tmp_path, server.host, server.port, database_url)
        config = load_config(config_file, {}, {})
        with Store.open(config.database_url) as store:
            day = seed(store, config, datetime.now(UTC), 300)
        together = [_send_digest(config_file, log) for _ in range(2)]
        for process in together:
            assert process.wait(timeout=300) in (0, 1), log.read_text()
        _rerun_until_nothing_waits(config_file, day, log)

        assert server.copies() == everyone(300), log.read_text()
        with Store.open(config.database_url) as store:
            statuses = Counter(row.status for row in store.deliveries(day))
            assert store.send_leases() == []  # every run let go of its lease
    assert statuses == {"sent": 300}
    # The faults did strike (else the test proves nothing), and nothing crashed.
    assert server.busy_answers >= 5 and server.drops >= 5, (server.busy_answers, server.drops)
    text = log.read_text()
    assert "Traceback" not in text and "UNIQUE" not in text, text


def _config_for(tmp_path: Path, server: FaultySmtp) -> Config:
    return make_config(
        tmp_path, None, **{"smtp.host": server.host, "smtp.port": server.port, "smtp.security": "none"}
    )


def _status(config: Config) -> str:
    """``digest status`` as the operator runs it."""
    folders = ["--source", str(config.paths.source), "--data", str(config.paths.data)]
    done = subprocess.run(
        [sys.executable, "-m", "digest.cli", "status", *folders, "--output", str(config.paths.output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_relay_that_resets_mid_body_is_retried_not_unknown(tmp_path: Path) -> None:
    with FaultySmtp(seed=1, drop_body=1.0) as server:
        config = _config_for(tmp_path, server)
        with Store.open(config.database_url) as store:
            day = seed(store, config, NOW, 3)
            with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
                dropped = run_digest(config, store, mailer, NOW)
                server.drop_body = 0.0
                later = retry_deliveries(config, store, mailer, NOW + timedelta(hours=1))
            rows = store.deliveries(day)
    # Found either before the "." (the hang-up is seen) or after it (a reset, not an orderly close).
    assert (dropped.delivery.failed, dropped.delivery.unknown, dropped.sent) == (3, 0, 0)
    assert [r.sent for r in later] == [3]
    assert server.copies() == everyone(3) and {r.status for r in rows} == {"sent"}
    assert server.drops >= 1


@pytest.mark.slow
def test_a_relay_slow_to_answer_the_final_dot_gets_the_digest_once(tmp_path: Path) -> None:
    """A relay scanning each message (a before-queue filter) answers the final "." after more than the
    30 s every other step may take, and drops a message whose client hung up meanwhile.  Before, the
    mailer of ``digest serve`` and ``send-digest`` gave up there: the copy was ``unknown``, so never
    sent again, and the relay dropped it, where a sign-up's confirmation, smaller, waited a minute."""
    with FaultySmtp(seed=4, dot_pause=SMTP_TIMEOUT + 1) as server:
        config = _config_for(tmp_path, server)
        with Store.open(config.database_url) as store:
            day = seed(store, config, NOW, 1)
            mailer = make_mailer(config, config.paths.data)  # as serve and send-digest make it
            try:
                result = run_digest(config, store, mailer, NOW)
            finally:
                mailer.close()
            rows = store.deliveries(day)
    assert (result.sent, result.delivery.unknown, server.gone) == (1, 0, 0)
    assert server.copies() == everyone(1) and [r.status for r in rows] == ["sent"]


def test_one_sender_per_digest_a_live_lease_blocks_a_dead_or_lapsed_one_does_not(tmp_path: Path) -> None:
    with FaultySmtp(seed=2) as server:
        config = _config_for(tmp_path, server)
        with Store.open(config.database_url) as store:
            day = seed(store, config, NOW, 3)
            made(store, config, day)
            now = datetime.now(UTC)
            with closing(SmtpMailer(config.smtp, timeout=5)) as mailer:
                # A run on another machine holds the lease: nothing is sent, and both say who.
                assert store.take_send_lease(day, "elsewhere:42:ab", now, now + timedelta(minutes=2)) is None
                busy = run_digest(config, store, mailer, NOW)
                status = _status(config)
                # A holder on this machine whose process is gone is taken over at once.
                dead = subprocess.Popen(["true"])
                dead.wait()
                store.release_send_lease(day, "elsewhere:42:ab")
                here = f"{socket.gethostname()}:{dead.pid}:cd"
                assert store.take_send_lease(day, here, now, now + timedelta(hours=1)) is None
                after_death = run_digest(config, store, mailer, NOW)
                # A lapsed lease is taken (and let go at the end of the run).
                assert store.take_send_lease(day, "elsewhere:43:ef", now, now) is None
                lapsed = run_digest(config, store, mailer, NOW)
                leases = store.send_leases()
    assert busy.sent == 0 and busy.delivery.busy is not None and "pid 42 on elsewhere" in busy.delivery.busy
    assert f"sending the digest of {day}: pid 42 on elsewhere, lease until" in status
    assert after_death.sent == 3 and after_death.delivery.busy is None
    assert lapsed.delivery.busy is None and leases == []
    assert server.copies() == everyone(3)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["send-digest", "serve"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda sig: sig.name)
def test_sigterm_stops_a_send_between_two_emails(tmp_path: Path, command: str, sig: signal.Signals) -> None:
    """``send-digest``, and ``serve`` catching up a missed digest at start-up (before: SIGTERM waited
    for the whole run); SIGHUP (a closed terminal, a log rotation's ``kill -HUP``) and SIGINT (Ctrl-C)
    alike (before: SIGHUP killed either where it stood, no line in the log, and SIGINT stopped
    ``send-digest`` with a traceback, whatever email was under way).  ``send-digest`` stopped so is
    noted as a failed run, and exits as a shell reports a command the signal ended (before: noted as
    a run that ended well, exit 0, and ``digest status`` said nothing of the emails left)."""
    log = tmp_path / f"{command}.log"
    with SmtpSink(delay=0.05) as sink:
        config_file = _write_config(tmp_path, sink.host, sink.port)
        config = load_config(config_file, {}, {})
        with Store.open(config.database_url) as store:
            day = seed(store, config, datetime.now(UTC), 200)
        argv = [sys.executable, "-c", STOPS_DEFAULT, "-m", "digest.cli", command]
        argv += ["--config", str(config_file)]
        argv += ["--port", str(free_port())] if command == "serve" else []
        with log.open("ab") as output:
            process = subprocess.Popen(argv, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while sink.count < 10:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        process.send_signal(sig)
        asked = time.monotonic()
        assert process.wait(timeout=60) == (128 + sig if command == "send-digest" else 0), log.read_text()
        stopped_in = time.monotonic() - asked
        with Store.open(config.database_url) as store:
            statuses = Counter(row.status for row in store.deliveries(day))
            leases = store.send_leases()
        taken = sink.count
    assert stopped_in < 5, stopped_in  # one email's time (50 ms here), not the 200's 10 s
    assert statuses["sent"] == taken < 200 and statuses["pending"] == 200 - taken, statuses
    assert leases == []
    if command == "send-digest":
        assert f"stopped by {sig.name} between two emails" in log.read_text()
        noted = json.loads((config.paths.data / CLI_RUNS_NAME).read_text(encoding="utf-8"))["digest"]
        assert noted["error"].endswith(" between two emails; the rest wait for the next run"), noted
        assert noted["by"] == "digest send-digest" and noted["counts"] == {}
    else:
        assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda sig: sig.name)
def test_a_signal_stops_a_dry_run_between_two_emails_and_its_status_says_so(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """``send-digest --dry-run`` heard the stop and went on writing every email, then exited 0, as if
    the preview had ended; it now stops between two emails, as a send does, and exits 128 + N."""
    config_file = _write_config(tmp_path, "127.0.0.1", free_port())  # a dry run mails nobody
    config = load_config(config_file, {}, {})
    with Store.open(config.database_url) as store:
        day = seed(store, config, datetime.now(UTC), 300)
    folder = config.paths.data / "dry-run" / day.isoformat()
    log = tmp_path / "dry-run.log"
    argv = [sys.executable, "-c", STOPS_DEFAULT, "-m", "digest.cli", "send-digest", "--dry-run"]
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*argv, "--config", str(config_file)], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while not folder.is_dir() or len(list(folder.iterdir())) < 3:
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.002)
    process.send_signal(sig)
    assert process.wait(timeout=60) == 128 + sig, log.read_text()
    written = len(list(folder.glob("*.eml")))
    assert 3 <= written < 300
    assert f"dry run: {written} emails written to {folder}" in log.read_text()
    assert f"stopped by {sig.name}; no more emails written" in log.read_text()


def test_a_signal_while_the_test_copy_goes_lets_it_go_and_exits_as_stopped(tmp_path: Path) -> None:
    """SIGTERM while the server takes ``send-digest --to``'s copy: the copy goes (a stop never cuts an
    email in the middle), and the command says so and exits 143, as a stopped send; before, exit 0."""
    log = tmp_path / "test-copy.log"
    with SmtpSink(delay=1.0) as sink:
        config_file = _write_config(tmp_path, sink.host, sink.port)
        config = load_config(config_file, {}, {})
        with Store.open(config.database_url) as store:
            seed(store, config, datetime.now(UTC), 1)
        argv = [sys.executable, "-m", "digest.cli", "send-digest", "--to", "editor@example.org"]
        with log.open("ab") as output:
            process = subprocess.Popen(
                [*argv, "--config", str(config_file)], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while sink.count < 1:  # the server holds the copy, its 250 a second away
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.002)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM, log.read_text()
    assert "sent to editor@example.org, outside the delivery ledger" in log.read_text()
    assert "stopped by SIGTERM; after the test copy went" in log.read_text()


def test_two_runs_making_one_digest_at_once_both_succeed_and_one_says_the_other_made_it(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, None, **{"database.url": database_url})
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 2)
        since, until = digest_window(day, config.digest_clock, config.tz, None)
        record = DigestRecord(day, since, until, NOW, 3)
        everybody = ["reader000@example.org", "reader001@example.org"]
        # Eight saves of the same day at once, each on its own connection: one wins, none fails
        # (before: "UNIQUE constraint failed ... check that the server is running").
        start = threading.Barrier(8)
        results: list[object] = []

        def save() -> None:
            start.wait()
            try:
                results.append(store.save_digest(record, everybody))
            except StoreError as exc:
                results.append(exc)

        threads = [threading.Thread(target=save) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(results, key=str) == [False] * 7 + [True], results
        assert len(store.deliveries(day)) == 2

        # A run that looked before the other saved, and saved after: it says so and sends what is due.
        looked_too_early = jobs._digest_for

        def looked_before_it_was_saved(*args: object) -> tuple[object, bool, tuple[int, int]]:
            digest, _, back = looked_too_early(*args)
            return digest, True, back

        monkeypatch.setattr(jobs, "_digest_for", looked_before_it_was_saved)
        result = run_digest(config, store, OutboxMailer(tmp_path / "outbox"), NOW)
    assert result.made_elsewhere and not result.made and result.sent == 2


def test_status_explains_unknown_rows_without_inviting_a_second_copy(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Store.open(config.database_url) as store:
        day = seed(store, config, NOW, 1)
        made(store, config, day)
        assert store.claim_delivery(day, "reader000@example.org", "h:1:dead")
        assert store.commit_delivery(day, "reader000@example.org", "h:1:dead")  # then a crash
        assert store.recover_deliveries(day, "h:2:next", "crashed after the final dot") == (0, 1)
    status = _status(config)
    assert "deliveries: 1 unknown" in status
    assert "look the address up in the mail server's log before sending a copy by hand" in status


def test_a_re_run_by_hand_sends_at_once_what_waits_for_a_retry(tmp_path: Path) -> None:
    log = tmp_path / "send-digest.log"
    with FaultySmtp(seed=3, drop_body=1.0) as server:
        config_file = _write_config(tmp_path, server.host, server.port)
        # Retries an hour apart: the service's own retry would not come during this test.
        config_file.write_text(config_file.read_text().replace("retry_seconds = 1", "retry_seconds = 3600"))
        config = load_config(config_file, {}, {})
        with Store.open(config.database_url) as store:
            day = seed(store, config, datetime.now(UTC), 3)
        assert _send_digest(config_file, log).wait(timeout=120) == 1, log.read_text()
        assert "0 sent, 3 waiting for a retry" in log.read_text()
        # The operator fixes the relay and runs the command again: it sends now, and says so.
        server.drop_body = 0.0
        assert _send_digest(config_file, log).wait(timeout=120) == 0, log.read_text()
        assert "3 sent, 0 waiting for a retry" in log.read_text()
        with Store.open(config.database_url) as store:
            assert {row.status for row in store.deliveries(day)} == {"sent"}
    assert server.copies() == everyone(3)
