#!/usr/bin/env bash
# The figures of `reach serve` in BENCHMARKS.md ("reach serve"), on a data directory of
# generated contacts:
#
#   cargo build --release
#   target/release/reach gen --contacts 10000000 --seed 1 -o 10m.csv
#   target/release/reach --data d10 import 10m.csv
#   benches/serve/run.sh d10
#
# Needs wrk and python3. Prints: the server's start time to its first answer; the
# in-process count rate of the conformance segments (each warm, and the 23 interleaved as
# the server gets them, before and after the server's counts: benches/count_rate.rs); the
# same counts over HTTP with 32 connections (wrk), alone (with its ratio to the
# interleaved in-process rate) and while 10,000 changes a second stream in; membership
# event latency for 20 saved segments.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=$1
BIN=${BIN:-target/release/reach}
PORT=${PORT:-7790}
URL=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

source benches/serve/common.sh
tail -n +2 ../shared/conformance/cases.tsv | cut -f2 > "$WORK/segments.txt"
bodies_of "$WORK/segments.txt" "$WORK/bodies.jsonl"

# 11 rounds, median: a lookup by name or text scans for a process's first four and is
# indexed from the fifth (SCANS_BEFORE_INDEX), so the median is the indexed time. Each
# segment runs 11 times in a row, its data in cache: faster than any mix of them.
echo "== in process, warm: count --batch (conformance segments, each the median of 11 in a row)"
"$BIN" --data "$DATA" --now "$NOW" --tz +08:00 count --batch "$WORK/segments.txt" --repeat 11 --json |
  python3 -c '
import json, sys
micros = [json.loads(l)["micros"] for l in sys.stdin]
mean = sum(micros) / len(micros)
print(json.dumps({"counts": len(micros), "mean_us": round(mean, 1), "rate_per_s": round(1e6 / mean)}))'

# The same mix as the server answers it (each count compiled and counted, the 23 in turn,
# one thread per core), without HTTP: the library's rate that the server's is held to.
# Measured just before and just after the server's counts (this machine slows under
# sustained load, so a figure taken first would favour it), 10 s each.
in_process() {
  cargo bench -q --bench count_rate -- "$DATA" "$WORK/segments.txt" --now "$NOW" --tz +08:00 --seconds 10 |
    tee -a "$WORK/in_process.jsonl"
}
echo "== in process: the 23 interleaved, compiled and counted, 1 thread and one per core (before the server's)"
in_process

echo "== start: process start to the first answer of /health"
started=$(date +%s%N)
start_server
echo "{\"ready_ms\": $(( ($(date +%s%N) - started) / 1000000 ))}"
warm_up "$WORK/bodies.jsonl"

echo "== HTTP: POST /count, 32 connections, 20 s"
BODIES="$WORK/bodies.jsonl" wrk -t2 -c32 -d20s --latency -s benches/serve/count.lua "$URL" |
  grep -E 'Requests/sec|50%|90%|99%|Non-2xx|Socket errors' | tee "$WORK/http.txt" || true
echo "== in process again (after the server's counts; the server idle)"
in_process
python3 - "$WORK/in_process.jsonl" "$WORK/http.txt" <<'RATIO'
import json, re, sys
rates = [json.loads(l)["rate_per_s"] for l in open(sys.argv[1]) if json.loads(l)["threads"] > 1]
http = float(re.search(r"Requests/sec:\s+([\d.]+)", open(sys.argv[2]).read()).group(1))
library = sum(rates) / len(rates)
print(json.dumps({"http_per_s": round(http), "in_process_per_s": round(library), "ratio": round(http / library, 3)}))
RATIO

"$BIN" --data "$DATA" list 'channel:line' --limit 2000 --format json |
  python3 -c '
import json, sys
for l in sys.stdin:
    c = json.loads(l); print(c["channel"], c["account"], c["external_id"], sep="\t")' > "$WORK/contacts.tsv"

echo "== membership events: 20 saved segments, 500 changes one at a time"
# Fresh names each run: a tag the contact already holds would change nothing (no event).
segments=""
run=$(date +%s)
for k in $(seq 1 20); do
  name="ev${run}_$k"
  curl -sf -X PUT "$URL/segments/$name" -H 'content-type: application/json' -d "{\"segment\": \"tag:$name\"}" > /dev/null
  segments="$segments${segments:+,}$name"
done
python3 benches/serve/events.py "$URL" "$segments" "$WORK/contacts.tsv" 500
for name in ${segments//,/ }; do curl -sf -X DELETE "$URL/segments/$name" > /dev/null; done

echo "== HTTP: POST /count, 32 connections, 20 s, while 10,000 changes/s stream in"
python3 benches/serve/changes.py "$URL" 10000 22 "$WORK/contacts.tsv" > "$WORK/changes.json" &
CHANGES=$!
sleep 1
BODIES="$WORK/bodies.jsonl" wrk -t2 -c32 -d20s --latency -s benches/serve/count.lua "$URL" |
  grep -E 'Requests/sec|50%|90%|99%|Non-2xx|Socket errors' || true
wait $CHANGES && echo "changes: $(cat "$WORK/changes.json")" || echo "changes FAILED: $(cat "$WORK/changes.json")"

