#!/usr/bin/env bash
# Rewrite deploy/requirements.lock: every runtime dependency pinned with its hashes, for the Docker
# image and the systemd install (`pip install --require-hashes -r deploy/requirements.lock`).
# Run after changing [project] dependencies in pyproject.toml; tests/test_release.py checks they agree.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet pip-tools
"$tools/bin/pip-compile" --quiet --generate-hashes --strip-extras --no-header \
    --no-emit-index-url --no-emit-find-links --output-file deploy/requirements.lock pyproject.toml
