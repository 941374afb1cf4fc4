#!/usr/bin/env python3
"""reach beside DuckDB as a command-line user meets them: whole processes on files.

    python3 benches/peers/duckdb_file.py --csv FILE --data DIR --segments FILE
        [--db FILE] [--runs 5] [--reach target/release/reach] [--venv target/peers-venv]

DIR is a reach data directory holding FILE's contacts (`reach import FILE`); it is only
read. DuckDB gets a persistent database file (--db, default FILE.duckdb beside the CSV),
made once from the same CSV with the table and key columns of `duckdb.py`. Then, for
each segment, RUNS pairs in alternating order: `reach --data DIR count SEGMENT` and a
Python process that opens the DuckDB file read-only and runs the statement `reach sql
--dialect postgres` writes (Python's start and `import duckdb` included, as a script
would pay them). Prints the median wall time of each side per segment, the ratio, and
whether the counts agree. Now is 2025-06-01T04:00:00Z, +08:00.
"""
import argparse, importlib.util, json, os, statistics, subprocess, sys, time

NOW, TZ = "2025-06-01T04:00:00Z", "+08:00"
HERE = os.path.dirname(os.path.abspath(__file__))
COUNT = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
         "c.execute('SET enable_progress_bar = false'); print(c.execute(sys.argv[2]).fetchone()[0])")


def peers():
    spec = importlib.util.spec_from_file_location("peers_duckdb", os.path.join(HERE, "duckdb.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(args):
    started = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - started, int(out.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--segments", required=True)
    ap.add_argument("--db")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--reach", default="target/release/reach")
    ap.add_argument("--venv", default="target/peers-venv")
    args = ap.parse_args()
    base = peers()
    python = os.path.join(args.venv, "bin", "python")
    if not os.path.exists(os.path.join(args.venv, "ready")):
        base.sh([sys.executable, "-m", "venv", args.venv])
        base.sh([python, "-m", "pip", "install", "-q", "duckdb"])
        open(os.path.join(args.venv, "ready"), "w").close()
    csv = os.path.abspath(args.csv)
    db = os.path.abspath(args.db or csv + ".duckdb")
    if not os.path.exists(db):
        with open(csv, encoding="utf-8") as f:
            columns = f.readline().strip().split(",")
        aliases = [("fb", "facebook"), ("messenger", "facebook"), ("wa", "whatsapp"),
                   ("ig", "instagram"), ("website", "web")]
        job = {"csv": csv, "columns": columns, "aliases": aliases, "queries": [], "repeat": 1,
               "db": db}
        run = subprocess.run([python, "-c", base.RUNNER], input=json.dumps(job),
                             capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"DuckDB failed:\n{run.stderr}")
        print(f"made {db} in {json.loads(run.stdout.splitlines()[-1])['load']:.1f} s")
    segments = [l.rstrip("\n") for l in open(args.segments, encoding="utf-8")
                if l.strip() and not l.startswith("#")]
    reach = [args.reach, "--data", args.data, "--now", NOW, "--tz", TZ]
    print("| segment | count | reach ms | DuckDB ms | DuckDB / reach |")
    print("|---|---:|---:|---:|---:|")
    agree, ratios, all_r, all_d = True, [], [], []
    for s in segments:
        query = base.sh(reach + ["sql", "--dialect", "postgres", "--", s]).strip().rstrip(";")
        rs, ds, n, dn = [], [], None, None
        for i in range(args.runs):
            pair = [("r", reach + ["count", s]), ("d", [python, "-c", COUNT, db, query])]
            for side, command in (pair if i % 2 == 0 else pair[::-1]):
                t, count = timed(command)
                if side == "r":
                    rs.append(t * 1000)
                    n = count
                else:
                    ds.append(t * 1000)
                    dn = count
        r, d = statistics.median(rs), statistics.median(ds)
        all_r.append(r)
        all_d.append(d)
        ratios.append(d / r)
        mark = "" if n == dn else f" **DuckDB: {dn}**"
        agree &= not mark
        print(f"| `{s}` | {n}{mark} | {r:.0f} | {d:.0f} | {d / r:.1f}x |", flush=True)
    print(f"| **median** | | {statistics.median(all_r):.0f} | {statistics.median(all_d):.0f} | "
          f"{statistics.median(all_d) / statistics.median(all_r):.1f}x |")
    print(f"\nsmallest ratio on one segment: {min(ratios):.1f}x")
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
