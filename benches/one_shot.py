#!/usr/bin/env python3
"""Whole-process `reach --data DIR count SEGMENT` for each conformance segment (issue 33:
each <= 100 ms at 10M contacts), one binary or two in alternating runs.

    python3 benches/one_shot.py DIR REACH [OLD_REACH] [--runs 5]

Prints a markdown table: per segment the median wall time (ms) and peak RSS (MB) of each
binary over the runs, and whether the new one is within 100 ms. Counts must agree.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

NOW, TZ = "2025-06-01T04:00:00Z", "+08:00"


def segments():
    cases = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "conformance", "cases.tsv")
    with open(cases, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t")[1] for line in list(f)[1:] if line.strip()]


def run(reach, data, segment):
    """Wall seconds, peak RSS in MB and the printed count of one process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [reach, "--data", data, "--now", NOW, "--tz", TZ, "count", "--", segment],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = child.stdout.read()
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{reach} failed on {segment!r}: {err.decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024, out.decode().strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("reach")
    parser.add_argument("old", nargs="?")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    binaries = [args.reach] + ([args.old] if args.old else [])
    head = "| segment | wall ms | peak MB |" + (" old wall ms | old peak MB |" if args.old else "") + " <= 100 ms |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    within = 0
    for segment in segments():
        figures = {b: [] for b in binaries}
        counts = set()
        for _ in range(args.runs):
            for b in binaries:
                wall, peak, count = run(b, args.data, segment)
                figures[b].append((wall, peak))
                counts.add(count)
        if len(counts) != 1:
            sys.exit(f"counts differ for {segment!r}: {counts}")
        cells = []
        for b in binaries:
            cells.append(f"{statistics.median(w for w, _ in figures[b]) * 1000:.0f}")
            cells.append(f"{statistics.median(p for _, p in figures[b]):.0f}")
        fast = statistics.median(w for w, _ in figures[args.reach]) <= 0.1
        within += fast
        shown = segment.replace("|", "\\|")
        print(f"| `{shown}` | " + " | ".join(cells) + f" | {'yes' if fast else 'no'} |")
    print(f"\n{within} of {len(segments())} segments within 100 ms (median of {args.runs} runs; load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
