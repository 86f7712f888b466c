#!/usr/bin/env python3
"""Writes the test image for bench/scanner.sh: one ~500 MB multi-layer image, as an
OCI layout directory (gzip layers) and as a `docker save` archive (manifest.json,
config, one uncompressed layer.tar per layer), both describing the same filesystem.

Layers (seeded, so two runs on the same machine write byte-identical images):

  1. base    /etc/os-release and /etc/debian_version (Debian 12), this machine's /var/lib/dpkg/status,
             a copyright file per dpkg package, ~80 MB of random "shared libraries"
  2. python  ~200 site-packages/*.dist-info/{METADATA,RECORD} (names and versions
             taken from the PyPI advisories of --vulndb when given), ~60 MB of modules
  3. node    ~300 node_modules/**/package.json (plain, scoped and nested), ~4,000
             small random .js files
  4. native  Go executables copied from this machine (skopeo, umoci), a handful of
             plain ELF tools, and this repository's committed Cargo.lock
  5. bulk    ~300 MB of incompressible files of 1-32 MB (--bulk random), or of
             16-symbol text gzip takes to ~60% (--bulk text: ~750 MB in the tar)

Random file contents are incompressible, so the OCI blobs and the docker archive are
both about --total-mb large.  A stamp file keeps a finished image from being rewritten
when the same parameters are asked for again.

    scanner_image.py --out DIR [--total-mb 500] [--seed 1] [--vulndb DIR] [--repo DIR]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time

GENERATOR_VERSION = 5
MiB = 1 << 20

OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

# Go executables and plain ELF tools copied into the "native" layer when present.
GO_BINARIES = ["/usr/bin/skopeo", "/usr/bin/umoci"]
PLAIN_ELF = ["/usr/bin/ls", "/usr/bin/cp", "/usr/bin/tar", "/usr/bin/gzip", "/usr/bin/grep",
             "/usr/bin/sed", "/usr/bin/find", "/usr/bin/xargs", "/usr/bin/bash", "/usr/bin/curl"]

# npm names: common packages, so the inventory looks like a real node_modules.
NPM_BASE = """express body-parser cookie-parser debug ms qs lodash underscore async moment
chalk commander yargs minimist semver uuid glob rimraf mkdirp inherits once wrappy
readable-stream safe-buffer string_decoder util-deprecate isarray core-util-is
process-nextick-args ansi-styles supports-color has-flag color-convert color-name
escape-string-regexp strip-ansi ansi-regex is-fullwidth-code-point string-width
emoji-regex wrap-ansi cliui y18n get-caller-file require-directory axios follow-redirects
form-data combined-stream delayed-stream mime-types mime-db asynckit proxy-from-env
react react-dom scheduler loose-envify js-tokens object-assign prop-types react-is
webpack tapable enhanced-resolve graceful-fs terser source-map acorn ws bufferutil
utf-8-validate node-fetch whatwg-url tr46 webidl-conversions jsonwebtoken jws jwa
ecdsa-sig-formatter buffer-equal-constant-time lodash.includes lodash.isboolean
lodash.isinteger lodash.isnumber lodash.isplainobject lodash.isstring lodash.once
minimatch brace-expansion balanced-match concat-map path-is-absolute fs.realpath
inflight tslib rxjs zone.js typescript esbuild rollup postcss nanoid picocolors
source-map-js""".split()
NPM_SCOPES = ["@babel", "@types", "@aws-sdk", "@smithy", "@angular", "@nestjs"]


def cargo_lock(repo):
    """The repository's committed Cargo.lock (the working copy when git cannot say)."""
    if not repo:
        return None
    try:
        return subprocess.run(["git", "-C", repo, "show", "HEAD:Cargo.lock"],
                              capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        p = os.path.join(repo, "Cargo.lock")
        return open(p, "rb").read() if os.path.isfile(p) else None


def rand_version(rng):
    return f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"


class Layer:
    """An uncompressed layer tar being written to a file."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "wb")
        self.tar = tarfile.open(fileobj=self.f, mode="w", format=tarfile.PAX_FORMAT)
        self.dirs = set()

    def _dirs(self, path):
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                ti = tarfile.TarInfo(d)
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                ti.mtime = 0
                self.tar.addfile(ti)

    def add(self, path, data, mode=0o644):
        self._dirs(path)
        ti = tarfile.TarInfo(path)
        ti.size = len(data)
        ti.mode = mode
        ti.mtime = 0
        self.tar.addfile(ti, io.BytesIO(data))
        return len(data)

    def close(self):
        self.tar.close()
        self.f.close()


def random_files(layer, rng, prefix, total, lo, hi, suffix=""):
    n = 0
    i = 0
    while n < total:
        size = min(rng.randint(lo, hi), total - n)
        n += layer.add(f"{prefix}{i:05d}{suffix}", rng.randbytes(size))
        i += 1
    return i


def pypi_names(vulndb, count, rng):
    """(name, version) pairs from the PyPI advisories, or synthetic ones."""
    found = []
    d = os.path.join(vulndb, "pypi") if vulndb else None
    if d and os.path.isdir(d):
        seen = set()
        for fn in sorted(os.listdir(d)):
            try:
                rec = json.load(open(os.path.join(d, fn)))
            except (OSError, ValueError):
                continue
            for a in rec.get("affected", []):
                name = a.get("package", {}).get("name")
                versions = a.get("versions") or []
                if name and versions and name.lower() not in seen:
                    seen.add(name.lower())
                    found.append((name, versions))
    rng.shuffle(found)
    out = [(n, rng.choice(v)) for n, v in found[:count]]
    i = 0
    while len(out) < count:
        out.append((f"bench-py-{i:03d}", rand_version(rng)))
        i += 1
    return out


def build_layers(work, rng, scale, vulndb, repo):
    layers = []
    expected = {}

    # 1. base
    lay = Layer(os.path.join(work, "layer1.tar"))
    lay.add("etc/os-release", OS_RELEASE)
    lay.add("etc/debian_version", b"12.11\n")  # trivy tells Debian by this file
    status = open("/var/lib/dpkg/status", "rb").read()
    lay.add("var/lib/dpkg/status", status)
    pkgs = [l.split(b":", 1)[1].strip().decode() for l in status.splitlines()
            if l.startswith(b"Package:")]
    for p in sorted(set(pkgs)):
        lay.add(f"usr/share/doc/{p}/copyright", f"{p}: bench copyright\n".encode() * 20)
    random_files(lay, rng, "usr/lib/x86_64-linux-gnu/libbench", int(80 * MiB * scale),
                 64 << 10, 4 * MiB, ".so.1")
    lay.close()
    layers.append(lay.path)
    expected["deb"] = len(pkgs)

    # 2. python
    lay = Layer(os.path.join(work, "layer2.tar"))
    site = "usr/local/lib/python3.11/site-packages"
    py = pypi_names(vulndb, 200, rng)
    for name, version in py:
        norm = name.replace("-", "_")
        di = f"{site}/{norm}-{version}.dist-info"
        meta = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                f"Summary: {name} (bench)\nLicense: MIT\n\n{name} long description\n")
        lay.add(f"{di}/METADATA", meta.encode())
        lay.add(f"{di}/RECORD", f"{norm}/__init__.py,,\n{di}/METADATA,,\n".encode())
        lay.add(f"{di}/INSTALLER", b"pip\n")
        lay.add(f"{site}/{norm}/__init__.py", b"# bench\n" + rng.randbytes(rng.randint(200, 4000)))
    random_files(lay, rng, f"{site}/_bench_ext/mod", int(60 * MiB * scale), 16 << 10, 2 * MiB,
                 ".cpython-311-x86_64-linux-gnu.so")
    lay.close()
    layers.append(lay.path)
    expected["pypi"] = len(py)

    # 3. node
    lay = Layer(os.path.join(work, "layer3.tar"))
    nm = "app/node_modules"
    npm = []
    for name in NPM_BASE:
        npm.append((f"{nm}/{name}", name))
    i = 0
    while len(npm) < 260:
        scope = NPM_SCOPES[i % len(NPM_SCOPES)]
        name = f"{scope}/{NPM_BASE[(i * 7) % len(NPM_BASE)]}-{i}"
        npm.append((f"{nm}/{name}", name))
        i += 1
    # Nested copies (another version under a dependent's node_modules).
    j = 0
    while len(npm) < 300:
        parent = NPM_BASE[j]
        child = NPM_BASE[(j * 3 + 1) % len(NPM_BASE)]
        npm.append((f"{nm}/{parent}/node_modules/{child}", child))
        j += 1
    for d, name in npm:
        pj = {"name": name, "version": rand_version(rng), "description": f"{name} (bench)",
              "main": "index.js", "license": "MIT"}
        lay.add(f"{d}/package.json", json.dumps(pj, indent=2).encode())
        lay.add(f"{d}/index.js", b"module.exports = {};\n")
    # ~4,000 small modules
    n_js = int(4000 * scale)
    for k in range(n_js):
        d, _ = npm[k % len(npm)]
        lay.add(f"{d}/lib/f{k:05d}.js", rng.randbytes(rng.randint(1 << 10, 18 << 10)))
    lay.close()
    layers.append(lay.path)
    expected["npm"] = len(npm)

    # 4. native
    lay = Layer(os.path.join(work, "layer4.tar"))
    gobins = 0
    for p in GO_BINARIES:
        if os.path.isfile(p):
            lay.add("usr/local/bin/" + os.path.basename(p), open(p, "rb").read(), 0o755)
            gobins += 1
    for p in PLAIN_ELF:
        if os.path.isfile(p):
            lay.add("usr/bin/" + os.path.basename(p), open(p, "rb").read(), 0o755)
    data = cargo_lock(repo)
    cargo = 0
    if data:
        lay.add("srv/app/Cargo.lock", data)
        cargo = data.count(b"[[package]]")
    lay.close()
    layers.append(lay.path)
    expected["go_binaries"] = gobins
    expected["cargo_lock_packages"] = cargo

    return layers, expected


# 16 symbols: gzip brings it to about 60%, so inflating it is real Huffman decoding (random
# bytes are stored as-is by gzip, and inflating them is little more than a copy).
TEXT16 = bytes(ord("a") + (i % 16) for i in range(256))


def bulk_layer(work, rng, size, kind):
    lay = Layer(os.path.join(work, "layer5.tar"))
    if kind == "random":
        random_files(lay, rng, "srv/data/blob", size, 1 * MiB, 32 * MiB, ".bin")
    else:
        # `size` is the compressed budget; 1.7 times as much goes into the tar.
        n, i, want = 0, 0, int(1.7 * size)
        while n < want:
            part = min(rng.randint(1 * MiB, 32 * MiB), want - n)
            n += lay.add(f"srv/data/text{i:05d}.txt", rng.randbytes(part).translate(TEXT16))
            i += 1
    lay.close()
    return lay.path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def gzip_file(src, dst):
    h = hashlib.sha256()

    class Hashing(io.RawIOBase):
        def __init__(self, f):
            self.f = f
            self.n = 0

        def write(self, b):
            h.update(b)
            self.n += len(b)
            return self.f.write(b)

        def writable(self):
            return True

    with open(dst, "wb") as out:
        hw = Hashing(out)
        with gzip.GzipFile(filename="", mode="wb", fileobj=hw, compresslevel=6, mtime=0) as gz:
            with open(src, "rb") as f:
                shutil.copyfileobj(f, gz, 4 * MiB)
        size = hw.n
    return h.hexdigest(), size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory for oci/ and docker.tar")
    ap.add_argument("--total-mb", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bulk", choices=["random", "text"], default="random",
                    help="bulk layer: incompressible bytes, or 16-symbol text (gzip: ~60%%)")
    ap.add_argument("--vulndb", help="OSV tree: PyPI names and versions come from it")
    ap.add_argument("--repo", help="repository whose Cargo.lock goes into the image")
    a = ap.parse_args()

    out = os.path.abspath(a.out)
    params = {"version": GENERATOR_VERSION, "total_mb": a.total_mb, "seed": a.seed,
              "bulk": a.bulk,
              "vulndb": bool(a.vulndb),
              "cargo_lock_sha256": hashlib.sha256(cargo_lock(a.repo) or b"").hexdigest()}
    stamp = os.path.join(out, "image.json")
    if os.path.exists(stamp):
        try:
            done = json.load(open(stamp))
            if done.get("params") == params:
                print(f"[scanner_image] reusing {out}", file=sys.stderr)
                return
        except ValueError:
            pass
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    work = os.path.join(out, "work")
    os.makedirs(work)
    t0 = time.time()
    rng = random.Random(a.seed)
    scale = a.total_mb / 500.0
    tars, expected = build_layers(work, rng, scale, a.vulndb, a.repo)

    # OCI layout: gzip blobs.  The last (bulk) layer takes what is left of the size
    # budget once the others are compressed.
    oci = os.path.join(out, "oci")
    blobs = os.path.join(oci, "blobs", "sha256")
    os.makedirs(blobs)
    diff_ids, oci_layers = [], []
    for t in tars + [None]:
        if t is None:
            so_far = sum(l["size"] for l in oci_layers)
            t = bulk_layer(work, rng, max(a.total_mb * MiB - so_far, 16 * MiB), a.bulk)
            tars.append(t)
        diff_ids.append("sha256:" + sha256_file(t))
        tmp = os.path.join(blobs, "tmp")
        digest, size = gzip_file(t, tmp)
        os.rename(tmp, os.path.join(blobs, digest))
        oci_layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                           "digest": "sha256:" + digest, "size": size})
    config = {
        "created": "2026-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"User": "1000", "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
                   "Cmd": ["/usr/local/bin/skopeo", "--help"],
                   "Healthcheck": {"Test": ["CMD", "true"]}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": f"bench layer {i + 1}"}
                    for i in range(len(tars))],
    }
    cfg = json.dumps(config, sort_keys=True).encode()
    cfg_hex = hashlib.sha256(cfg).hexdigest()
    open(os.path.join(blobs, cfg_hex), "wb").write(cfg)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + cfg_hex, "size": len(cfg)},
        "layers": oci_layers,
    }
    man = json.dumps(manifest, sort_keys=True).encode()
    man_hex = hashlib.sha256(man).hexdigest()
    open(os.path.join(blobs, man_hex), "wb").write(man)
    open(os.path.join(oci, "oci-layout"), "w").write('{"imageLayoutVersion": "1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": "sha256:" + man_hex, "size": len(man),
                            "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}
    open(os.path.join(oci, "index.json"), "w").write(json.dumps(index))

    # docker save archive (classic layout: <id>/layer.tar, <config>.json, manifest.json)
    docker = os.path.join(out, "docker.tar")
    with tarfile.open(docker, "w", format=tarfile.PAX_FORMAT) as dt:
        def add_bytes(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            dt.addfile(ti, io.BytesIO(data))
        add_bytes(f"{cfg_hex}.json", cfg)
        names = []
        for t, d in zip(tars, diff_ids):
            name = f"{d.split(':')[1]}/layer.tar"
            ti = dt.gettarinfo(t, arcname=name)
            ti.mtime = 0
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            with open(t, "rb") as f:
                dt.addfile(ti, f)
            names.append(name)
        add_bytes("manifest.json", json.dumps(
            [{"Config": f"{cfg_hex}.json", "RepoTags": ["bench/scanner:latest"],
              "Layers": names}]).encode())
        add_bytes("repositories", json.dumps(
            {"bench/scanner": {"latest": diff_ids[-1].split(":")[1]}}).encode())
    shutil.rmtree(work)

    oci_bytes = sum(l["size"] for l in oci_layers)
    info = {"params": params, "expected": expected, "layers": len(tars),
            "oci_compressed_bytes": oci_bytes, "docker_archive_bytes": os.path.getsize(docker),
            "manifest_digest": "sha256:" + man_hex, "seconds": round(time.time() - t0, 1)}
    json.dump(info, open(stamp, "w"), indent=2)
    print(f"[scanner_image] wrote {out}: {len(tars)} layers, {oci_bytes / MiB:.0f} MiB compressed "
          f"in {info['seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
