"""Imported in the fork server only (``workers.start_method`` preloads it): it and its children end
with the process they work for.

A fork server is a process of its own, and each worker it forks first waits
for its orders from the process that asked for it, on a pipe whose write end
the worker itself holds.  When that process is killed (SIGKILL, the
out-of-memory killer) at the wrong moment, the fork server and such a worker
waited for good under PID 1 (``tests/test_orphans.py`` found both).  Here the
fork server asks the kernel for SIGKILL when its parent ends, and every child
it forks asks the same of the fork server from its first instruction on.
"""

from __future__ import annotations

import os

from digest.workers import die_with_parent

die_with_parent()
os.register_at_fork(after_in_child=die_with_parent)
