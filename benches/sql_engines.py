#!/usr/bin/env python3
"""reach beside PostgreSQL and ClickHouse (chdb) on the same CSV, in one run.

Loads CSV into a fresh reach data directory, a throwaway PostgreSQL cluster (`\\copy`,
the table of `reach sql --schema`) and a chdb session (ClickHouse's CSV reader), then
counts every segment of SEGMENTS on all three, REPEAT times each, checks that the counts
agree, and prints load times and the median time per segment.

    python3 benches/sql_engines.py --csv /work/big/10m.csv --segments SEGMENTS \\
        [--reach target/release/reach] [--repeat 5] [--python VENV/bin/python]

--python is a Python with chdb installed (the tests' environment: target/tmp/chdb-venv).
Times: reach's own `count --batch --json` (compile + count), PostgreSQL's `\\timing`
(server round trip through psql), chdb's query call. Now is 2025-06-01T04:00:00Z, +08:00.
"""
import argparse, glob, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

NOW, TZ = "2025-06-01T04:00:00Z", "+08:00"


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def reach_side(reach, csv, segments, repeat, work):
    data = os.path.join(work, "reach")
    started = time.perf_counter()
    sh([reach, "--data", data, "import", csv])
    load = time.perf_counter() - started
    batch = os.path.join(work, "segments.txt")
    with open(batch, "w") as f:
        f.write("\n".join(segments) + "\n")
    out = sh([reach, "--data", data, "--now", NOW, "--tz", TZ, "count", "--batch", batch,
              "--repeat", str(repeat), "--json"])
    rows = [json.loads(l) for l in out.splitlines()]
    return data, load, [(r["count"], r["micros"] / 1000) for r in rows]


def sql(reach, data, *args):
    return sh([reach, "--data", data, "--now", NOW, "--tz", TZ, "sql", *args])


class Postgres:
    def __init__(self, work):
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        self.root = os.getuid() == 0
        if self.root:
            shutil.chown(self.dir, "postgres")
        self.server("initdb", "-D", f"{self.dir}/data", "-U", "postgres", "--auth=trust",
                    "--encoding=UTF8", "--locale=C.UTF-8")
        opts = (f"-c listen_addresses='' -k {self.dir} -p 5432 -c shared_buffers=4GB "
                "-c max_wal_size=8GB -c work_mem=256MB -c max_parallel_workers_per_gather=2")
        self.server("pg_ctl", "-D", f"{self.dir}/data", "-o", opts, "-w", "-l",
                    f"{self.dir}/log", "start")

    def server(self, program, *args):
        prefix = ["runuser", "-u", "postgres", "--"] if self.root else []
        return sh(prefix + [f"{self.bin}/{program}", *args], cwd=self.dir)

    def psql(self, text):
        path = os.path.join(self.dir, "job.sql")
        with open(path, "w") as f:
            f.write(text)
        return sh([f"{self.bin}/psql", "-h", self.dir, "-p", "5432", "-U", "postgres", "-X",
                   "-At", "-v", "ON_ERROR_STOP=1", "-f", path])

    def stop(self):
        self.server("pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "stop")


def postgres_side(reach, data, csv, queries, repeat, work):
    pg = Postgres(work)
    try:
        schema = sql(reach, data, "--schema", "--dialect", "postgres")
        started = time.perf_counter()
        pg.psql(f"{schema}\n\\copy contacts FROM '{csv}' (FORMAT csv, HEADER true)\nVACUUM ANALYZE contacts;\n")
        load = time.perf_counter() - started
        results = []
        for q in queries:
            out = pg.psql("\\timing on\n" + (q + "\n") * repeat)
            counts = [l for l in out.splitlines() if re.fullmatch(r"\d+", l)]
            times = [float(m) for m in re.findall(r"Time: ([\d.]+) ms", out)]
            results.append((int(counts[0]), statistics.median(times)))
        return load, results
    finally:
        pg.stop()


CHDB = r"""
import json, sys, time, statistics
from chdb import session
job = json.load(sys.stdin)
s = session.Session(job["dir"])
s.query(job["schema"])
cols = s.query("SELECT arrayStringConcat(groupArray(concat(name, ' ', type)), ', ') FROM system.columns WHERE table = 'contacts' AND default_kind != 'MATERIALIZED'", "TSVRaw").bytes().decode().strip()
started = time.perf_counter()
s.query(f"INSERT INTO contacts SELECT * FROM file('{job['csv']}', 'CSVWithNames', '{cols}')")
load = time.perf_counter() - started
out = []
for q in job["queries"]:
    times, count = [], None
    for _ in range(job["repeat"]):
        t = time.perf_counter()
        count = int(s.query(q, "TSVRaw").bytes().decode().strip())
        times.append((time.perf_counter() - t) * 1000)
    out.append((count, statistics.median(times)))
print(json.dumps({"load": load, "results": out}))
"""


def clickhouse_side(python, reach, data, csv, queries, repeat, work):
    schema = sql(reach, data, "--schema", "--dialect", "clickhouse")
    job = {"dir": os.path.join(work, "chdb"), "schema": schema, "csv": csv,
           "queries": queries, "repeat": repeat}
    out = subprocess.run([python, "-c", CHDB], input=json.dumps(job), check=True,
                         capture_output=True, text=True).stdout
    answer = json.loads(out.strip().splitlines()[-1])
    return answer["load"], [tuple(r) for r in answer["results"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--segments", required=True, help="a file, one segment a line")
    ap.add_argument("--reach", default="target/release/reach")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--python", default="target/tmp/chdb-venv/bin/python")
    ap.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    args = ap.parse_args()
    segments = [l.rstrip("\n") for l in open(args.segments, encoding="utf-8")
                if l.strip() and not l.startswith("#")]
    work = tempfile.mkdtemp(dir=args.work)
    os.chmod(work, 0o755)
    csv = os.path.abspath(args.csv)
    data, reach_load, reach = reach_side(args.reach, csv, segments, args.repeat, work)
    print(f"reach import: {reach_load:.1f} s", flush=True)
    pg_queries = [sql(args.reach, data, "--dialect", "postgres", "--", s).strip() for s in segments]
    ch_queries = [sql(args.reach, data, "--dialect", "clickhouse", "--", s).strip().rstrip(";") for s in segments]
    ch_load, ch = clickhouse_side(args.python, args.reach, data, csv, ch_queries, args.repeat, work)
    print(f"ClickHouse (chdb) load: {ch_load:.1f} s", flush=True)
    pg_load, pg = postgres_side(args.reach, data, csv, pg_queries, args.repeat, work)
    print(f"PostgreSQL load (\\copy + VACUUM ANALYZE): {pg_load:.1f} s", flush=True)
    print(f"\n| segment | count | reach ms | ClickHouse ms | PostgreSQL ms |")
    print("|---|---:|---:|---:|---:|")
    agree = True
    for s, (n, r), (cn, c), (pn, p) in zip(segments, reach, ch, pg):
        mark = "" if n == cn == pn else f" **disagree: {cn} / {pn}**"
        agree &= not mark
        print(f"| `{s}` | {n}{mark} | {r:.2f} | {c:.1f} | {p:.1f} |")
    med = lambda xs: statistics.median(x[1] for x in xs)
    print(f"| **median** | | {med(reach):.2f} | {med(ch):.1f} | {med(pg):.1f} |")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
