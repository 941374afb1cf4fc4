"""The five-channel bench's mail server (aiosmtpd): counts, keeps nothing.

`five_channels_smtp.py OUT` listens on 127.0.0.1 on a free port, prints the port on
stdout, and appends `UNIX_TIME RECIPIENTS` to OUT for each message accepted. It runs
until killed. (tests/tools/smtp_server.py parses and keeps every message: too slow for
100,000.)
"""

import socket
import sys
import time

from aiosmtpd.controller import Controller


class Count:
    def __init__(self, out):
        self.out = open(out, "a", encoding="ascii")

    async def handle_DATA(self, server, session, envelope):
        self.out.write(f"{time.time():.6f} {len(envelope.rcpt_tos)}\n")
        self.out.flush()
        return "250 Message accepted for delivery"


def main():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Count(sys.argv[1]), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
