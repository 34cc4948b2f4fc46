#!/usr/bin/env bash
# Run every benchmark script in tests/bench and print its table.
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench-output
for f in tests/bench/bench_*.py; do
  echo "== $f"
  .venv/bin/python "$f"
done
