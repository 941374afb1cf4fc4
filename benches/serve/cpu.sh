#!/usr/bin/env bash
# Server CPU time per `POST /count` (BENCHMARKS.md, "reach serve"): a figure the other
# processes on a shared machine move less than a rate or a latency does.
#
#   benches/serve/cpu.sh DATA [all|N]...    (N: the Nth conformance segment alone)
#
# Starts the server on DATA (it writes there: use a copy), counts every conformance
# segment five times (a lookup is indexed at its fifth use), then for each argument runs
# wrk with 32 connections for $DUR seconds (default 8) and prints the rate, the p99 and
# the server's user + system CPU time per answer, from /proc/PID/stat.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=$1
shift
BIN=${BIN:-target/release/reach}
PORT=${PORT:-7792}
URL=http://127.0.0.1:$PORT
DUR=${DUR:-8}
WORK=$(mktemp -d)
trap '{ kill $SERVER && wait $SERVER; } 2>/dev/null || true; rm -rf "$WORK"' EXIT
source benches/serve/common.sh
tail -n +2 ../shared/conformance/cases.tsv | cut -f2 > "$WORK/segments.txt"
bodies_of "$WORK/segments.txt" "$WORK/all.jsonl"
start_server
warm_up "$WORK/all.jsonl"
ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
for which in "$@"; do
  case $which in
    all) cp "$WORK/all.jsonl" "$WORK/bodies.jsonl" ;;
    *) sed -n "${which}p" "$WORK/all.jsonl" > "$WORK/bodies.jsonl" ;;
  esac
  before=$(ticks)
  out=$(BODIES="$WORK/bodies.jsonl" wrk -t2 -c32 -d"${DUR}s" --latency -s benches/serve/count.lua "$URL")
  after=$(ticks)
  rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  python3 -c '
import os, sys
which, rate, p99, ticks, dur = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
us = ticks / os.sysconf("SC_CLK_TCK") * 1e6 / (rate * dur)
print(f"{which}: {rate:.0f}/s, p99 {p99}, server CPU {us:.0f} us per answer")' "$which" "$rate" "$p99" "$((after - before))" "$DUR"
done
