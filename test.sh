#!/usr/bin/env bash
# Set up (a .venv with the package and its test tools) when needed, then lint, type-check and test.
# Extra arguments go to pytest, e.g. ./test.sh -k store -x
set -euo pipefail
cd "$(dirname "$0")"
.ci/venv test
.venv/bin/ruff check digest tests benchmarks
.venv/bin/ruff format --check digest tests benchmarks
.venv/bin/mypy
.venv/bin/pytest "$@"
