#!/usr/bin/env python3
"""Runs SQL on the real ClickHouse engine (chdb) for reach's tests and benchmarks.

    python chdb_query.py SESSION_DIR < job.json

job.json: {"statements": [...], "load": [{"table": T, "csv": PATH}], "queries": [...]}.
Statements run first, then each CSV is loaded with ClickHouse's own loader
(`INSERT INTO T FORMAT CSVWithNames`, the file as the statement's data), then every
query. Prints one JSON object per query: {"rows": [[...], ...], "ms": N} or
{"error": "..."}, and for each load {"loaded": T, "ms": N} first.
"""
import json, sys, time

from chdb import session


def main():
    job = json.load(sys.stdin)
    s = session.Session(sys.argv[1])
    for statement in job.get("statements", []):
        s.query(statement)
    for load in job.get("load", []):
        started = time.perf_counter()
        with open(load["csv"], encoding="utf-8") as f:
            data = f.read()
        s.query(f"INSERT INTO {load['table']} FORMAT CSVWithNames\n{data}")
        print(json.dumps({"loaded": load["table"], "ms": (time.perf_counter() - started) * 1000}))
    for query in job.get("queries", []):
        started = time.perf_counter()
        try:
            result = s.query(query, "JSONCompact")
            rows = json.loads(result.bytes() or b'{"data": []}')["data"]
            print(json.dumps({"rows": rows, "ms": (time.perf_counter() - started) * 1000}, ensure_ascii=False))
        except Exception as e:  # the test shows the engine's message beside the query
            print(json.dumps({"error": str(e)[:2000]}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
