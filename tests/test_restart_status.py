"""``digest status`` after ``digest serve`` restarts: what the service last did is still there.

Before, ``<data>/health.json`` was rewritten at every start with no run in it, so after an upgrade,
a reboot or systemd restarting a crashed service the status said ``last ingest: -`` (and ``last
digest`` fell back to an older run by hand) until each job ran again: just when an operator looks.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_service import ROOT, Serve

from digest.ingest.scan import RACY_NS


def _status(service: Serve) -> tuple[dict[str, Any], str]:
    """``digest status --json`` and ``digest status`` beside ``service``, as an operator runs them."""
    done = service.run("status", "--json")
    assert done.returncode == 0, done.stderr
    text = service.run("status")
    assert text.returncode == 0, text.stderr
    return json.loads(done.stdout), text.stdout


@pytest.mark.slow
def test_status_still_shows_the_last_runs_after_a_restart(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    # A file changed within RACY_NS of its reading is read again at the next rescan: aged past it,
    # the pages leave the second start nothing to ingest, so its last ingest is the first start's.
    time.sleep(RACY_NS / 1e9 + 0.2)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "health.json").write_text('{"pid": 12, "runs": {', encoding="utf-8")
    first = Serve(tmp_path, pages)  # a broken file is read as none: it starts as on a fresh folder
    try:
        before, _ = _status(first)
    finally:
        assert first.stop() == 0, first.log()
    assert before["last_ingest"]["files"] > 0 and before["last_digest"] is not None, before

    again = Serve(tmp_path, pages)  # nothing changed in the folder: no ingest and no digest to make
    try:
        after, text = _status(again)
    finally:
        assert again.stop() == 0, again.log()
    assert after["pid"] == again.process.pid and after["status"] == "ok", after  # saved since the start
    assert after["last_ingest"] == before["last_ingest"] and after["last_digest"] == before["last_digest"]
    assert "last ingest: -" not in text and "last digest: -" not in text, text
    assert "Traceback" not in first.log() + again.log()


@pytest.mark.slow
def test_a_failure_a_restart_did_not_fix_stays_until_the_job_runs_again(tmp_path: Path) -> None:
    """The file is as 0.1.0 wrote it (no ``leading``, no ``by``); its publish failed and so did its
    nightly prune.  The start-up publishes, which replaces that failure; the prune's stays, and the
    service stays degraded, until a prune ends well (here one run by hand)."""
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    (tmp_path / "data").mkdir()
    before = datetime.now(UTC) - timedelta(hours=5)
    refused = "cannot remove dry-runs/2024-01-01 (Read-only file system)"
    old = {
        "pid": 4242,
        "started": (before - timedelta(days=3)).isoformat(),
        "runs": {
            "publish": {"at": before.isoformat(), "ms": 40, "counts": {}, "error": "No space left on device"},
            "prune": {"at": before.isoformat(), "ms": 12, "counts": {}, "error": refused},
        },
        "files_waiting": 0,
        "problems": [],
    }
    (tmp_path / "data" / "health.json").write_text(json.dumps(old), encoding="utf-8")
    service = Serve(tmp_path, pages)
    try:
        health, text = _status(service)
        assert health["pid"] == service.process.pid and health["status"] == "degraded", health
        assert health["errors"] == [f"prune: {refused}"], health
        assert health["last_prune"] == {"at": before.isoformat(), "ms": 12, "error": refused}
        assert health["last_publish"]["written"] > 0 and "error" not in health["last_publish"]
        assert f"FAILED: {refused}" in text and f"errors: prune: {refused}" in text, text
        assert service.http.get("/healthz?details").json() == health

        assert service.run("prune").returncode == 0
        assert service.http.get("/healthz").json() == {"status": "ok"}
        health, text = _status(service)
        assert health["last_prune"]["by"] == "digest prune" and "\nerrors: none\n" in text, text
    finally:
        assert service.stop() == 0, service.log()
    assert "Traceback" not in service.log()
