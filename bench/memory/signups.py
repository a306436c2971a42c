"""Resident memory of a chatman-local process while people sign up (docs/PERFORMANCE.md).

    signups.py SERVER_BINARY [--signups 1000] [--parallel 8]

Starts the given chatman-local on free ports with its memory store, signs N people up through
the outbox (signup, then verify: two argon2 hashes' worth of work each), PARALLEL at a time, and
prints the server's RSS before, every 100 signups, at the end and after 5 idle seconds. The
target (issue 18) is at most 200 MB after 1,000 signups.
"""

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--signups", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=8)
    args = ap.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [args.server, "--http-port", str(port), "--ws-port", "0", "--s3-port", "0", "--quiet-mail"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}"

    def call(path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(api + path, data=data, headers={"content-type": "application/json"})
        return json.load(urllib.request.urlopen(req, timeout=60))

    try:
        for _ in range(200):
            try:
                call("/_local/health")
                break
            except OSError:
                time.sleep(0.05)
        print(f"{'signups':>8} {'RSS MB':>8}")
        print(f"{0:>8} {rss_mb(server.pid):>8.1f}")

        def sign_up(i):
            email = f"mem{i}@example.com"
            started = call("/auth/signup", {"username": f"mem{i}", "email": email, "password": "correct horse battery staple"})
            code = call(f"/_local/outbox?to={email}")["items"][0]["subject"].split()[0]
            call("/auth/signup/verify", {"signup_id": started["signup_id"], "code": code})

        started = time.monotonic()
        with ThreadPoolExecutor(args.parallel) as pool:
            for batch in range(0, args.signups, 100):
                list(pool.map(sign_up, range(batch, min(batch + 100, args.signups))))
                print(f"{min(batch + 100, args.signups):>8} {rss_mb(server.pid):>8.1f}", flush=True)
        elapsed = time.monotonic() - started
        time.sleep(5)
        final = rss_mb(server.pid)
        print(f"{'idle 5 s':>8} {final:>8.1f}")
        print(f"{args.signups} signups ({args.parallel} at a time) in {elapsed:.1f} s; RSS {final:.1f} MB (target <= 200 MB)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
