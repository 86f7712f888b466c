#!/usr/bin/env python3
"""Password-guessing attacks against one `airlock serve`, measured from outside.

    bench/login_attacks.py [AIRLOCK_BINARY]     (default target/debug/airlock)

Starts the binary on a free loopback port with a fresh data directory and reports:

  lockout  40 simultaneous wrong passwords for one user: how many were checked
           (401) and how many refused unchecked (429); the lockout allows 10.
  setup    the server's peak RSS (VmHWM) after creating 101 users and 50 service
           tokens through the admin API (each one an argon2id hash).
  burst    500 simultaneous wrong passwords for 50 existing users from 50 loopback
           addresses (10 per user and per address: under every lockout limit), as
           someone who knows only user names would send: answers, time, peak RSS.
  timing   median time of a wrong password for an existing user, an unknown name
           and a service token's name (50 tries each, interleaved, each from its own
           loopback address so no lockout interferes), and their ratio.

Run it against two binaries (e.g. one built from an older commit) to compare: the
figures are whole-request times on this machine, so compare within one run.
"""

import base64
import concurrent.futures as cf
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PASSWORD = "bench-admin-password-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, user, password, source="127.0.0.1", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=(source, 0))
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}"}
    if body is not None:
        body = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/airlock"
    tmp = tempfile.mkdtemp(prefix="airlock-attacks-")
    port = free_port()
    env = dict(os.environ, AIRLOCK_ADMIN_PASSWORD=PASSWORD, RUST_LOG="warn")
    proc = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", f"{tmp}/data"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if request(port, "GET", "/healthz", "-", "-")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        admin = lambda m, p, b=None: request(port, m, p, "admin", PASSWORD, body=b)
        # Names for the timing phase: one of each kind per try, so no per-name lockout
        # interferes.
        tries = 50
        users = ["alice"] + [f"timing-user{i}" for i in range(tries)] + [f"burst-user{i}" for i in range(50)]
        started = peak_rss_mib(proc.pid)
        for name in users:
            st, out = admin("POST", "/api/v1/users", {"name": name, "password": f"{name}-password-123"})
            assert st in (200, 201), (st, out)
        for i in range(tries):
            st, out = admin("POST", "/api/v1/tokens", {"name": f"ci-bot{i}", "scopes": ["repository:ci/*:pull"]})
            assert st in (200, 201), (st, out)

        print(f"setup: peak RSS {started} MiB at start, {peak_rss_mib(proc.pid)} MiB after creating "
              f"{len(users)} users and {tries} service tokens")

        # lockout
        with cf.ThreadPoolExecutor(40) as ex:
            codes = list(ex.map(lambda i: request(port, "GET", "/v2/", "alice", f"guess-{i}")[0], range(40)))
        print(f"lockout: 40 concurrent wrong passwords for one user: {codes.count(401)} checked (401), "
              f"{codes.count(429)} refused unchecked (429), other {len(codes) - codes.count(401) - codes.count(429)}")

        # burst
        before = peak_rss_mib(proc.pid)
        t = time.monotonic()
        with cf.ThreadPoolExecutor(500) as ex:
            codes = list(ex.map(
                lambda i: request(port, "GET", "/v2/", f"burst-user{i % 50}", "wrong-password",
                                  source=f"127.0.1.{10 + i // 10}")[0], range(500)))
        took = time.monotonic() - t
        print(f"burst: 500 concurrent wrong logins for 50 users from 50 addresses: {codes.count(401)} checked, "
              f"{codes.count(429)} told to retry, {took:.1f} s; peak RSS {before} -> {peak_rss_mib(proc.pid)} MiB")

        # timing (each try from its own address: no lockout on either binary)
        kinds = {"timing-user": [], "no-such-name": [], "ci-bot": []}
        statuses = []
        for i in range(tries):
            for j, (kind, samples) in enumerate(kinds.items()):
                src = f"127.0.{3 + j}.{10 + i}"
                t = time.monotonic()
                st, _ = request(port, "GET", "/v2/", f"{kind}{i}", "not-the-password", source=src)
                samples.append((time.monotonic() - t) * 1000)
                statuses.append(st)
        med = {k: statistics.median(v[2:]) for k, v in kinds.items()}
        print("timing: median wrong-password ms over {} tries each (answers: {}): existing user {:.1f}, "
              "unknown name {:.1f} ({:.2f}x), service token {:.1f} ({:.2f}x)".format(
                  tries - 2, sorted(set(statuses)), med["timing-user"], med["no-such-name"],
                  med["no-such-name"] / med["timing-user"], med["ci-bot"], med["ci-bot"] / med["timing-user"]))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
