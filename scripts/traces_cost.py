# Traces' cost on the ingest path: service CPU per updateLocation, spans on vs filtered off.
"""Measures what tracing spans cost the service on `updateLocation`.

Usage: python3 scripts/traces_cost.py [BINARY] [--rounds R] [--requests N]
       python3 scripts/traces_cost.py [BINARY] --callgrind [--requests N]
(BINARY defaults to target/release/tracking; build it first).

With --callgrind, the CPU clock (noisy on a shared machine) gives way to
instructions counted by valgrind's callgrind, which are repeatable: the
service runs under callgrind twice with RUST_LOG=info and twice with
RUST_LOG=warn, one after the other; after a warm-up its counters are zeroed
(callgrind_control -z), N requests are sent, and the instructions the whole
process executed for them (every thread: runtime, HTTP, GraphQL, store) are
dumped (callgrind_control -d) and divided by N.

Starts five services from the same binary, each on the in-memory store with
the bench's relaxed limits (--max-update-rate 0 --max-speed-kmh 0):

  info-a, info-b   RUST_LOG=info (the default: the info spans are recorded)
  off-a,  off-b    RUST_LOG=warn (the spans compiled in but filtered off)
  export           RUST_LOG=info and --otlp-endpoint to a receiver here
                   that answers 200 to everything (spans batched and sent)

then, for R rounds (default 40), in a shuffled order each round, sends N (default 2,000) `updateLocation`
requests (8 keep-alive connections, 10,000 drivers creeping a metre per
report) to each, and reads the service's CPU time over those requests: the
sum of its threads' run time (/proc/PID/task/*/schedstat, nanoseconds).
Prints the median CPU microseconds per request of each and, paired within
each round then the median over rounds, the A/A gaps (info-a vs info-b,
off-a vs off-b: the noise) and the A/B gaps.
"""

import argparse
import http.client
import http.server
import json
import os
import random
import statistics
import subprocess
import sys
import threading


def receiver():
    """An OTLP/HTTP endpoint that accepts and drops every export."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "http://127.0.0.1:%d" % server.server_address[1]


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(binary, rust_log, extra, prefix=()):
    """Starts the service on a free port (RUST_LOG=warn hides the line that
    says where it listens), under `prefix` (a valgrind command) if given,
    and waits until it answers."""
    import time
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TRACKING_") and not k.startswith("OTEL_")}
    env["RUST_LOG"] = rust_log
    env["NO_COLOR"] = "1"
    port = free_port()
    proc = subprocess.Popen(
        [*prefix, binary, "--listen", "127.0.0.1:%d" % port, "--max-update-rate", "0",
         "--max-speed-kmh", "0", *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + (180 if prefix else 30)
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc, "127.0.0.1", port
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit("the service did not start")
        time.sleep(0.05)


def cpu_ns(pid):
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


QUERY = ("mutation($d: ID!, $lat: Float!, $lng: Float!) "
         "{ updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }")


def drive(host, port, requests, connections=8, drivers=10_000):
    """Sends `requests` updateLocation calls over `connections` keep-alive
    connections; fails on any non-200 answer."""
    step = [0]
    lock = threading.Lock()
    errors = []

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=30)
        while True:
            with lock:
                n = step[0]
                if n >= requests:
                    break
                step[0] += 1
            d = n % drivers
            # A metre north per report: the speed check would accept it too.
            lat = 48.85 + (d % 100) * 0.001 + (n // drivers) * 0.00001
            lng = 2.35 + (d // 100) * 0.001
            body = json.dumps({"query": QUERY, "variables":
                               {"d": "d%d" % d, "lat": lat, "lng": lng}})
            conn.request("POST", "/graphql", body,
                         {"content-type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                errors.append(answer.status)
                break
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("a request failed: HTTP %s" % errors[0])


def instructions(binary, rust_log, requests, workdir):
    """Instructions per request of a service under callgrind (see the top)."""
    import glob
    out = os.path.join(workdir, "cg-%s.out" % rust_log)
    for old in glob.glob(out + "*"):
        os.remove(old)
    proc, host, port = start(binary, rust_log, [], prefix=(
        "valgrind", "--tool=callgrind", "--callgrind-out-file=" + out))
    try:
        drive(host, port, 500)  # warm up: drivers known, pools and caches full
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        drive(host, port, requests)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        dumps = [f for f in glob.glob(out + ".*") if f[len(out) + 1:].isdigit()]
        if not dumps:
            sys.exit("callgrind wrote no dump for %s" % rust_log)
        with open(max(dumps, key=os.path.getmtime)) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1]) / requests
        sys.exit("no totals in the callgrind dump")
    finally:
        proc.terminate()
        proc.wait()


def callgrind_main(binary, requests):
    import tempfile
    with tempfile.TemporaryDirectory() as workdir:
        runs = []
        for rust_log in ("info", "warn", "info", "warn"):
            per = instructions(binary, rust_log, requests, workdir)
            runs.append((rust_log, per))
            print("RUST_LOG=%-4s %.0f instructions per request" % (rust_log, per), flush=True)
    info = [p for log, p in runs if log == "info"]
    off = [p for log, p in runs if log == "warn"]
    print("A/A info (repeatability): %+.2f%%" % (100 * (info[1] / info[0] - 1)))
    print("A/A warn (repeatability): %+.2f%%" % (100 * (off[1] / off[0] - 1)))
    print("spans on (info) vs off:   %+.2f%%" % (100 * (sum(info) / sum(off) - 1)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary", nargs="?", default="target/release/tracking")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()
    if args.callgrind:
        return callgrind_main(args.binary, args.requests)
    endpoint = receiver()
    configs = {
        "info-a": ("info", []),
        "info-b": ("info", []),
        "off-a": ("warn", []),
        "off-b": ("warn", []),
        "export": ("info", ["--otlp-endpoint", endpoint]),
    }
    services = {name: start(args.binary, log, extra)
                for name, (log, extra) in configs.items()}
    samples = {name: [] for name in services}
    try:
        for proc, host, port in services.values():
            drive(host, port, 2_000)  # warm up: every driver known, pools full
        for r in range(args.rounds):
            order = list(services)
            random.shuffle(order)
            for name in order:
                proc, host, port = services[name]
                before = cpu_ns(proc.pid)
                drive(host, port, args.requests)
                samples[name].append((cpu_ns(proc.pid) - before) / args.requests / 1000)
            if (r + 1) % 10 == 0:
                print("round %d: %s" % (r + 1, ", ".join(
                    "%s %.1f" % (n, samples[n][-1]) for n in services)), flush=True)
    finally:
        for proc, _, _ in services.values():
            proc.terminate()
            proc.wait()
    median = {n: statistics.median(s) for n, s in samples.items()}
    print("\nmedian service CPU per request (us):")
    for name, value in median.items():
        print("  %-7s %.2f" % (name, value))
    # Paired within each round (the same minute of a shared, noisy machine),
    # then the median over rounds.
    def paired(a, b):
        ratios = [x / y for x, y in zip(a, b)]
        return 100 * (statistics.median(ratios) - 1)

    info = [(x + y) / 2 for x, y in zip(samples["info-a"], samples["info-b"])]
    off = [(x + y) / 2 for x, y in zip(samples["off-a"], samples["off-b"])]
    print("A/A info-a vs info-b (noise): %+.1f%%" % paired(samples["info-a"], samples["info-b"]))
    print("A/A off-a vs off-b (noise):   %+.1f%%" % paired(samples["off-a"], samples["off-b"]))
    print("spans on (info) vs off:       %+.1f%%" % paired(info, off))
    print("exporting vs off:             %+.1f%%" % paired(samples["export"], off))

if __name__ == "__main__":
    main()
