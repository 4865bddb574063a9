"""Crash points: named places where a fault test can kill the process, and nothing else.

``crash_point("publish.after_stage")`` does nothing unless the environment
variable ``DIGEST_CRASH_AT`` names that point when the process starts;
then the process sends itself SIGKILL there, the way a power cut or the OOM
killer would stop it: no ``finally``, no ``atexit``, no flushed buffers.
``DIGEST_CRASH_AT=staging.after_rename:3`` kills it at the third pass.
``tests/test_crash.py`` kills ``digest serve`` and the CLI at every point,
restarts them, and checks that nothing was lost, duplicated or left half
written.

Disarmed (the normal case), a crash point costs one global load and one
comparison.  A name that is not in ``POINTS`` is refused when the variable
is read, so a typo in a fault test cannot pass by never crashing.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys

ENV = "DIGEST_CRASH_AT"

# Every crash point, by stage; the docstring of each place says what is half done there.
POINTS = (
    "ingest.after_read",  # one page file read, its articles not stored
    "ingest.before_upsert",  # a batch parsed, nothing of it stored
    "ingest.after_upsert",  # articles stored, their files not yet recorded as seen
    "ingest.after_record_sources",  # a batch stored and recorded
    "publish.full_after_reset",  # a full build began: store says "nothing published", folder untouched
    "staging.after_put",  # one more file staged as a temporary file
    "publish.after_stage",  # every file staged, none renamed
    "staging.after_rename",  # some files renamed into place, others still staged
    "staging.before_removals",  # every file renamed, stale documents not yet deleted
    "publish.before_marker",  # full build in place, the folder's marker not yet written
    "publish.before_state",  # marker written, the store not yet told
    "publish.before_mark_published",  # incremental files in place, the store not yet told
    "digest.before_save",  # digest computed, nothing stored
    "digest.after_save",  # digest and its ledger rows stored, its page not published
    "digest.after_publish",  # digest page published, no email sent
    "delivery.after_recover",  # a send run began (rows left in flight marked unknown)
    "delivery.after_claim",  # row claimed, the server holds the message without its final "."
    "delivery.after_accept",  # the server accepted the email, the row not yet marked sent
    "delivery.after_mark",  # one row marked, the next not started
    "service.job_start",  # a job holds the job lock, nothing done
    "service.after_ingest",  # the service ingested, the publish not started
    "service.before_save_state",  # a job finished, health.json not yet saved
    "service.after_take_over",  # start-up catch-up done, scheduled jobs not started yet
)


def _armed(spec: str | None) -> tuple[str, int] | None:
    """``name`` or ``name:hits`` → (name, hits); None when empty."""
    if not spec:
        return None
    name, _, hits = spec.partition(":")
    if name not in POINTS:
        raise ValueError(f"{ENV}={spec!r}: unknown crash point; known: {', '.join(POINTS)}")
    count = int(hits) if hits else 1
    if count < 1:
        raise ValueError(f"{ENV}={spec!r}: the hit count must be 1 or more")
    return name, count


_ARMED = _armed(os.environ.get(ENV))
_hits = itertools.count(1)  # next() on a count is atomic under the GIL: threads share it safely


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL here if ``DIGEST_CRASH_AT`` names ``name`` (and its hit count)."""
    if _ARMED is None or _ARMED[0] != name:
        return
    if next(_hits) < _ARMED[1]:
        return
    # One line on stderr so a test can tell this death from any other; os.write bypasses buffers.
    os.write(sys.stderr.fileno(), f"crash point {name} (hit {_ARMED[1]}): SIGKILL\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)
