"""Hypothesis runs that can be repeated (tests/repeatable.py): the same examples whichever tests run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# One property test, drawn with the repeatable profile; given "search", first importing a module of
# ours that only some test files import.
PROBE = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import repeatable
repeatable.load()
if sys.argv[1:] == ["search"]:
    import digest.web.search
from hypothesis import given, strategies as st
drawn = []
@given(st.integers() | st.text())
def probe(value):
    drawn.append(value)
probe()
print(drawn)
"""


@pytest.mark.slow
def test_a_property_test_draws_the_same_examples_whichever_modules_tests_imported(tmp_path: Path) -> None:
    # Hypothesis draws constants from the modules of ours imported so far: one test file run alone
    # drew other examples than the whole suite.  (Its constants cache goes to tmp_path/.hypothesis.)
    runs = [
        subprocess.run(
            [sys.executable, "-c", PROBE, *extra], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout
        for extra in ([], ["search"])
    ]
    assert runs[0].startswith("[") and len(set(runs)) == 1
