#!/usr/bin/env bash
# Builds in release mode and runs the benchmarks (all, or the scenarios
# named): ingest validation ingest-batch report-cost areas search eta-cost
# time-to-match offers subscribers fleet-feed dashboard-fps
# searching-load ws-oversized soak.
# Prints a table and rewrites BENCHMARKS.md (pass --no-write to skip that);
# how each scenario measures is in docs/benchmarks.md.
# BENCH_SUBSCRIBERS (or --subscribers N) sets the subscriber count (default
# 20000). The service it starts inherits no TRACKING_* variable.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in redis-server redis-benchmark; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is needed (Debian: apt-get install redis-server redis-tools)" >&2; exit 1; }
done
# Tens of thousands of sockets: raise the open-file limit for us and the
# service we start.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Each side of 20,000 sockets needs 20,000 descriptors plus its others; where
# the hard limit is lower (a sandbox), use what it allows.
limit=$(ulimit -n)
if [ -z "${BENCH_SUBSCRIBERS:-}" ] && [ "$limit" != unlimited ] && [ "$limit" -lt 20100 ]; then
  export BENCH_SUBSCRIBERS=$((limit - 100))
  echo "open-file limit $limit: the subscribers scenario uses $BENCH_SUBSCRIBERS sockets" >&2
fi
# The dashboard-fps scenario drives Debian's chromium with node and the
# browser tests' playwright-core.
if [ ! -d tests/browser/node_modules ] && command -v npm >/dev/null 2>&1; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
cargo build --release --quiet -p tracking -p tracking-bench
exec target/release/tracking-bench "$@"
