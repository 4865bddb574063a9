"""Exactly once per address under the faults real deployments add: two senders at once, a relay that
answers 451 to some recipients and one that hangs up in the middle of a body.

The senders are real ``digest send-digest`` processes; the relay is ``tests/faulty_smtp.py``, whose
faults are seeded so a failure can be replayed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from faulty_smtp import FaultySmtp
from test_delivery import everyone, seed

from digest.config import load_config
from digest.store import WAITING, Store

ROOT = Path(__file__).resolve().parents[1]


def _write_config(tmp_path: Path, server: FaultySmtp, database_url: str) -> Path:
    (tmp_path / "pages").mkdir(exist_ok=True)
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        '[paths]\nsource = "pages"\ndata = "data"\noutput = "output"\n'
        f'[database]\nurl = "{database_url}"\n'
        "[digest]\nretry_seconds = 1\n"
        f'[smtp]\nhost = "{server.host}"\nport = {server.port}\nsecurity = "none"\n',
        encoding="utf-8",
    )
    return config_file


def _send_digest(config_file: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "digest.cli", "send-digest", "--config", str(config_file)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


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
        config_file = _write_config(tmp_path, server, database_url)
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
