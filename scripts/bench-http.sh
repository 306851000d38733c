#!/usr/bin/env bash
# Reproduces the HTTP benchmarks of the README: for each fsync policy, starts a release server
# on 127.0.0.1 over a fresh temp dir and drives it with examples/loadgen/.
#   scripts/bench-http.sh [seconds per run (default 10)] [fetch GiB (default 1)]
# TIDEGATE_BIN names another server binary to measure (e.g. an older build, to compare).
# Everything stays on loopback and every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
fetch_gib="${2:-1}"
cargo build --release --quiet --bin tidegate --example loadgen
target="${CARGO_TARGET_DIR:-target}"
bin="${TIDEGATE_BIN:-$target/release/tidegate}"
gen="$target/release/examples/loadgen"
port=18080
url="http://127.0.0.1:$port"

start() { # $1 = fsync policy
  data=$(mktemp -d)
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" --fsync "$1" 2>"$data.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; rm -rf "$data" "$data.log"; }

for fsync in never always; do
  start "$fsync"
  echo "### fsync=$fsync: plain HTTP floor (GET /healthz, 64 connections)"
  "$gen" get --server "$url" --path /healthz --connections 64 --duration "${secs}s"
  echo "### fsync=$fsync: batched produce, 64 connections x 100 x 1 KiB (closed loop)"
  "$gen" produce --server "$url" --topic batched --partitions 4 --connections 64 --batch 100 --record-bytes 1024 --duration "${secs}s"
  echo "### fsync=$fsync: single 100-byte records, 64 connections (closed loop)"
  "$gen" produce --server "$url" --topic single --partitions 4 --connections 64 --batch 1 --record-bytes 100 --duration "${secs}s"
  echo "### fsync=$fsync: single 100-byte records at a fixed 5000 req/s (open loop, latency)"
  "$gen" produce --server "$url" --topic single --connections 64 --batch 1 --record-bytes 100 --duration "${secs}s" --rate 5000
  stop
done

start never
echo "### catch-up fetch of ${fetch_gib} GiB from offset 0"
"$gen" fill --server "$url" --topic fetchbench --bytes "${fetch_gib}GiB" --record-bytes 1024 --batch 1000 --connections 4
"$gen" fetch --server "$url" --topic fetchbench --partition 0 --max-records 20000 --max-bytes 33554432
stop
