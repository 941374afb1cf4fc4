#!/bin/sh
# Readers as separate processes beside a long `reach apply` (issue 28): while REACH applies
# CHANGES to a fresh copy of DATA, a reader process `count tag:vip` starts every 0.25 s;
# prints the apply's time and each reader's wall time (min / median / max).
#
#   benches/readers_beside_apply.sh REACH DATA CHANGES
set -eu
reach=$1 data=$2 changes=$3
copy=$(mktemp -d)/d
cp -r "$data" "$copy" && sync
start=$(date +%s.%N)
"$reach" --data "$copy" apply "$changes" > /dev/null &
writer=$!
times=""
while kill -0 "$writer" 2> /dev/null; do
    t0=$(date +%s.%N)
    "$reach" --data "$copy" count tag:vip > /dev/null
    times="$times $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { print a - b }')"
    sleep 0.25
done
wait "$writer"
echo "apply: $(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }') s"
echo "$times" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {printf "readers: %d, wall min %.2f s, median %.2f s, max %.2f s\n", NR, a[1], a[int((NR+1)/2)], a[NR]}'
rm -rf "$(dirname "$copy")"
