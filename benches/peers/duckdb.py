#!/usr/bin/env python3
"""reach beside DuckDB on the same CSV, in one run (issue 10's peer comparison).

    python3 benches/peers/duckdb.py --csv FILE --segments FILE [--reach target/release/reach]
        [--repeat 5] [--venv target/peers-venv]

Makes (once) a virtual environment with DuckDB from PyPI, then: imports CSV into a fresh
reach data directory and loads it into an in-memory DuckDB table with DuckDB's own CSV
reader (the key columns reach's SQL compares derived at load, as `reach sql --schema`
derives them for PostgreSQL); runs every segment REPEAT times on both — reach through
`count --batch --json`, DuckDB through the statement `reach sql --dialect postgres`
writes (DuckDB reads that dialect's subset used here) — checks the counts agree, and
prints load times, the median per segment and the ratio. Now is 2025-06-01T04:00:00Z,
+08:00. DuckDB's `lower` maps one code point at a time (ΟΔΟΣ → οδοσ, İ → i), unlike
reach; the conformance data has no such names.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

NOW, TZ = "2025-06-01T04:00:00Z", "+08:00"

RUNNER = r"""
import json, statistics, sys, time
import duckdb
job = json.load(sys.stdin)
times = ["subscribed_at", "last_checkout_at", "customer_interaction_at", "team_interaction_at",
         "team_marketing_at", "fb_last_sent_at", "fb_expires_at"]
flags = ["blocked", "bound", "over_quota", "fb_optin", "app91_bound"]
cols = job["columns"]
types = {c: ("TIMESTAMPTZ" if c in times else "BOOLEAN" if c in flags else "VARCHAR") for c in cols}
trim = lambda e: f"trim(coalesce({e}, ''))"
pieces = lambda e: f"list_filter(list_transform(string_split({trim(e)}, '|'), lambda p: trim(p)), lambda p: p <> '')"
aliases = " ".join(f"WHEN '{a}' THEN '{n}'" for a, n in job["aliases"])
keys = {
    "channel_key": f"CASE lower({trim('channel')}) {aliases} ELSE lower({trim('channel')}) END",
    "account_key": trim("account"), "external_id_key": trim("external_id"),
    "name_key": f"lower({trim('name')})", "tag_list": pieces("tags"),
    "opt_out_list": pieces("lower(opt_outs)"), "fb_frequency_key": f"lower({trim('fb_frequency')})",
    "email_key": f"lower({trim('email')})",
    "phone_key": "regexp_replace(coalesce(phone, ''), '[-(). \\t]', '', 'g')",
    "member_id_key": trim("member_id"), "store_key": trim("store"), "salesperson_key": trim("salesperson"),
}
con = duckdb.connect(job.get("db", ":memory:"))
con.execute("SET enable_progress_bar = false")
started = time.perf_counter()
columns = "{" + ", ".join(f"'{c}': '{t}'" for c, t in types.items()) + "}"
select = ", ".join(["*"] + [f"{e} AS {k}" for k, e in keys.items()])
con.execute(f"CREATE TABLE contacts AS SELECT {select} FROM read_csv('{job['csv']}', header = true, columns = {columns})")
load = time.perf_counter() - started
out = []
for q in job["queries"]:
    ts, n = [], None
    for _ in range(job["repeat"]):
        t = time.perf_counter()
        n = con.execute(q).fetchone()[0]
        ts.append((time.perf_counter() - t) * 1000)
    out.append((n, statistics.median(ts)))
print(json.dumps({"load": load, "results": out}))
"""


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--segments", required=True)
    ap.add_argument("--reach", default="target/release/reach")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--venv", default="target/peers-venv")
    args = ap.parse_args()
    python = os.path.join(args.venv, "bin", "python")
    if not os.path.exists(os.path.join(args.venv, "ready")):
        sh([sys.executable, "-m", "venv", args.venv])
        sh([python, "-m", "pip", "install", "-q", "duckdb"])
        open(os.path.join(args.venv, "ready"), "w").close()
    segments = [l.rstrip("\n") for l in open(args.segments, encoding="utf-8")
                if l.strip() and not l.startswith("#")]
    csv = os.path.abspath(args.csv)
    work = tempfile.mkdtemp()
    data = os.path.join(work, "reach")
    started = time.perf_counter()
    sh([args.reach, "--data", data, "import", csv])
    reach_load = time.perf_counter() - started
    batch = os.path.join(work, "segments.txt")
    with open(batch, "w") as f:
        f.write("\n".join(segments) + "\n")
    out = sh([args.reach, "--data", data, "--now", NOW, "--tz", TZ, "count", "--batch", batch,
              "--repeat", str(args.repeat), "--json"])
    reach = [(r["count"], r["micros"] / 1000) for r in map(json.loads, out.splitlines())]
    queries = [sh([args.reach, "--data", data, "--now", NOW, "--tz", TZ, "sql", "--dialect",
                   "postgres", "--", s]).strip().rstrip(";") for s in segments]
    with open(csv, encoding="utf-8") as f:
        columns = f.readline().strip().split(",")
    aliases = [("fb", "facebook"), ("messenger", "facebook"), ("wa", "whatsapp"),
               ("ig", "instagram"), ("website", "web")]
    job = {"csv": csv, "columns": columns, "aliases": aliases, "queries": queries,
           "repeat": args.repeat}
    run = subprocess.run([python, "-c", RUNNER], input=json.dumps(job), capture_output=True,
                         text=True)
    if run.returncode != 0:
        sys.exit(f"DuckDB failed:\n{run.stderr}")
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    duck = answer["results"]
    print(f"load: reach import {reach_load:.1f} s, DuckDB read_csv + keys {answer['load']:.1f} s\n")
    print("| segment | count | reach ms | DuckDB ms | DuckDB / reach |")
    print("|---|---:|---:|---:|---:|")
    agree, ratios = True, []
    for s, (n, r), (dn, d) in zip(segments, reach, duck):
        mark = "" if n == dn else f" **DuckDB: {dn}**"
        agree &= not mark
        ratio = d / max(r, 0.001)
        ratios.append(ratio)
        print(f"| `{s}` | {n}{mark} | {r:.2f} | {d:.1f} | {ratio:.0f}x |")
    rm = statistics.median(r for _, r in reach)
    dm = statistics.median(d for _, d in duck)
    print(f"| **median** | | {rm:.2f} | {dm:.1f} | {dm / max(rm, 0.001):.0f}x |")
    print(f"\nsmallest ratio on one segment: {min(ratios):.0f}x")
    subprocess.run(["rm", "-rf", work])
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
