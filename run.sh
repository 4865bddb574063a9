#!/usr/bin/env bash
# Set up (a .venv with the package) when needed, then serve the example pages on http://127.0.0.1:8080.
# Extra arguments go to `digest serve`, e.g. ./run.sh --port 8081 --source /srv/pages
set -euo pipefail
cd "$(dirname "$0")"
.ci/venv
exec .venv/bin/digest serve --config config.toml "$@"
