#!/usr/bin/env python3
"""Membership event latency: from a change's acknowledgement to its event.

    events.py URL SEGMENTS CONTACTS_FILE N

Subscribes to the saved segments SEGMENTS (comma-separated; each is `tag:NAME` saved as
NAME by the caller) over Server-Sent Events, then N times adds or removes the tag
`ev-K` of one contact (from CONTACTS_FILE, lines `channel<TAB>account<TAB>external_id`)
through `POST /changes`, timing from its acknowledgement to the event that names it.
Prints one JSON line with p50, p99 and max in milliseconds.
"""
import json
import sys
import threading
import time
import urllib.request


def main():
    url, segments, contacts_file, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    contacts = [l.rstrip("\n").split("\t") for l in open(contacts_file, encoding="utf-8") if l.strip()]
    names = segments.split(",")
    seen = {}
    ready = threading.Event()

    def listen():
        stream = urllib.request.urlopen(url + "/membership?segments=" + segments)
        ready.set()
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("data:"):
                event = json.loads(line[5:])
                for who in event.get("entered", []) + event.get("left", []):
                    seen[(event["segment"], who["external_id"])] = time.monotonic()

    threading.Thread(target=listen, daemon=True).start()
    ready.wait(10)
    time.sleep(0.3)
    latencies = []
    for k in range(n):
        channel, account, external_id = contacts[k % len(contacts)]
        name = names[k % len(names)]
        op = "tag_add" if (k // len(contacts)) % 2 == 0 else "tag_remove"
        line = json.dumps({"op": op, "tags": [name], "contact": {
            "channel": channel, "account": account, "external_id": external_id}})
        request = urllib.request.Request(url + "/changes", data=(line + "\n").encode(), method="POST")
        with urllib.request.urlopen(request) as answer:
            ack = json.loads(answer.read().decode().splitlines()[0])
        acked = time.monotonic()
        if not ack.get("ok"):
            print("refused:", ack, file=sys.stderr)
            sys.exit(1)
        deadline = acked + 5
        while (name, external_id) not in seen and time.monotonic() < deadline:
            time.sleep(0.0005)
        got = seen.pop((name, external_id), None)
        if got is None:
            print("no event for", name, external_id, file=sys.stderr)
            sys.exit(1)
        latencies.append(max(0.0, got - acked) * 1000)
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)
    print(json.dumps({"events": len(latencies), "p50_ms": pick(0.5), "p99_ms": pick(0.99),
                      "max_ms": round(latencies[-1], 2)}))


if __name__ == "__main__":
    main()
