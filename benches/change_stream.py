#!/usr/bin/env python3
"""A synthetic change stream for `reach apply`, over the contacts of a `reach gen` CSV.

    benches/change_stream.py CONTACTS.csv N [--seed S] > changes.jsonl

Samples up to 200,000 identities from the file (a reservoir over every row), then
writes N single-contact changes, one JSON object per line, mixed as an event stream
is: 60% events (customer_interaction, team_interaction, checkout, subscribe, block),
20% tag edits, 10% opt-out edits, 10% upserts of a name. Standard library only.
"""
import csv
import json
import random
import sys


def main():
    args = [a for a in sys.argv[1:]]
    if len(args) < 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    seed = 1
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i : i + 2]
    path, n = args[0], int(args[1])
    rng = random.Random(seed)
    sample, seen = [], 0
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        at = [header.index(c) for c in ("channel", "account", "external_id")]
        for row in reader:
            seen += 1
            ident = {"channel": row[at[0]], "account": row[at[1]], "external_id": row[at[2]]}
            if len(sample) < 200_000:
                sample.append(ident)
            elif rng.random() < 200_000 / seen:
                sample[rng.randrange(200_000)] = ident
    events = ["customer_interaction", "team_interaction", "checkout", "subscribe", "block"]
    out = sys.stdout
    for i in range(n):
        who = rng.choice(sample)
        roll = rng.random()
        if roll < 0.6:
            change = {"op": "event", "type": rng.choice(events[:3] if roll < 0.55 else events[3:]),
                      "contact": who, "at": "2025-06-01T%02d:%02d:00Z" % (rng.randrange(24), rng.randrange(60))}
        elif roll < 0.8:
            change = {"op": rng.choice(["tag_add", "tag_remove"]), "tags": ["stream-%d" % rng.randrange(20)],
                      "contact": who}
        elif roll < 0.9:
            change = {"op": rng.choice(["unsubscribe", "resubscribe"]), "contact": who}
        else:
            change = {"op": "upsert", "contact": dict(who, name="Renamed %d" % i)}
        out.write(json.dumps(change, ensure_ascii=False))
        out.write("\n")


if __name__ == "__main__":
    main()
