#!/usr/bin/env bash
# Run the checks and the whole suite.
# First the static checks: `lint-imports` (the layer contracts in pyproject.toml) and `ruff check .`;
# then pytest (it runs even when a check failed, so one run shows everything). The run fails when a
# check failed or pytest failed; pytest's exit code 5 (no tests collected) is a failure, with a reason.
set -u
cd "$(dirname "$0")/.."
mkdir -p test-output
failed_checks=""
echo "== lint-imports (import contracts: docs/operations.md, Code layout and checks)"
.venv/bin/lint-imports --no-cache --no-logo || failed_checks="$failed_checks lint-imports"
echo "== ruff check ."
.venv/bin/ruff check . || failed_checks="$failed_checks ruff"
.venv/bin/python -m pytest --durations=25 "$@"
rc=$?
if [ "$rc" = "5" ]; then
  echo "error: pytest collected no tests — the suite is missing or mis-configured" >&2
  rc=1
fi
if [ -n "$failed_checks" ]; then
  echo "error: static checks failed:$failed_checks (see their output at the top of this run)" >&2
  [ "$rc" = "0" ] && rc=1
fi
exit "$rc"
