#!/usr/bin/env python3
"""Streams changes to `POST /changes` at a steady rate and checks every acknowledgement.

    changes.py URL RATE SECONDS ACCOUNT_IDS_FILE

Sends RATE tag changes a second (in groups every 10 ms) for SECONDS seconds, naming the
contacts listed in ACCOUNT_IDS_FILE (lines `channel<TAB>account<TAB>external_id`), and
prints one JSON line: lines sent, acknowledged ok, refused, and the achieved rate.
"""
import json
import socket
import sys
import threading
import time
from urllib.parse import urlparse


def main():
    url, rate, seconds, ids_file = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    ids = [line.rstrip("\n").split("\t") for line in open(ids_file, encoding="utf-8") if line.strip()]
    target = urlparse(url)
    sock = socket.create_connection((target.hostname, target.port))
    head = (
        "POST /changes HTTP/1.1\r\nHost: reach\r\nContent-Type: application/x-ndjson\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode())
    received = bytearray()

    def read():
        while True:
            data = sock.recv(1 << 16)
            if not data:
                return
            received.extend(data)

    # The server closes the connection after the last acknowledgement (Connection: close);
    # a daemon thread never holds the process up if it does not.
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    per_tick = max(1, rate // 100)
    sent, start, n = 0, time.monotonic(), 0
    while time.monotonic() - start < seconds:
        lines = []
        for _ in range(per_tick):
            channel, account, external_id = ids[n % len(ids)]
            tag = "bench-%d" % (n % 7)
            op = "tag_add" if (n // len(ids)) % 2 == 0 else "tag_remove"
            lines.append(json.dumps({"op": op, "tags": [tag], "contact": {
                "channel": channel, "account": account, "external_id": external_id}}))
            n += 1
        payload = ("\n".join(lines) + "\n").encode()
        sock.sendall(b"%x\r\n%s\r\n" % (len(payload), payload))
        sent += len(lines)
        next_tick = start + sent / rate
        pause = next_tick - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    elapsed = time.monotonic() - start
    sock.sendall(b"0\r\n\r\n")
    reader.join(timeout=30)
    body = dechunk(bytes(received))
    acks = [json.loads(l) for l in body.splitlines() if l.startswith("{")]
    ok = sum(1 for a in acks if a.get("ok"))
    print(json.dumps({"sent": sent, "acknowledged_ok": ok, "refused": len(acks) - ok,
                      "rate": round(sent / elapsed)}))
    sys.exit(0 if ok == sent else 1)


def dechunk(raw):
    start = raw.find(b"\r\n\r\n")
    rest, body = raw[start + 4:], bytearray()
    while True:
        end = rest.find(b"\r\n")
        if end < 0:
            break
        size = int(rest[:end], 16)
        if size == 0:
            break
        body.extend(rest[end + 2:end + 2 + size])
        rest = rest[end + 4 + size:]
    return body.decode()


if __name__ == "__main__":
    main()
