#!/usr/bin/env bash
# Run the whole suite. pytest's exit code 5 (no tests collected) is a failure, with a reason.
set -u
cd "$(dirname "$0")/.."
mkdir -p test-output
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" = "5" ]; then
  echo "error: pytest collected no tests — the suite is missing or mis-configured" >&2
  exit 1
fi
exit "$rc"
