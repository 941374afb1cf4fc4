#!/usr/bin/env python3
"""How long the REPL takes to answer a typed segment, table drawn, as a person sees it.

Opens `reach --data DIR` in a pseudo-terminal COLUMNS wide (the REPL builds its lazy
indexes as it opens), types each segment REPEAT times and reads the time the REPL
prints after the table, `(N ms)`: from the line read to the last row written, the wait
at a question excluded.

    python3 benches/repl_answer.py --data reach-data [--reach target/release/reach]
"""
import argparse, os, pty, re, select, statistics, sys, time

SEGMENTS = [
    "tag:vip",
    "channel:line tag:vip -tag:churned checkout:-30d.. is:subscribed",
    "(tag:vip or tag:gold) interaction:-6mo..-1mo -is:over_quota",
    "-tag:churned",
    "is:fb_sendable",
    "-is:fb_sendable channel:facebook",
    "name:\"kelly liu\"",
    "email:a@example.com or phone:+886912345678",
    "has:email -has:member_id channel:web",
    "tag:vip,gold,silver,churned,會員 or optout:cart or store:taipei-101",
    "not (channel:line or channel:facebook) -is:blocked checkout:never",
    "not (not (not (tag:vip or tag:gold) and -tag:churned) or is:blocked)",
    "is:subscribed or is:unsubscribed",
]


class Terminal:
    """The REPL's side of the pseudo-terminal, read up to what is waited for."""

    def __init__(self, fd):
        self.fd, self.pending = fd, b""

    def type(self, line):
        os.write(self.fd, line.encode() + b"\r")

    def wait_for(self, pattern, timeout=60.0):
        """Reads until the text matches pattern; returns the match, keeps what follows."""
        deadline = time.time() + timeout
        while True:
            match = re.search(pattern, self.pending)
            if match:
                self.pending = self.pending[match.end():]
                return match
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            chunk = os.read(self.fd, 1 << 16) if ready else b""
            if (ready and not chunk) or time.time() > deadline:
                sys.exit(f"no {pattern!r}; read {self.pending[-400:]!r}")
            self.pending += chunk


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--reach", default="target/release/reach")
    parser.add_argument("--columns", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    env = dict(os.environ, COLUMNS=str(args.columns), TERM="xterm", PAGER="cat")
    env["XDG_STATE_HOME"] = os.path.abspath(args.data) + ".state"
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(args.reach, [args.reach, "--data", args.data], env)
    terminal = Terminal(fd)
    terminal.wait_for(rb"reach> ")
    print(f"{'segment':70} {'median':>8} {'max':>8}")
    worst = 0.0
    for segment in SEGMENTS:
        times = []
        for _ in range(args.repeat):
            terminal.type(segment)
            match = terminal.wait_for(rb"\((\d+\.\d) ms\)\r\n")
            times.append(float(match.group(1)))
            terminal.wait_for(rb"reach> ")
        worst = max(worst, max(times))
        print(f"{segment[:70]:70} {statistics.median(times):7.1f}  {max(times):7.1f}  ms")
    os.write(fd, b"\x04")
    os.waitpid(pid, 0)
    print(f"worst: {worst:.1f} ms")


if __name__ == "__main__":
    main()
