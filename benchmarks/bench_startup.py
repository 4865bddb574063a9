"""How soon ``digest serve`` answers HTTP, and how soon it is ready, on an archive of generated pages.

    python benchmarks/bench_startup.py --articles 2000 [--database URL]

Three starts of a real ``digest serve`` process: ``first`` with no database and no output (migrate,
ingest the whole archive, full publish), ``again`` on the same folders (nothing new), and
``output_gone`` after the output folder is removed (the first publish draws everything again, as after
an upgrade).  For each: seconds from the process start to the first HTTP answer (``/healthz`` says
``starting``, the site is served) and to ``/healthz`` 200.  ``--database`` must name an empty
database.  Figures are printed as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import write_archive

WORK = Path(__file__).resolve().parent / ".work"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(home: Path, pages: Path, database: str | None) -> dict[str, float]:
    """Seconds to the first HTTP answer and to readiness of one ``digest serve``, then stop it."""
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    if database:
        env["DIGEST_DATABASE_URL"] = database
    folders = ["--source", str(pages), "--data", str(home / "data"), "--output", str(home / "out")]
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest.cli", "serve", *folders, "--port", str(port)],
        cwd=home,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    answered: float | None = None
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"digest serve exited with {process.returncode}")
                try:
                    code = http.get("/healthz").status_code
                except httpx.TransportError:
                    time.sleep(0.02)
                    continue
                answered = answered if answered is not None else time.monotonic() - began
                if code == 200:
                    return {
                        "first_answer_s": round(answered, 2),
                        "ready_s": round(time.monotonic() - began, 2),
                    }
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--database", help="PostgreSQL URL (default: SQLite in the data folder)")
    args = parser.parse_args()
    archive = WORK / f"archive-{args.articles}"
    files = write_archive(archive, args.articles)
    home = WORK / "startup"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    figures: dict[str, object] = {"articles": args.articles, "files": files}
    figures["first"] = start(home, archive, args.database)
    figures["again"] = start(home, archive, args.database)
    shutil.rmtree(home / "out")
    figures["output_gone"] = start(home, archive, args.database)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
