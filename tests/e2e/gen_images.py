#!/usr/bin/env python3
"""Generate test images from files only (no base image, no network).

Usage: gen_images.py OUTDIR

Writes:
  OUTDIR/oci/                 OCI image layout with
                                tag "v1"    -> multi-layer image manifest (3 gzip layers)
                                tag "multi" -> image index (linux/amd64 + linux/arm64)
  OUTDIR/oci-image.tar        OCI archive (tar of a layout) with the v1 image only,
                              annotated io.containerd.image.name=docker.io/e2e/ctr-src:v1
                              (for `ctr images import`)
  OUTDIR/docker-image.tar     `docker save`-style archive (manifest.json + config +
                              uncompressed layer tars), RepoTags e2e/docker-src:v1
  OUTDIR/expected.json        digests of everything above, for the test script

Everything is deterministic: fixed mtimes, gzip mtime=0, sorted entries, so the same
digests come out on every run.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"

MTIME = 1700000000  # fixed timestamp for tar entries
CREATED = "2023-11-14T22:13:20Z"


def sha256(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def canon(obj) -> bytes:
    # Stable JSON encoding; the bytes are what gets digested and pushed.
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def pseudo_random(seed: str, n: int) -> bytes:
    """Deterministic, incompressible bytes."""
    out = bytearray()
    ctr = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{ctr}".encode()).digest()
        ctr += 1
    return bytes(out[:n])


def make_tar(entries) -> bytes:
    """entries: list of (path, kind, payload, mode); kind in file|dir|symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path, kind, payload, mode in entries:
            ti = tarfile.TarInfo(path)
            ti.mtime = MTIME
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            ti.mode = mode
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = payload
                tf.addfile(ti)
            else:
                ti.size = len(payload)
                tf.addfile(ti, io.BytesIO(payload))
    return buf.getvalue()


def gz(b: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as g:
        g.write(b)
    return out.getvalue()


class Layout:
    def __init__(self, root):
        self.root = root
        self.blobdir = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobdir, exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        self.manifests = []

    def put(self, data: bytes) -> str:
        d = sha256(data)
        with open(os.path.join(self.blobdir, d.split(":", 1)[1]), "wb") as f:
            f.write(data)
        return d

    def add_ref(self, desc, annotations):
        d = dict(desc)
        d["annotations"] = annotations
        self.manifests.append(d)

    def finish(self):
        idx = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": self.manifests}
        with open(os.path.join(self.root, "index.json"), "wb") as f:
            f.write(canon(idx))


def build_image(layout: Layout, name: str, arch: str, layer_entries, extra_cfg=None):
    """Store layers + config + manifest in the layout; return (manifest descriptor, info)."""
    layer_descs, diff_ids, history, raw_tars = [], [], [], []
    for i, entries in enumerate(layer_entries):
        raw = make_tar(entries)
        comp = gz(raw)
        raw_tars.append(raw)
        diff_ids.append(sha256(raw))
        layer_descs.append(
            {"mediaType": MT_OCI_LAYER_GZ, "digest": layout.put(comp), "size": len(comp)}
        )
        history.append({"created": CREATED, "created_by": f"airlock-e2e {name} layer {i}"})
    cfg = {
        "created": CREATED,
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    f"AIRLOCK_E2E_IMAGE={name}"],
            "Cmd": ["/bin/hello"],
            "Labels": {"org.airlock.e2e": name},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    if arch == "arm64":
        cfg["variant"] = "v8"
    if extra_cfg:
        cfg.update(extra_cfg)
    cfg_bytes = canon(cfg)
    cfg_desc = {"mediaType": MT_OCI_CONFIG, "digest": layout.put(cfg_bytes), "size": len(cfg_bytes)}
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST,
        "config": cfg_desc,
        "layers": layer_descs,
        "annotations": {"org.opencontainers.image.title": f"airlock-e2e-{name}"},
    }
    mbytes = canon(manifest)
    mdesc = {"mediaType": MT_OCI_MANIFEST, "digest": layout.put(mbytes), "size": len(mbytes)}
    info = {
        "manifest_digest": mdesc["digest"],
        "manifest_size": mdesc["size"],
        "config_digest": cfg_desc["digest"],
        "config_bytes": cfg_bytes,
        "layer_digests": [l["digest"] for l in layer_descs],
        "diff_ids": diff_ids,
        "raw_tars": raw_tars,
    }
    return mdesc, info


def multi_layer_entries():
    hello = b"#!/bin/sh\necho hello from airlock e2e\n"
    return [
        # layer 0: directory tree + small files + symlink
        [
            ("bin", "dir", None, 0o755),
            ("bin/hello", "file", hello, 0o755),
            ("etc", "dir", None, 0o755),
            ("etc/airlock-e2e", "dir", None, 0o755),
            ("etc/airlock-e2e/release", "file", b"AIRLOCK_E2E=1\nLAYER=0\n", 0o644),
            ("etc/airlock-e2e/to-be-removed", "file", b"gone in layer 2\n", 0o644),
            ("usr", "dir", None, 0o755),
            ("usr/bin", "dir", None, 0o755),
            ("usr/bin/hello", "symlink", "/bin/hello", 0o777),
        ],
        # layer 1: ~1.5 MiB of incompressible data (exercises larger blob uploads)
        [
            ("data", "dir", None, 0o755),
            ("data/random.bin", "file", pseudo_random("layer1", 1536 * 1024), 0o644),
            ("data/notes.txt", "file", b"\n".join(b"line %d" % i for i in range(2000)), 0o644),
        ],
        # layer 2: overwrite + whiteout
        [
            ("etc", "dir", None, 0o755),
            ("etc/airlock-e2e", "dir", None, 0o755),
            ("etc/airlock-e2e/release", "file", b"AIRLOCK_E2E=1\nLAYER=2\n", 0o644),
            ("etc/airlock-e2e/.wh.to-be-removed", "file", b"", 0o644),
        ],
    ]


def platform_entries(arch):
    return [
        [
            ("etc", "dir", None, 0o755),
            ("etc/arch", "file", f"{arch}\n".encode(), 0o644),
        ],
        [
            ("opt", "dir", None, 0o755),
            ("opt/payload.bin", "file", pseudo_random("plat-" + arch, 64 * 1024), 0o644),
        ],
    ]


def write_docker_archive(path, info, repotag):
    """`docker save` format: manifest.json, <hex>.json config, <id>/layer.tar."""
    cfg_hex = info["config_digest"].split(":", 1)[1]
    members = [(f"{cfg_hex}.json", info["config_bytes"])]
    layer_paths = []
    for raw in info["raw_tars"]:
        lid = hashlib.sha256(raw).hexdigest()
        layer_paths.append(f"{lid}/layer.tar")
        members.append((f"{lid}/VERSION", b"1.0"))
        members.append((f"{lid}/layer.tar", raw))
    manifest = [{"Config": f"{cfg_hex}.json", "RepoTags": [repotag], "Layers": layer_paths}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    name, tag = repotag.rsplit(":", 1)
    members.append(("repositories", json.dumps({name: {tag: layer_paths[-1].split("/")[0]}}).encode()))
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        dirs_done = set()
        for mname, data in members:
            d = os.path.dirname(mname)
            if d and d not in dirs_done:
                ti = tarfile.TarInfo(d)
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                ti.mtime = MTIME
                tf.addfile(ti)
                dirs_done.add(d)
            ti = tarfile.TarInfo(mname)
            ti.size = len(data)
            ti.mode = 0o644
            ti.mtime = MTIME
            tf.addfile(ti, io.BytesIO(data))


def tar_dir(src, dst):
    with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tf:
        for base, dirs, files in os.walk(src):
            dirs.sort()
            for fn in sorted(files):
                full = os.path.join(base, fn)
                tf.add(full, arcname=os.path.relpath(full, src), recursive=False)


def main():
    out = sys.argv[1]
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)

    # (a) multi-layer image + (b) two-platform index, in one OCI layout
    lay = Layout(os.path.join(out, "oci"))
    v1_desc, v1 = build_image(lay, "app-v1", "amd64", multi_layer_entries())
    lay.add_ref(v1_desc, {"org.opencontainers.image.ref.name": "v1"})

    plat, plat_cfg = {}, {}
    idx_manifests = []
    for arch in ("amd64", "arm64"):
        d, info = build_image(lay, f"multi-{arch}", arch, platform_entries(arch))
        p = {"architecture": arch, "os": "linux"}
        if arch == "arm64":
            p["variant"] = "v8"
        dd = dict(d)
        dd["platform"] = p
        idx_manifests.append(dd)
        plat[arch] = info["manifest_digest"]
        plat_cfg[arch] = info["config_digest"]
    index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": idx_manifests,
             "annotations": {"org.opencontainers.image.title": "airlock-e2e-multi"}}
    ib = canon(index)
    idesc = {"mediaType": MT_OCI_INDEX, "digest": lay.put(ib), "size": len(ib)}
    lay.add_ref(idesc, {"org.opencontainers.image.ref.name": "multi"})
    lay.finish()

    # OCI archive for ctr: same v1 image, its own layout, tarred
    lay2 = Layout(os.path.join(out, "oci-ctr"))
    d2, ctr_info = build_image(lay2, "app-v1", "amd64", multi_layer_entries())
    assert d2["digest"] == v1["manifest_digest"]
    lay2.add_ref(d2, {"org.opencontainers.image.ref.name": "v1",
                      "io.containerd.image.name": "docker.io/e2e/ctr-src:v1"})
    lay2.finish()
    tar_dir(lay2.root, os.path.join(out, "oci-image.tar"))
    shutil.rmtree(lay2.root)

    # (c) docker schema2 image as `docker save` tar. Docker configs carry the
    # same JSON as OCI configs; give it its own content so its id is distinct.
    dlay = Layout(os.path.join(out, "docker-tmp"))
    _, dinfo = build_image(dlay, "docker-v1", "amd64", multi_layer_entries()[:2] + [[
        ("docker", "dir", None, 0o755),
        ("docker/marker", "file", b"docker schema2 test image\n", 0o644),
    ]])
    write_docker_archive(os.path.join(out, "docker-image.tar"), dinfo, "e2e/docker-src:v1")
    shutil.rmtree(dlay.root)

    expected = {
        "v1_manifest": v1["manifest_digest"],
        "v1_config": v1["config_digest"],
        "v1_layers": v1["layer_digests"],
        "v1_diff_ids": v1["diff_ids"],
        "index": idesc["digest"],
        "index_amd64": plat["amd64"],
        "index_arm64": plat["arm64"],
        "index_amd64_config": plat_cfg["amd64"],
        "docker_image_id": dinfo["config_digest"],
        "docker_diff_ids": dinfo["diff_ids"],
        "ctr_manifest": ctr_info["manifest_digest"],
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
