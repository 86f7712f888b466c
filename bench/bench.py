#!/usr/bin/env python3
"""Airlock vs CNCF Distribution side-by-side benchmark driver.

Stdlib only.  Normally started by bench/run.sh, which installs the tools,
creates the scratch directory and cleans up.  Run `bench.py --help` for the
knobs; bench/README.md explains the measurements.

Both servers get exactly the same requests (HTTP Basic auth is sent to both;
Distribution runs without auth and ignores the header).  Each server is only
ever bound to 127.0.0.1 and is stopped by its own PID.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

MIB = 1 << 20
MB = 1e6  # throughput unit: MB/s = 10^6 bytes per second

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

SEND_BUF = 4 * MIB          # bounded client buffer for streamed bodies
HTTP_TIMEOUT = 300          # seconds, per socket operation
SLOW_RUN_S = 45             # a 1 GiB run slower than this -> no more reps
SMALL_BUDGET_S = 90         # cap for one small-blob rep


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


class ReqError(BenchError):
    """An HTTP request got an unexpected answer.  Carries everything needed
    to tell the Airlock engineer exactly what went wrong."""

    def __init__(self, server, method, url, status, headers, body, note=""):
        self.server, self.method, self.url = server, method, url
        self.status, self.headers, self.body, self.note = status, headers, body, note
        super().__init__(self.describe())

    def describe(self):
        body = self.body
        if isinstance(body, (bytes, bytearray)):
            body = bytes(body[:600]).decode("utf-8", "replace")
        hdrs = "; ".join(f"{k}: {v}" for k, v in (self.headers or []))
        return (f"{self.server}: {self.method} {self.url} -> status {self.status}"
                f"{' (' + self.note + ')' if self.note else ''}\n"
                f"      response headers: {hdrs[:600]}\n"
                f"      response body: {body!r}")


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid):
    """user+system CPU seconds of a process (all threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def proc_status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Server:
    """One registry process with a fresh data directory."""

    def __init__(self, side, kind, binary, args, generation):
        self.side = side                  # "airlock" / "distribution" (table column)
        self.kind = kind                  # "airlock" or "distribution" (what really runs)
        self.binary = binary
        self.args = args
        self.generation = generation
        self.proc = None
        self.port = None
        self.dir = None

    @property
    def name(self):
        return self.side if self.side == self.kind else f"{self.side}[stand-in:{self.kind}]"

    def start(self):
        a = self.args
        self.dir = os.path.join(a.data_root, f"{self.side}-{self.generation}")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        self.port = free_port()
        env = dict(os.environ)
        if self.kind == "airlock":
            env["AIRLOCK_ADMIN_PASSWORD"] = a.password
            env.setdefault("RUST_LOG", "warn")
            cmd = [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}",
                   "--data-dir", data]
        else:
            cfg = os.path.join(self.dir, "config.yml")
            with open(cfg, "w") as f:
                f.write(DISTRIBUTION_CONFIG.format(root=data, port=self.port))
            cmd = [self.binary, "serve", cfg]
        self.logpath = os.path.join(self.dir, "server.log")
        logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        logf.close()
        with open(a.pidfile, "a") as f:
            f.write(f"{self.proc.pid}\n")
        self.wait_ready()
        log(f"{self.name}: pid {self.proc.pid} on 127.0.0.1:{self.port}, data {data}")

    def log_tail(self, n=2000):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - n))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_ready(self):
        last = None
        for _ in range(300):                      # <= ~15 s
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with code {self.proc.returncode} "
                                 f"during start-up; log tail:\n{self.log_tail()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/v2/", headers={"Authorization": self.args.auth})
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200:
                    return
                last = ReqError(self.name, "GET", "/v2/", r.status, r.getheaders(), body,
                                "readiness probe with Basic auth admin:<password>")
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise BenchError(f"{self.name} not ready after 15 s; last probe: {last}\n"
                         f"log tail:\n{self.log_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            raise BenchError(f"{self.name} process died (exit {self.proc.returncode}); "
                             f"log tail:\n{self.log_tail()}")

    def hwm_mib(self):
        v = proc_status_kib(self.proc.pid, "VmHWM")
        return None if v is None else v / 1024

    def rss_mib(self):
        v = proc_status_kib(self.proc.pid, "VmRSS")
        return None if v is None else v / 1024

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid)

    def stop(self, keep_data=False):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()                 # by PID (Popen.terminate)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.dir and not keep_data:
            shutil.rmtree(self.dir, ignore_errors=True)

    def client(self):
        return Client(self)


DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  headers:
    X-Content-Type-Options: [nosniff]
"""


# ---------------------------------------------------------------- HTTP client

def url_path(location, request_path):
    """Turn a Location header (absolute URL, absolute path or relative
    reference) into a path+query usable on our loopback connection."""
    full = urllib.parse.urljoin(f"http://127.0.0.1{request_path}", location)
    p = urllib.parse.urlsplit(full)
    return p.path + (f"?{p.query}" if p.query else "")


def with_digest(path, digest):
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}digest={urllib.parse.quote(digest, safe='')}"


class Client:
    """Keep-alive HTTP/1.1 client bound to one server."""

    def __init__(self, server):
        self.server = server
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HTTP_TIMEOUT)
        self.auth = server.args.auth

    def close(self):
        self.conn.close()

    def req(self, method, path, body=None, headers=None, expect=(200,), note=""):
        h = {"Authorization": self.auth}
        if headers:
            h.update(headers)
        if body is None and method in ("PUT", "POST", "PATCH"):
            h.setdefault("Content-Length", "0")
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise ReqError(self.server.name, method, path, f"<no response: {e!r}>", [], b"", note)
        if r.status not in expect:
            raise ReqError(self.server.name, method, path, r.status, r.getheaders(), data,
                           note or f"expected {expect}")
        return r, data

    def send_file(self, method, path, f, length, headers, expect, note="", zero_copy=False):
        """Stream `length` bytes from file object f as the request body, through a
        bounded buffer, or with zero_copy by sendfile(2) from the page cache (the
        client then spends almost no CPU of its own, as a client on another
        machine would not spend any of the server's)."""
        c = self.conn
        try:
            c.putrequest(method, path, skip_accept_encoding=True)
            c.putheader("Authorization", self.auth)
            for k, v in headers.items():
                c.putheader(k, v)
            c.putheader("Content-Length", str(length))
            c.endheaders()
            if zero_copy:
                sent = c.sock.sendfile(f, offset=f.tell(), count=length)
                if sent != length:
                    raise BenchError(f"sendfile sent {sent} of {length} bytes")
            buf = bytearray(min(SEND_BUF, max(length, 1)))
            mv = memoryview(buf)
            remaining = 0 if zero_copy else length
            while remaining:
                n = f.readinto(mv[:min(len(buf), remaining)])
                if not n:
                    raise BenchError("source file shorter than expected")
                c.sock.sendall(mv[:n])
                remaining -= n
        except OSError as e:
            # The server may have answered early (e.g. 401/413) and closed.
            try:
                r = c.getresponse()
                data = r.read()
                c.close()
                raise ReqError(self.server.name, method, path, r.status, r.getheaders(), data,
                               f"server stopped reading the body early ({e!r})")
            except (OSError, http.client.HTTPException):
                c.close()
                raise ReqError(self.server.name, method, path,
                               f"<connection error while sending body: {e!r}>", [], b"", note)
        try:
            r = c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            c.close()
            raise ReqError(self.server.name, method, path, f"<no response: {e!r}>", [], b"", note)
        if r.status not in expect:
            raise ReqError(self.server.name, method, path, r.status, r.getheaders(), data,
                           note or f"expected {expect}")
        return r, data

    # ---- OCI helpers
    def start_upload(self, repo):
        path = f"/v2/{repo}/blobs/uploads/"
        r, _ = self.req("POST", path, expect=(202,), note="start blob upload")
        loc = r.getheader("Location")
        if not loc:
            raise ReqError(self.server.name, "POST", path, r.status, r.getheaders(), b"",
                           "202 without Location header")
        return url_path(loc, path)

    def push_small(self, repo, data, digest):
        up = self.start_upload(repo)
        url = with_digest(up, digest)
        self.req("PUT", url, body=data,
                 headers={"Content-Type": "application/octet-stream"},
                 expect=(201,), note="monolithic PUT of small blob")

    def head_blob(self, repo, digest, size):
        path = f"/v2/{repo}/blobs/{digest}"
        r, _ = self.req("HEAD", path, expect=(200,), note="HEAD of just-pushed blob")
        cl = r.getheader("Content-Length")
        if cl is not None and int(cl) != size:
            raise ReqError(self.server.name, "HEAD", path, r.status, r.getheaders(), b"",
                           f"Content-Length {cl} != pushed size {size}")


# ---------------------------------------------------------------- helpers

def run(cmd, **kw):
    return subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        buf = bytearray(4 * MIB)
        mv = memoryview(buf)
        while True:
            n = f.readinto(mv)
            if not n:
                break
            h.update(mv[:n])
    return "sha256:" + h.hexdigest()


def median(xs):
    return statistics.median(xs) if xs else None


def children_cpu():
    r = os.times()
    return r.children_user + r.children_system


def self_cpu():
    r = os.times()
    return r.user + r.system


def sync():
    os.sync()


def touch_shm(args, mib):
    """Write `mib` MiB into a tmpfs file and free it again; returns the seconds it took."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else args.workdir
    path = os.path.join(shm, f"airlock-bench-warm-{os.getpid()}")
    t = time.perf_counter()
    try:
        with open(path, "wb") as f:
            z = bytes(8 * MIB)
            for _ in range((mib + 7) // 8):
                f.write(z)
    except OSError as e:
        log(f"memory warm-up stopped early: {e}")
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    return time.perf_counter() - t


def warm_memory(args):
    """Touch free RAM once so that first-touch cost of guest pages in a VM
    does not land on whichever server happens to run first."""
    if args.warm_gib <= 0:
        return
    avail = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    gib = min(args.warm_gib, max(0, avail // (1 << 30) - 4))
    if gib <= 0:
        return
    log(f"warmed {gib} GiB of RAM in {touch_shm(args, gib * 1024):.1f}s")


def warm_for_rep(args):
    """Right before a timed 1 GiB push: touch and free a little more memory than the
    push will take. A VM whose balloon device reports free pages to the host
    (virtio-balloon free page reporting) hands freed memory back a few seconds after
    it is freed, and the next write to such a page costs a host page fault — up to
    ~3.5 CPU-s per GiB, more than the push itself. The allocator prefers the pages
    freed just now, so every side of every rep writes into memory the guest still
    holds, instead of whichever side comes after a pause paying for the host."""
    if args.rep_warm:
        touch_shm(args, args.blob_mib + args.blob_mib // 4)


# ---------------------------------------------------------------- blob files

def make_blobs(args, count):
    """count distinct 1 GiB (blob_mib) random files: one random base file,
    copies of it with a different random first 4 KiB."""
    size = args.blob_mib * MIB
    files = []
    base = os.path.join(args.workdir, "blob-0.bin")
    t = time.perf_counter()
    with open(base, "wb") as f:
        remaining = size
        while remaining:
            n = min(8 * MIB, remaining)
            f.write(os.urandom(n))
            remaining -= n
    for i in range(count):
        p = os.path.join(args.workdir, f"blob-{i}.bin")
        if i:
            shutil.copyfile(base, p)
            with open(p, "r+b") as f:
                f.write(os.urandom(4096))
        files.append((p, size, file_sha256(p)))
    sync()
    log(f"generated {count} x {args.blob_mib} MiB random blobs in {time.perf_counter() - t:.1f}s")
    return files


# ---------------------------------------------------------------- measurements

def storage_ceiling(args, blob):
    """Copy the blob file into the data root and fsync it: what the storage
    under the servers' data dirs can absorb (Distribution fsyncs blob data
    on commit, so on a real disk this caps both servers)."""
    path, size, _ = blob
    dst = os.path.join(args.data_root, "ceiling.bin")
    runs = []
    for _ in range(args.reps):
        sync()
        warm_for_rep(args)
        t = time.perf_counter()
        with open(path, "rb") as f, open(dst, "wb") as g:
            buf = bytearray(4 * MIB)
            mv = memoryview(buf)
            while True:
                n = f.readinto(mv)
                if not n:
                    break
                g.write(mv[:n])
            g.flush()
            os.fsync(g.fileno())
        runs.append(size / (time.perf_counter() - t) / MB)
        os.unlink(dst)
    return {"write_fsync_mb_s": median(runs), "runs": runs}


def sha256_speed(args):
    res = {}
    buf = os.urandom(MIB)
    runs = []
    for _ in range(3):
        h = hashlib.sha256()
        t = time.perf_counter()
        for _ in range(1024):
            h.update(buf)
        runs.append((1 << 30) / (time.perf_counter() - t) / MB)
    res["python_hashlib_mb_s"] = median(runs)
    r = run(["openssl", "speed", "-evp", "sha256", "-bytes", str(MIB), "-seconds", "3"])
    m = re.search(r"^sha256\s+([\d.]+)k", r.stdout, re.M)
    res["openssl_mb_s"] = float(m.group(1)) * 1000 / MB if m else None
    # Reference for the "% of SHA-256" target: the faster of the two.
    res["reference_mb_s"] = max(v for v in (res["openssl_mb_s"], res["python_hashlib_mb_s"]) if v)
    return res


FLOOR_MODES = ("receive", "hash", "write", "hash+write")


class FloorSink:
    """The push_floor example (crates/storage/examples: a native sink doing only the
    work every verifying registry must do for a push — receive, SHA-256 on one
    thread, write + fsync on another, into the data root) in one mode. It stands in
    the push reps like a server (side "floor"), so each rep measures the servers and
    the floor back to back under the same machine conditions."""

    side = name = "floor"

    def __init__(self, args, mode):
        self.args, self.mode = args, mode
        self.port = free_port()
        self.proc = subprocess.Popen([args.floor_bin, str(self.port), args.data_root, mode],
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        with open(args.pidfile, "a") as f:
            f.write(f"{self.proc.pid}\n")
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise BenchError(f"push floor ({mode}) did not start")

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError(f"push floor ({self.mode}) exited with {self.proc.returncode}")

    def push(self, blob):
        path, size, digest = blob
        cpu0, ccpu0 = proc_cpu_seconds(self.proc.pid), children_cpu()
        hdrf = os.path.join(self.args.workdir, "floor.hdr")
        r = run(["curl", "-sS", "-X", "PUT", "-T", path, "-H", "Expect:",
                 "--max-time", str(HTTP_TIMEOUT), "-D", hdrf, "-o", "/dev/null",
                 "-w", "%{http_code} %{time_total}", f"http://127.0.0.1:{self.port}/floor"])
        parts = r.stdout.split()
        if r.returncode != 0 or not parts or parts[0] != "201":
            raise BenchError(f"push floor ({self.mode}): curl rc {r.returncode}, "
                             f"{r.stdout} {r.stderr.strip()}")
        hdr = open(hdrf, "rb").read().decode("latin-1").lower()
        if "hash" in self.mode and f"x-body-digest: {digest}" not in hdr:
            raise BenchError(f"push floor ({self.mode}): the sink hashed something else")
        dt = float(parts[1])
        return {"mb_s": size / dt / MB, "seconds": dt,
                "server_cpu_s": proc_cpu_seconds(self.proc.pid) - cpu0,
                "client_cpu_s": children_cpu() - ccpu0}

    def push_sendfile(self, blob):
        """The same PUT from the sendfile client (Client.send_file zero_copy)."""
        path, size, digest = blob
        cl = Client(self)
        cpu0, ucpu0 = proc_cpu_seconds(self.proc.pid), self_cpu()
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            r, _ = cl.send_file("PUT", "/floor", f, size, {}, (201,),
                                f"push floor ({self.mode}), sendfile client", zero_copy=True)
        dt = time.perf_counter() - t0
        cl.close()
        if "hash" in self.mode and r.getheader("X-Body-Digest") != digest:
            raise BenchError(f"push floor ({self.mode}): the sink hashed something else")
        return {"mb_s": size / dt / MB, "seconds": dt,
                "server_cpu_s": proc_cpu_seconds(self.proc.pid) - cpu0,
                "client_cpu_s": self_cpu() - ucpu0}

    def stop(self, keep_data=False):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def floor_available(args):
    ok = os.path.isfile(args.floor_bin) and os.access(args.floor_bin, os.X_OK)
    if not ok:
        log(f"push floor skipped: {args.floor_bin} not built")
    return ok


def push_floor(args, blobs):
    """`curl -T` each blob into the floor sink in each mode (what receiving, hashing
    and writing each cost here), with CPU-seconds per GiB of sink and curl."""
    out = {}
    for mode in FLOOR_MODES:
        sink = FloorSink(args, mode)
        try:
            runs = []
            for rep in range(args.reps):
                sync()
                time.sleep(0.3)
                warm_for_rep(args)
                runs.append(sink.push(blobs[rep]))
        finally:
            sink.stop()
        gib = blobs[0][1] / (1 << 30)
        out[mode] = {"median": median([r["mb_s"] for r in runs]),
                     "runs": [r["mb_s"] for r in runs],
                     "sink_cpu_s_per_gib": median([r["server_cpu_s"] / gib for r in runs]),
                     "curl_cpu_s_per_gib": median([r["client_cpu_s"] / gib for r in runs])}
        log(f"push floor {mode}: {out[mode]}")
    return out


def push_mono_curl(srv, repo, blob):
    path, size, digest = blob
    cl = srv.client()
    cpu0, ccpu0 = srv.cpu(), children_cpu()
    t0 = time.perf_counter()
    up = cl.start_upload(repo)
    url = f"http://127.0.0.1:{srv.port}" + with_digest(up, digest)
    with open(os.path.join(srv.args.workdir, "curl.hdr"), "wb"):
        pass
    bodyf = os.path.join(srv.args.workdir, "curl.body")
    hdrf = os.path.join(srv.args.workdir, "curl.hdr")
    r = run(["curl", "-sS", "-X", "PUT", "-T", path,
             "-H", "Content-Type: application/octet-stream", "-H", "Expect:",
             "-H", f"Authorization: {srv.args.auth}", "--max-time", str(HTTP_TIMEOUT),
             "-D", hdrf, "-o", bodyf, "-w", "%{http_code} %{size_upload} %{time_total}", url])
    t1 = time.perf_counter()
    cpu1, ccpu1 = srv.cpu(), children_cpu()
    parts = r.stdout.split()
    code = parts[0] if parts else "?"
    if r.returncode != 0 or code != "201":
        body = open(bodyf, "rb").read() if os.path.exists(bodyf) else b""
        hdr = open(hdrf, "rb").read().decode("latin-1") if os.path.exists(hdrf) else ""
        raise ReqError(srv.name, "PUT", with_digest(up, digest), code,
                       [("raw", hdr.replace("\r\n", " | "))], body,
                       f"monolithic 1 GiB PUT via curl -T (curl rc {r.returncode}: {r.stderr.strip()})")
    if int(float(parts[1])) != size:
        raise BenchError(f"{srv.name}: curl uploaded {parts[1]} bytes, expected {size}")
    cl.head_blob(repo, digest, size)
    cl.close()
    dt = t1 - t0
    return {"mb_s": size / dt / MB, "seconds": dt, "server_cpu_s": cpu1 - cpu0,
            "client_cpu_s": ccpu1 - ccpu0}


def push_mono_python(srv, repo, blob, zero_copy=False):
    path, size, digest = blob
    cl = srv.client()
    cpu0, ucpu0 = srv.cpu(), self_cpu()
    t0 = time.perf_counter()
    up = cl.start_upload(repo)
    with open(path, "rb") as f:
        cl.send_file("PUT", with_digest(up, digest), f, size,
                     {"Content-Type": "application/octet-stream"}, (201,),
                     "monolithic 1 GiB PUT (python client"
                     + (", sendfile)" if zero_copy else ")"), zero_copy=zero_copy)
    t1 = time.perf_counter()
    cpu1, ucpu1 = srv.cpu(), self_cpu()
    cl.head_blob(repo, digest, size)
    cl.close()
    dt = t1 - t0
    return {"mb_s": size / dt / MB, "seconds": dt, "server_cpu_s": cpu1 - cpu0,
            "client_cpu_s": ucpu1 - ucpu0}


def push_chunked(srv, repo, blob, chunk):
    path, size, digest = blob
    cl = srv.client()
    cpu0, ucpu0 = srv.cpu(), self_cpu()
    t0 = time.perf_counter()
    up = cl.start_upload(repo)
    off = 0
    with open(path, "rb") as f:
        while off < size:
            n = min(chunk, size - off)
            r, _ = cl.send_file("PATCH", up, f, n,
                                {"Content-Type": "application/octet-stream",
                                 "Content-Range": f"{off}-{off + n - 1}"}, (202,),
                                f"PATCH chunk bytes {off}-{off + n - 1}")
            loc = r.getheader("Location")
            if not loc:
                raise ReqError(srv.name, "PATCH", up, r.status, r.getheaders(), b"",
                               "202 without Location header")
            rng = r.getheader("Range")
            if rng is not None and rng.replace("bytes=", "") != f"0-{off + n - 1}":
                raise ReqError(srv.name, "PATCH", up, r.status, r.getheaders(), b"",
                               f"Range header {rng!r}, expected '0-{off + n - 1}'")
            up = url_path(loc, up.split("?")[0])
            off += n
    cl.req("PUT", with_digest(up, digest), expect=(201,),
           note="final PUT (empty body) closing the chunked upload")
    t1 = time.perf_counter()
    cpu1, ucpu1 = srv.cpu(), self_cpu()
    cl.head_blob(repo, digest, size)
    cl.close()
    dt = t1 - t0
    return {"mb_s": size / dt / MB, "seconds": dt, "server_cpu_s": cpu1 - cpu0,
            "client_cpu_s": ucpu1 - ucpu0}


def pull_curl(srv, repo, blob):
    path, size, digest = blob
    url = f"http://127.0.0.1:{srv.port}/v2/{repo}/blobs/{digest}"
    cpu0, ccpu0 = srv.cpu(), children_cpu()
    t0 = time.perf_counter()
    r = run(["curl", "-sS", "-o", "/dev/null", "-H", f"Authorization: {srv.args.auth}",
             "--max-time", str(HTTP_TIMEOUT),
             "-w", "%{http_code} %{size_download} %{time_total}", url])
    t1 = time.perf_counter()
    cpu1, ccpu1 = srv.cpu(), children_cpu()
    parts = r.stdout.split()
    code = parts[0] if parts else "?"
    if r.returncode != 0 or code != "200" or int(float(parts[1])) != size:
        # repeat with a small client to capture headers/body for the report
        cl = srv.client()
        cl.req("GET", f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=0-0"},
               expect=(200, 206), note="re-probe after failed pull")
        raise BenchError(f"{srv.name}: GET /v2/{repo}/blobs/{digest} via curl: status {code}, "
                         f"{parts[1] if len(parts) > 1 else '?'} bytes (expected 200 / {size}); "
                         f"curl rc {r.returncode} {r.stderr.strip()}")
    dt = t1 - t0
    return {"mb_s": size / dt / MB, "seconds": dt, "server_cpu_s": cpu1 - cpu0,
            "client_cpu_s": ccpu1 - ccpu0}


def verify_pull(srv, repo, blob):
    path, size, digest = blob
    cl = srv.client()
    p = f"/v2/{repo}/blobs/{digest}"
    cl.conn.request("GET", p, headers={"Authorization": cl.auth})
    r = cl.conn.getresponse()
    if r.status != 200:
        data = r.read()
        raise ReqError(srv.name, "GET", p, r.status, r.getheaders(), data, "digest verification pull")
    h = hashlib.sha256()
    n = 0
    while True:
        b = r.read(4 * MIB)
        if not b:
            break
        n += len(b)
        h.update(b)
    cl.close()
    got = "sha256:" + h.hexdigest()
    if got != digest or n != size:
        raise BenchError(f"{srv.name}: pulled blob has digest {got} / {n} bytes, "
                         f"expected {digest} / {size}")
    dcd = r.getheader("Docker-Content-Digest")
    return {"ok": True, "docker_content_digest_header": dcd}


def small_blob_set(count, rep):
    rnd = random.Random(1000 + rep)
    out = []
    for i in range(count):
        size = rnd.randint(1024, 4096)
        prefix = f"airlock-bench rep {rep} blob {i}\n".encode()
        data = prefix + os.urandom(size - len(prefix))
        out.append((data, "sha256:" + hashlib.sha256(data).hexdigest()))
    return out


def push_small_many(srv, repo, blobs):
    cl = srv.client()
    cpu0, ucpu0 = srv.cpu(), self_cpu()
    t0 = time.perf_counter()
    done = 0
    for data, digest in blobs:
        cl.push_small(repo, data, digest)
        done += 1
        if done % 100 == 0 and time.perf_counter() - t0 > SMALL_BUDGET_S:
            break
    t1 = time.perf_counter()
    cpu1, ucpu1 = srv.cpu(), self_cpu()
    # spot check the first and the last blob
    cl.head_blob(repo, blobs[0][1], len(blobs[0][0]))
    cl.head_blob(repo, blobs[done - 1][1], len(blobs[done - 1][0]))
    cl.close()
    dt = t1 - t0
    return {"blobs_s": done / dt, "count": done, "seconds": dt,
            "server_cpu_s": cpu1 - cpu0, "client_cpu_s": ucpu1 - ucpu0,
            "partial": done < len(blobs)}


def push_image(srv, repo, tag):
    cl = srv.client()
    layer = b"airlock-bench layer\n" + os.urandom(32 * 1024)
    layer_d = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [layer_d]}},
                        separators=(",", ":")).encode()
    config_d = "sha256:" + hashlib.sha256(config).hexdigest()
    cl.push_small(repo, config, config_d)
    cl.push_small(repo, layer, layer_d)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_d, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_d, "size": len(layer)}],
    }, indent=2).encode()
    man_d = "sha256:" + hashlib.sha256(manifest).hexdigest()
    cl.req("PUT", f"/v2/{repo}/manifests/{tag}", body=manifest,
           headers={"Content-Type": OCI_MANIFEST}, expect=(201,), note="manifest PUT")
    p = f"/v2/{repo}/manifests/{tag}"
    r, data = cl.req("GET", p, headers={"Accept": OCI_MANIFEST}, expect=(200,),
                     note="manifest GET check")
    problems = []
    if data != manifest:
        problems.append("body differs from the pushed manifest bytes")
    if (r.getheader("Content-Type") or "").split(";")[0].strip() != OCI_MANIFEST:
        problems.append(f"Content-Type {r.getheader('Content-Type')!r}")
    if r.getheader("Docker-Content-Digest") not in (None, man_d):
        problems.append(f"Docker-Content-Digest {r.getheader('Docker-Content-Digest')!r} != {man_d}")
    if problems:
        raise ReqError(srv.name, "GET", p, r.status, r.getheaders(), data, "; ".join(problems))
    cl.close()
    return len(manifest)


def parse_wrk(out):
    res = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", out)
    if m:
        res["requests"] = int(m.group(1))
        unit = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}.get(m.group(5), 1)
        res["bytes_read"] = float(m.group(4)) * unit
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                    map(int, m.groups()))) if m else {}
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            mult = {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
            res[f"p{q}_ms"] = float(m.group(1)) * mult
    return res


def manifest_wrk(srv, repo, tag, man_len, args, warm=True, auth=None, conns=None):
    url = f"http://127.0.0.1:{srv.port}/v2/{repo}/manifests/{tag}"
    conns = conns or args.wrk_conns
    base = ["wrk", "-t", str(min(args.wrk_threads, conns)), "-c", str(conns), "--timeout", "5s",
            "-H", f"Authorization: {auth or args.auth}", "-H", f"Accept: {OCI_MANIFEST}"]
    if warm:
        run(base + ["-d", "2s", url], timeout=60)
    cpu0 = srv.cpu()
    r = run(base + ["--latency", "-d", f"{args.wrk_seconds}s", url],
            timeout=args.wrk_seconds + 60)
    cpu1 = srv.cpu()
    res = parse_wrk(r.stdout)
    res["server_cpu_s"] = cpu1 - cpu0
    res["raw"] = r.stdout
    if r.returncode != 0 or res["rps"] is None:
        raise BenchError(f"{srv.name}: wrk failed (rc {r.returncode}): {r.stdout} {r.stderr}")
    if res["non_2xx"]:
        # capture one failing answer for the report
        cl = srv.client()
        try:
            cl.req("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST},
                   expect=(200,), note="single GET after wrk saw errors")
        except ReqError as e:
            raise BenchError(f"{srv.name}: wrk saw {res['non_2xx']} non-2xx responses "
                             f"out of {res.get('requests')}; one sample:\n  {e}")
        raise BenchError(f"{srv.name}: wrk saw {res['non_2xx']} non-2xx responses out of "
                         f"{res.get('requests')} (a single GET afterwards returned 200)")
    if res.get("requests") and res.get("bytes_read"):
        per = res["bytes_read"] / res["requests"]
        res["bytes_per_response"] = per
        if per < man_len * 0.9:
            raise BenchError(f"{srv.name}: wrk read {per:.0f} bytes/response on average, "
                             f"less than the {man_len}-byte manifest: responses are not the manifest")
    return res


def fetch_token(srv, args, repo):
    """A Bearer JWT for pulling `repo`, from Airlock's /token."""
    cl = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=HTTP_TIMEOUT)
    cl.request("GET", f"/token?service=airlock&scope=repository:{repo}:pull",
               headers={"Authorization": args.auth})
    r = cl.getresponse()
    body = r.read()
    cl.close()
    if r.status != 200:
        raise ReqError(srv.name, "GET", "/token", r.status, r.getheaders(), body)
    return json.loads(body)["token"]


def token_wrk(srv, args, repo):
    """Token issue latency: GET /token (Basic credentials verified, scopes authorized,
    ES256 JWT signed) from one connection, so latency is per request."""
    url = f"http://127.0.0.1:{srv.port}/token?service=airlock&scope=repository:{repo}:pull,push"
    base = ["wrk", "-t", "1", "-c", "1", "--timeout", "5s", "-H", f"Authorization: {args.auth}"]
    run(base + ["-d", "2s", url], timeout=60)
    r = run(base + ["--latency", "-d", f"{args.wrk_seconds}s", url], timeout=args.wrk_seconds + 60)
    res = parse_wrk(r.stdout)
    if r.returncode != 0 or res["rps"] is None or res["non_2xx"]:
        raise BenchError(f"{srv.name}: wrk on /token failed: {r.stdout} {r.stderr}")
    return res


# ---------------------------------------------------------------- orchestration

class Bench:
    def __init__(self, args):
        self.args = args
        self.generation = 0
        self.servers = []
        self.results = {"airlock": {}, "distribution": {}, "floor": {}}
        self.errors = []        # (measurement, side, message)
        self.notes = []

    def fresh_servers(self):
        for s in self.servers:
            s.stop()
        self.servers = []
        self.generation += 1
        a = self.args
        pair = []
        for side in ("airlock", "distribution"):
            if side == "airlock" and not a.standin:
                pair.append(Server("airlock", "airlock", a.airlock_bin, a, self.generation))
            else:
                pair.append(Server(side, "distribution", a.distribution_bin, a, self.generation))
        started = []
        for s in pair:
            self.servers.append(s)
            try:
                s.start()
                started.append(s)
            except Exception as e:  # noqa: BLE001 - report, carry on with the other
                self.record_error(f"start (generation {self.generation})", s, e)
                s.stop(keep_data=True)
        if not started:
            raise BenchError("no server could be started")
        return started

    def stop_all(self):
        for s in self.servers:
            s.stop(keep_data=self.args.keep)
        self.servers = []

    def record_error(self, what, srv, e):
        msg = str(e)
        self.errors.append({"measurement": what, "server": srv.name, "error": msg})
        log(f"ERROR in {what} on {srv.name}:\n  {msg}")

    def reps(self, what, pair, fn, key, reps=None, warm=False):
        """Run fn(server, rep) `reps` times per server, alternating which
        server goes first, sync'ing dirty pages before each run (and with `warm`,
        warming memory for it: warm_for_rep)."""
        reps = reps or self.args.reps
        runs = {s.side: [] for s in pair}
        failed = set()
        for rep in range(reps):
            order = pair if rep % 2 == 0 else list(reversed(pair))
            for s in order:
                if s.side in failed:
                    continue
                if rep > 0 and runs[s.side] and runs[s.side][-1].get("seconds", 0) > SLOW_RUN_S:
                    continue      # too slow to repeat within the time budget
                sync()
                time.sleep(0.3)
                if warm:
                    warm_for_rep(self.args)
                try:
                    s.check_alive()
                    r = fn(s, rep)
                except Exception as e:   # noqa: BLE001 - report and go on
                    failed.add(s.side)
                    self.record_error(what, s, e)
                    continue
                runs[s.side].append(r)
                log(f"{what} rep {rep + 1} {s.name}: {r[key]:.1f} "
                    f"(server cpu {r.get('server_cpu_s', float('nan')):.2f}s, "
                    f"client cpu {r.get('client_cpu_s', float('nan')):.2f}s, "
                    f"{r.get('seconds', 0):.2f}s)")
        for s in pair:
            vals = [r[key] for r in runs[s.side]]
            self.results[s.side][what] = {
                "median": median(vals) if s.side not in failed else None,
                "runs": vals, "detail": runs[s.side],
                "error": s.side in failed,
            }
        return runs

    def reps_with_floor(self, what, pair, floor, push, push_floor_sink):
        """Monolithic push reps (memory warmed before each) with the hash+write floor
        sink, when built, taking its turn beside the servers."""
        sink = FloorSink(self.args, "hash+write") if floor else None
        try:
            self.reps(what, pair + ([sink] if sink else []),
                      lambda s, rep: push_floor_sink(s, rep) if s is sink else push(s, rep),
                      "mb_s", warm=True)
        finally:
            if sink:
                sink.stop()

    def run(self):
        a = self.args
        t_start = time.perf_counter()
        self.results["machine"] = machine_facts()
        self.results["config"] = {
            "blob_mib": a.blob_mib, "chunk_mib": a.chunk_mib, "reps": a.reps,
            "small_count": a.small_count, "wrk": f"-t{a.wrk_threads} -c{a.wrk_conns} -d{a.wrk_seconds}s",
            "data_root": a.data_root, "airlock_bin": a.airlock_bin, "standin": a.standin,
            "rep_warm": a.rep_warm,
            "distribution_bin": a.distribution_bin,
            "distribution_version": run([a.distribution_bin, "--version"]).stdout.strip(),
        }
        warm_memory(a)
        log("measuring single-core SHA-256 speed")
        self.results["sha256"] = sha256_speed(a)
        log(f"sha256: {self.results['sha256']}")

        blobs = make_blobs(a, a.reps + 1)
        chunk = a.chunk_mib * MIB
        self.results["storage"] = storage_ceiling(a, blobs[0])
        log(f"storage ceiling (write+fsync into {a.data_root}): {self.results['storage']}")
        floor = floor_available(a)
        self.results["push_floor"] = push_floor(a, blobs) if floor else None

        # Phase 1: monolithic pushes on fresh servers -> peak RSS (mono)
        pair = self.fresh_servers()
        self.reps_with_floor("push_mono", pair, floor,
                             lambda s, rep: push_mono_curl(s, "bench/mono", blobs[rep]),
                             lambda sink, rep: sink.push(blobs[rep]))
        self.reps("push_mono_python", pair,
                  lambda s, rep: push_mono_python(s, "bench/monopy", blobs[a.reps]), "mb_s", reps=1,
                  warm=True)
        for s in pair:
            ok = s.alive() and self.results[s.side]["push_mono"]["runs"]
            self.results[s.side]["rss_hwm_mono_mib"] = s.hwm_mib() if ok else None

        # Phase 1b: the same monolithic pushes from a client that sends by sendfile(2),
        # on fresh servers, with the floor sink in every rep. curl spends about half a
        # CPU-second per GiB reading and sending; on two cores that is taken from the
        # server, while a client on another machine takes nothing from it.
        pair = self.fresh_servers()
        self.reps_with_floor("push_mono_sendfile", pair, floor,
                             lambda s, rep: push_mono_python(s, "bench/monosf", blobs[rep],
                                                             zero_copy=True),
                             lambda sink, rep: sink.push_sendfile(blobs[rep]))

        # Phase 2: chunked pushes on fresh servers -> peak RSS (chunked),
        # then pulls, small blobs and manifest GETs on the same servers.
        pair = self.fresh_servers()
        self.reps("push_chunked", pair,
                  lambda s, rep: push_chunked(s, "bench/chunked", blobs[rep], chunk), "mb_s",
                  warm=True)
        for s in pair:
            ok = s.alive() and self.results[s.side]["push_chunked"]["runs"]
            self.results[s.side]["rss_hwm_chunked_mib"] = s.hwm_mib() if ok else None
            m = [v for v in (self.results[s.side].get("rss_hwm_mono_mib"),
                             self.results[s.side]["rss_hwm_chunked_mib"]) if v is not None]
            self.results[s.side]["rss_hwm_push_mib"] = max(m) if m else None

        # Pull: the blob pushed in chunked rep 0 must exist on both servers.
        pullable = {s.side: bool(self.results[s.side]["push_chunked"]["runs"]) for s in pair}
        for s in pair:
            if not pullable[s.side]:
                self.record_error("pull", s, BenchError("skipped: chunked push failed, nothing to pull"))
        pull_pair = [s for s in pair if pullable[s.side]]
        for s in pull_pair:
            try:
                self.results[s.side]["pull_verify"] = verify_pull(s, "bench/chunked", blobs[0])
                log(f"{s.name}: pulled blob digest verified")
            except Exception as e:  # noqa: BLE001
                self.record_error("pull_verify", s, e)
        if pull_pair:
            self.reps("pull", pull_pair, lambda s, rep: pull_curl(s, "bench/chunked", blobs[0]), "mb_s")
        for s in pair:
            self.results[s.side]["rss_hwm_after_pull_mib"] = s.hwm_mib() if s.alive() else None

        # Small blobs
        log(f"generating {a.reps} x {a.small_count} small blobs")
        sets = [small_blob_set(a.small_count, rep) for rep in range(a.reps)]
        self.reps("small_push", pair,
                  lambda s, rep: push_small_many(s, f"bench/small{rep}", sets[rep]), "blobs_s")

        # Manifest GET
        mlen = {}
        for s in pair:
            try:
                s.check_alive()
                mlen[s.side] = push_image(s, "bench/app", "v1")
            except Exception as e:  # noqa: BLE001
                self.record_error("manifest_get", s, e)
                self.results[s.side]["manifest_get"] = {"median": None, "error": True}
        for s in pair:
            if s.side not in mlen:
                continue
            sync()
            try:
                r = manifest_wrk(s, "bench/app", "v1", mlen[s.side], a)
                log(f"manifest GET {s.name}: {r['rps']:.0f} req/s, p50 {r.get('p50_ms')} ms, "
                    f"p99 {r.get('p99_ms')} ms, server cpu {r['server_cpu_s']:.1f}s")
                self.results[s.side]["manifest_get"] = {"median": r["rps"], "runs": [r["rps"]],
                                                        "detail": r, "error": False}
            except Exception as e:  # noqa: BLE001
                self.record_error("manifest_get", s, e)
                self.results[s.side]["manifest_get"] = {"median": None, "error": True}
        # Token service (Airlock only: Distribution has none here). Per-request cost of
        # authorization: manifest GET from one connection with Basic vs a Bearer JWT.
        for s in pair:
            if s.side != "airlock" or s.side not in mlen or self.args.standin:
                continue
            try:
                t = token_wrk(s, a, "bench/app")
                jwt = fetch_token(s, a, "bench/app")
                basic = manifest_wrk(s, "bench/app", "v1", mlen[s.side], a, conns=1)
                bearer = manifest_wrk(s, "bench/app", "v1", mlen[s.side], a, conns=1,
                                      auth=f"Bearer {jwt}")
                self.results[s.side]["token"] = {"issue": t, "get_basic": basic, "get_bearer": bearer}
                log(f"token issue {s.name}: p50 {t.get('p50_ms')} ms, p99 {t.get('p99_ms')} ms, "
                    f"{t['rps']:.0f}/s; manifest GET 1 conn p99 basic {basic.get('p99_ms')} ms, "
                    f"bearer {bearer.get('p99_ms')} ms")
            except Exception as e:  # noqa: BLE001
                self.record_error("token", s, e)
        for s in pair:
            self.results[s.side]["rss_hwm_final_mib"] = s.hwm_mib() if s.alive() else None
            self.results[s.side]["rss_final_mib"] = s.rss_mib() if s.alive() else None
        self.stop_all()
        self.results["errors"] = self.errors
        self.results["wall_seconds"] = time.perf_counter() - t_start
        return self.results


def machine_facts():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        flags = open("/proc/cpuinfo").read()
        sha_ni = " sha_ni" in flags
    except OSError:
        sha_ni = None
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {"nproc": os.cpu_count(), "cpu_model": model, "sha_ni": sha_ni, "mem_total": mem,
            "kernel": platform.release(), "python": platform.python_version(),
            "curl": run(["curl", "--version"]).stdout.split("\n")[0].split(" (")[0],
            "wrk": run(["wrk", "-v"]).stdout.split("\n")[0].split(" Copyright")[0]}


# ---------------------------------------------------------------- report

def fmt(v, nd=1):
    if v is None:
        return "ERROR"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{nd}f}"


def cpu_bound(nproc, cpu_s_per_gib):
    """MB/s at which pushes costing this many CPU-seconds per GiB keep `nproc` cores busy."""
    return nproc * (1 << 30) / cpu_s_per_gib / MB


def report(res, args):
    A, D = res["airlock"], res["distribution"]
    sha = res["sha256"]["reference_mb_s"]
    aname = "Airlock" if not args.standin else "Airlock*"
    lines = []
    m = res["machine"]
    lines.append(f"Airlock vs Distribution benchmark — {time.strftime('%Y-%m-%d %H:%M %Z')}")
    lines.append(f"machine: {m['nproc']} cores, {m['cpu_model']}, sha_ni={m['sha_ni']}, "
                 f"RAM {m['mem_total']}, kernel {m['kernel']}")
    c = res["config"]
    lines.append(f"distribution: {c['distribution_version']} | airlock: {c['airlock_bin']}"
                 + ("  (*STAND-IN: distribution runs in the Airlock column)" if args.standin else ""))
    lines.append(f"blob {c['blob_mib']} MiB, chunks {c['chunk_mib']} MiB, {c['reps']} reps (median), "
                 f"{c['small_count']} small blobs, wrk {c['wrk']}, data dir {c['data_root']}, "
                 f"memory warmed before each push rep: {'yes' if c.get('rep_warm') else 'no'}, "
                 f"MB = 10^6 bytes")
    lines.append(f"single-core SHA-256: openssl {fmt(res['sha256']['openssl_mb_s'])} MB/s, "
                 f"python hashlib {fmt(res['sha256']['python_hashlib_mb_s'])} MB/s "
                 f"(reference for % = {fmt(sha)} MB/s)")
    lines.append(f"storage ceiling: write+fsync of the {c['blob_mib']} MiB file into the data dir "
                 f"{fmt(res['storage']['write_fsync_mb_s'])} MB/s (Distribution fsyncs blobs on commit)")
    fl = res.get("push_floor")
    if fl:
        parts = ", ".join(f"{m} {fmt(fl[m]['median'])}" for m in FLOOR_MODES if m in fl)
        lines.append(f"push floor (curl -T into the push_floor example, a native sink doing only "
                     f"receive / SHA-256 / write+fsync, MB/s): {parts}")
        hw = fl.get("hash+write")
        if hw:
            bound = cpu_bound(m["nproc"], hw["sink_cpu_s_per_gib"] + hw["curl_cpu_s_per_gib"])
            lines.append(f"  hash+write costs {hw['sink_cpu_s_per_gib']:.2f} CPU-s/GiB in the sink + "
                         f"{hw['curl_cpu_s_per_gib']:.2f} in curl: even with all {m['nproc']} cores "
                         f"busy all the time, no verifying server pushes faster than "
                         f"{fmt(bound)} MB/s here ({100 * bound / sha:.0f}% of SHA-256)")
    sf = res.get("floor", {}).get("push_mono_sendfile")
    if isinstance(sf, dict) and sf.get("detail"):
        gib = c["blob_mib"] / 1024
        sink_cpu = median([d["server_cpu_s"] / gib for d in sf["detail"]])
        cli_cpu = median([d["client_cpu_s"] / gib for d in sf["detail"]])
        bound = cpu_bound(m["nproc"], sink_cpu + cli_cpu)
        lines.append(f"  from the sendfile client (phase 1b): {sink_cpu:.2f} CPU-s/GiB in the sink + "
                     f"{cli_cpu:.2f} in the client → at most {fmt(bound)} MB/s "
                     f"({100 * bound / sha:.0f}% of SHA-256)")
    lines.append("")

    def med(side, key):
        v = side.get(key)
        return v.get("median") if isinstance(v, dict) else v

    def ratio(a, d):
        return None if not a or not d else a / d

    rows = []

    def row(label, key, unit_better_high=True, target=None):
        a, d = med(A, key), med(D, key)
        r = ratio(a, d)
        verdict, tgt = "", ""
        if target:
            tgt, verdict = target(a, d, r)
        rows.append((label, fmt(a), fmt(d), "—" if r is None else f"{r:.2f}×", tgt, verdict))

    def pf(ok):
        return "PASS" if ok else "MISS"

    def push_target(a, d, r):
        if a is None or d is None:
            return "≥1.3× D", "ERROR"
        return "≥1.3× D", pf(r >= 1.3)

    def sha_target_row(label, key):
        a, d = med(A, key), med(D, key)
        pa = None if a is None else 100 * a / sha
        pd = None if d is None else 100 * d / sha
        rows.append((label, "ERROR" if pa is None else f"{pa:.0f}%",
                     "ERROR" if pd is None else f"{pd:.0f}%", "", "≥70% SHA",
                     "ERROR" if pa is None else pf(pa >= 70)))

    def floor_row(label, key, floor_key="push_mono"):
        # The floor pushed in the same reps as the servers (paired, by the same
        # client), else the one measured up front.
        hw = med(res.get("floor", {}), floor_key) or \
            (res.get("push_floor") or {}).get("hash+write", {}).get("median")
        if not hw:
            return
        a, d = med(A, key), med(D, key)
        rows.append((label, "ERROR" if a is None else f"{100 * a / hw:.0f}%",
                     "ERROR" if d is None else f"{100 * d / hw:.0f}%", "", "info", ""))

    size = f"{c['blob_mib'] // 1024} GiB" if c["blob_mib"] % 1024 == 0 else f"{c['blob_mib']} MiB"
    row(f"Push {size} monolithic, curl -T (MB/s)", "push_mono", target=push_target)
    sha_target_row("  ↳ as % of single-core SHA-256", "push_mono")
    floor_row("  ↳ as % of the push floor (hash+write sink)", "push_mono")
    row(f"Push {size} monolithic, sendfile client (MB/s)", "push_mono_sendfile", target=push_target)
    sha_target_row("  ↳ as % of single-core SHA-256", "push_mono_sendfile")
    floor_row("  ↳ as % of the push floor (hash+write sink)", "push_mono_sendfile",
              floor_key="push_mono_sendfile")
    row(f"Push {size} chunked {c['chunk_mib']} MiB PATCH (MB/s)", "push_chunked", target=push_target)
    sha_target_row("  ↳ as % of single-core SHA-256", "push_chunked")
    floor_row("  ↳ as % of the push floor (hash+write sink)", "push_chunked")
    row(f"Pull {size}, curl (MB/s)", "pull",
        target=lambda a, d, r: ("≥1.3× D", "ERROR" if r is None else pf(r >= 1.3)))
    row(f"Small blob push, {c['small_count']}× 1–4 KiB POST+PUT (blobs/s)", "small_push",
        target=lambda a, d, r: ("info", ""))
    row(f"Manifest GET, {c['wrk']} (req/s)", "manifest_get",
        target=lambda a, d, r: ("≥2× D", "ERROR" if r is None else pf(r >= 2)))
    row(f"Peak RSS (VmHWM) pushing {size} (MiB)", "rss_hwm_push_mib",
        target=lambda a, d, r: ("A < 64 MiB", "ERROR" if a is None else pf(a < 64)))

    tok = A.get("token")
    if tok:
        p99 = tok["issue"].get("p99_ms")
        rows.append(("Token issue GET /token, 1 conn, p50 / p99 (ms)",
                     f"{tok['issue'].get('p50_ms', 0):.2f} / {p99 or 0:.2f}", "n/a", "",
                     "p99 < 1 ms", "ERROR" if p99 is None else pf(p99 < 1)))
        b, t = tok["get_basic"].get("p99_ms"), tok["get_bearer"].get("p99_ms")
        rows.append(("Manifest GET 1 conn p99, Basic / Bearer (ms)",
                     f"{b or 0:.2f} / {t or 0:.2f}", "n/a", "", "info", ""))

    hdr = ("Measurement", aname, "Distribution", "A/D", "Target", "Result")
    lines.append("| " + " | ".join(hdr) + " |")
    lines.append("|" + "|".join(["---", "--:", "--:", "--:", "---", "---"]) + "|")
    for r in rows:
        lines.append("| " + " | ".join(r) + " |")
    lines.append("")

    # details
    lines.append("Details (all runs, MB/s or blobs/s; server/client CPU seconds per run):")
    F = res.get("floor", {})
    for key in ("push_mono", "push_mono_python", "push_mono_sendfile", "push_chunked", "pull",
                "small_push"):
        for side, nm in ((A, aname), (D, "Distribution"), (F, "floor sink")):
            v = side.get(key)
            if not isinstance(v, dict):
                continue
            runs = ", ".join(fmt(x) for x in v.get("runs", []))
            cpu = ", ".join(f"{d.get('server_cpu_s', 0):.2f}/{d.get('client_cpu_s', 0):.2f}"
                            for d in v.get("detail", []))
            extra = ""
            if key == "small_push" and any(d.get("partial") for d in v.get("detail", [])):
                extra = " (PARTIAL: time budget hit)"
            lines.append(f"  {key:17s} {nm:13s} runs [{runs}]  cpu srv/cli [{cpu}]"
                         f"{' ERROR' if v.get('error') else ''}{extra}")
    for side, nm in ((A, aname), (D, "Distribution")):
        mg = side.get("manifest_get", {}).get("detail")
        if mg:
            lines.append(f"  manifest_get      {nm:13s} {fmt(mg['rps'])} req/s, p50 {mg.get('p50_ms', 0):.2f} ms, "
                         f"p99 {mg.get('p99_ms', 0):.2f} ms, {mg.get('requests')} requests, "
                         f"server cpu {mg['server_cpu_s']:.1f}s, socket errors {mg['socket_errors']}")
    for side, nm in ((A, aname), (D, "Distribution")):
        lines.append(f"  RSS VmHWM MiB     {nm:13s} mono push {fmt(side.get('rss_hwm_mono_mib'))}, "
                     f"chunked push {fmt(side.get('rss_hwm_chunked_mib'))}, after pulls "
                     f"{fmt(side.get('rss_hwm_after_pull_mib'))}, end of run "
                     f"{fmt(side.get('rss_hwm_final_mib'))} (VmRSS at end {fmt(side.get('rss_final_mib'))})")
    a_py, a_curl = med(A, "push_mono_python"), med(A, "push_mono")
    d_py, d_curl = med(D, "push_mono_python"), med(D, "push_mono")
    lines.append(f"  client check: python-client mono push vs curl mono push: "
                 f"{aname} {fmt(a_py)} vs {fmt(a_curl)}, Distribution {fmt(d_py)} vs {fmt(d_curl)} MB/s")
    if res["errors"]:
        lines.append("")
        lines.append("ERRORS:")
        for e in res["errors"]:
            lines.append(f"  [{e['measurement']} @ {e['server']}] {e['error']}")
    lines.append("")
    lines.append(f"total benchmark wall time: {res['wall_seconds']:.0f} s")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="scratch dir for blob files (needs ~5 GiB)")
    p.add_argument("--data-root", default=None, help="where server data dirs go (default: workdir)")
    p.add_argument("--airlock-bin", default=os.environ.get("AIRLOCK_BIN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "airlock")))
    p.add_argument("--distribution-bin", default=os.environ.get("DISTRIBUTION_BIN", "/usr/bin/docker-registry"))
    p.add_argument("--floor-bin", default=os.environ.get("FLOOR_BIN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "examples", "push_floor")),
                   help="the push_floor example (cargo build --release -p airlock-storage --example push_floor)")
    p.add_argument("--standin", action="store_true",
                   help="run distribution in the Airlock column too (binary not built yet)")
    p.add_argument("--blob-mib", type=int, default=1024)
    p.add_argument("--chunk-mib", type=int, default=16)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--small-count", type=int, default=2000)
    p.add_argument("--wrk-seconds", type=int, default=10)
    p.add_argument("--wrk-conns", type=int, default=64)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--warm-gib", type=int, default=int(os.environ.get("BENCH_WARM_GIB", "16")),
                   help="touch this much free RAM first (VM first-touch cost); 0 = off")
    p.add_argument("--no-rep-warm", dest="rep_warm", action="store_false",
                   help="do not touch and free memory right before each timed 1 GiB push "
                        "(see warm_for_rep)")
    p.add_argument("--json", default=None, help="write results JSON here")
    p.add_argument("--report", default=None, help="also write the text report here")
    p.add_argument("--keep", action="store_true", help="keep server data dirs")
    a = p.parse_args()
    a.data_root = a.data_root or a.workdir
    a.pidfile = os.path.join(a.workdir, "server.pids")
    a.password = "bench-" + secrets.token_urlsafe(18)
    a.auth = "Basic " + base64.b64encode(f"admin:{a.password}".encode()).decode()
    if not a.standin and not (os.path.isfile(a.airlock_bin) and os.access(a.airlock_bin, os.X_OK)):
        sys.exit(f"Airlock binary {a.airlock_bin} not found/executable "
                 f"(set AIRLOCK_BIN, or use --standin / BENCH_STANDIN=1)")
    os.makedirs(a.data_root, exist_ok=True)

    bench = Bench(a)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        res = bench.run()
    finally:
        bench.stop_all()
    text = report(res, a)
    print(text, flush=True)
    if a.json:
        res_out = json.loads(json.dumps(res, default=str))
        for side in ("airlock", "distribution"):
            mg = res_out[side].get("manifest_get", {}).get("detail")
            if mg:
                mg.pop("raw", None)
        with open(a.json, "w") as f:
            json.dump(res_out, f, indent=2)
        log(f"wrote {a.json}")
    if a.report:
        with open(a.report, "w") as f:
            f.write(text + "\n")
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
