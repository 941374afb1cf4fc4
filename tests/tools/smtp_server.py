"""A real SMTP server (aiosmtpd) for the broadcast tests.

`smtp_server.py OUT` listens on 127.0.0.1 on a free port, prints the port on stdout, and
appends one JSON line per message received to OUT: the envelope's recipients, each header
as the mail parser reads it (Python's `email` with policy=default), the parser's defects
(the message's and every part's), the plain-text body, and the raw message (base64). It
runs until killed.
"""

import base64
import email
import email.policy
import json
import socket
import sys
import time

from aiosmtpd.controller import Controller


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Keep:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        defects = [repr(d) for part in message.walk() for d in part.defects]
        body = message.get_body(preferencelist=("plain",))
        record = {
            "rcpt": envelope.rcpt_tos,
            "mail_from": envelope.mail_from,
            "headers": [[k, str(v)] for k, v in message.items()],
            "defects": defects,
            "content_type": message.get_content_type(),
            "charset": message.get_content_charset(),
            "body": body.get_content() if body is not None else None,
            "raw": base64.b64encode(raw).decode("ascii"),
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 Message accepted for delivery"


def main():
    port = free_port()
    controller = Controller(Keep(sys.argv[1]), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
