"""Commands an operator runs by hand, as the README shows them, and what they say.

``./run.sh --port 8081`` is the README's way to pick a port; the commands an operator then runs in
another shell read no ``--port``, so with ``site.base_url`` unset they linked to 8080: a ``publish
--full`` rewrote the site being served with links to nothing, and ``send-digest`` mailed them.
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from loopback import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]


def _command(home: Path, *args: str) -> list[str]:
    folders = {"--source": "pages", "--data": "data", "--output": "out"}
    return [sys.executable, "-m", "digest.cli", *(f"{o}={home / n}" for o, n in folders.items()), *args]


def _run(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        _command(home, *args),
        cwd=home,
        env=_environ() | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def _ports_linked(text: str) -> set[str]:
    return {part.split("/")[0] for part in text.split("http://127.0.0.1:")[1:]}


def test_commands_beside_a_serve_on_another_port_link_where_it_serves(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples" / "pages", tmp_path / "pages")
    port = free_port()
    command = _command(tmp_path, "serve", "--port", str(port))
    with subprocess.Popen(command, cwd=tmp_path, env=_environ(), stderr=subprocess.PIPE, text=True) as serve:
        try:
            wait_for(lambda: _ready(port), timeout=120, what="digest serve to start")
            _run(tmp_path, "publish", "--full")
            feed = (tmp_path / "out" / "feeds" / "all.atom").read_text(encoding="utf-8")
            assert _ports_linked(feed) == {str(port)}
            sent = _run(tmp_path, "send-digest", "--to", "operator@example.com")
            [copy] = (tmp_path / "data" / "outbox").glob("*.eml")
            assert str(copy) in sent.stdout
            with copy.open("rb") as handle:
                message = email.message_from_binary_file(handle, policy=policy.default)
            body = message.get_body(("plain",))
            assert body is not None and _ports_linked(body.get_content()) == {str(port)}
        finally:
            serve.terminate()
            _, log = serve.communicate(timeout=60)
    assert serve.returncode == 0 and "Traceback" not in log, log

    # Once it is gone, a command links by its own configuration again (here the default port).
    _run(tmp_path, "publish", "--full")
    feed = (tmp_path / "out" / "feeds" / "all.atom").read_text(encoding="utf-8")
    assert _ports_linked(feed) == {"8080"}


def test_a_preview_with_nobody_subscribed_says_why_no_email_was_written(tmp_path: Path) -> None:
    # The README's preview, run before its `subscribers add` line: "0 emails written" and an empty
    # folder, with nothing to say what was missing.
    shutil.copytree(ROOT / "examples" / "pages", tmp_path / "pages")
    _run(tmp_path, "ingest")
    # The digest whose window holds now: the README's `date -d '+17 hours'` for a 07:00 digest.
    day = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=17)).date().isoformat()
    preview = ["send-digest", "--dry-run", "--date", day]
    wide = {"DIGEST_DIGEST_BACKFILL_DAYS": "100000"}
    alone = _run(tmp_path, *preview, env=wide).stdout
    assert "dry run: 0 emails written" in alone
    assert "no confirmed subscribers, so no email: `digest subscribers add EMAIL` adds one" in alone
    _run(tmp_path, "subscribers", "add", "you@example.com")
    shown = _run(tmp_path, *preview, env=wide).stdout
    assert "dry run: 1 email written" in shown and "no confirmed subscribers" not in shown
