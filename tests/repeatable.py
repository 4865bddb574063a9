"""Hypothesis set up so that a run can be repeated: the same examples for the same commit and the
same Hypothesis version, on a laptop as in CI, whichever tests are selected.

Hypothesis derandomizes only where it detects CI (its "ci" profile), so a failure CI found could be
one a developer's run never drew.  Here every run is derandomized (the examples follow from each test's
own code; the example database is off with it), and a failure prints the ``@reproduce_failure``
blob that replays it exactly under that version.  ``pytest --hypothesis-profile=default`` explores
with random examples and the example database instead.

Since 6.131.1 Hypothesis also draws literal constants from the local modules imported so far (ours,
never the tests'), so running one test file alone drew other examples than the whole suite, where
more of the package is imported.  Importing the whole package first gives every run the same pool.
One difference stays: a launcher script is a local module too, so ``.venv/bin/pytest`` (what
test.sh runs) adds its two strings to the pool and ``python -m pytest`` does not.
"""

from __future__ import annotations

import importlib
import pkgutil

from hypothesis import HealthCheck, settings

import digest

PROFILE = "repeatable"
# Alembic's environment script runs a migration when imported; Alembic loads it (and the revisions)
# outside ``sys.modules``, so its constants are never in the pool anyway.
_NOT_IMPORTED = frozenset({"digest.store.migrations.env"})


def load() -> None:
    """Load the repeatable profile and import every module of the package."""
    # Built on Hypothesis' own default, not on whatever it loaded: in CI that is its "ci" profile.
    # Timing-based verdicts are off, as in that profile: a loaded machine fails no test by them.
    settings.register_profile(
        PROFILE,
        settings.get_profile("default"),
        derandomize=True,
        print_blob=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(PROFILE)
    for module in pkgutil.walk_packages(digest.__path__, "digest."):
        if module.name not in _NOT_IMPORTED:
            importlib.import_module(module.name)
