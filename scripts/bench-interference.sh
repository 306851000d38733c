#!/usr/bin/env bash
# Produce latency under interference: p99 of single-record produces at a fixed rate
# (open loop, fsync=always) while (a) nothing else runs, (b) storms of 100 concurrent topic
# creations and deletions run, (c) a cold 1 GiB partition is read from disk.
#   scripts/bench-interference.sh [server binary (default: target/release/tidegate)] [seconds]
# Run it for two binaries (e.g. before and after a change) to compare. Needs root for (c):
# it drops the page cache (sync; echo 3 > /proc/sys/vm/drop_caches) so the read is cold.
# Everything stays on 127.0.0.1, and every phase is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
bin="${1:-$target/release/tidegate}"
secs="${2:-10}"
cargo build --release --quiet --example loadgen
gen="$target/release/examples/loadgen"
port=18090
url="http://127.0.0.1:$port"
rate=2000

data=$(mktemp -d)
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" --fsync always 2>"$data.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done

produce() { # $1 = label
  echo "### $1: single 100-byte records at $rate req/s (open loop), fsync=always"
  "$gen" produce --server "$url" --topic lat --connections 64 --batch 1 --record-bytes 100 \
    --duration "${secs}s" --rate "$rate"
}

produce "quiet"

storm() { # creates and deletes 100 topics at once, again and again, until $1 exists
  local n=0
  while [ ! -e "$1" ]; do
    for i in $(seq 100); do
      curl -s -o /dev/null -XPOST "$url/v1/topics" -d "{\"name\":\"storm-$n-$i\",\"partitions\":4}" &
    done
    wait
    for i in $(seq 100); do curl -s -o /dev/null -XDELETE "$url/v1/topics/storm-$n-$i" & done
    wait
    n=$((n + 1))
  done
  echo "(topic storms: $n x 100 creates + 100 deletes)"
}
done_flag="$data/storm.done"
storm "$done_flag" &
storm_pid=$!
produce "during topic-creation storms"
touch "$done_flag"
wait "$storm_pid"

echo "### filling 1 GiB for the cold read"
"$gen" fill --server "$url" --topic cold --bytes 1GiB --record-bytes 1024 --batch 1000 --connections 4
sync
echo 3 > /proc/sys/vm/drop_caches
"$gen" fetch --server "$url" --topic cold --partition 0 --max-records 20000 --max-bytes 33554432 &
fetch_pid=$!
produce "during a cold 1 GiB read"
wait "$fetch_pid"
