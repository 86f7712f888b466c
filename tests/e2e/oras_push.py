#!/usr/bin/env python3
"""Push two OCI artifacts that refer (via `subject`) to an image, using the `oras` Python SDK.

Usage: oras_push.py HOST:PORT REPO SUBJECT_TAG WORKDIR OUT_JSON
Credentials: env E2E_USER / E2E_PASS.

Artifact "sig":  pushed with the high-level Registry.push(subject=...). That API cannot set
                 `artifactType`, so the manifest's config.mediaType carries the type
                 (application/vnd.airlock.test.signature); the referrers API must then report
                 artifactType = config.mediaType. Tagged "sig".
Artifact "sbom": manifest built by hand (OCI 1.1 style: artifactType
                 application/vnd.airlock.test.sbom, empty config descriptor, subject,
                 annotations) and uploaded with the SDK's low-level upload_blob /
                 upload_manifest. Pushed by digest only (untagged).

Prints PASS/FAIL lines for what it checks itself and writes OUT_JSON with the digests
for the curl-based referrers checks in run.sh.
"""
import hashlib
import json
import os
import sys
import traceback

import oras.defaults
import oras.oci
import oras.provider

SIG_TYPE = "application/vnd.airlock.test.signature"
SBOM_TYPE = "application/vnd.airlock.test.sbom"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"

results = {"pass": 0, "fail": 0}


def report(ok, name, reason=""):
    if ok:
        print(f"PASS {name}", flush=True)
        results["pass"] += 1
    else:
        print(f"FAIL {name}: {reason}", flush=True)
        results["fail"] += 1
    return ok


def resp_desc(r):
    if r is None:
        return "no response"
    if r.request is None:  # synthetic response from the SDK (e.g. blob already existed)
        return f"HTTP {r.status_code} (synthetic response from oras-py)"
    body = (r.text or "")[:300].replace("\n", " ")
    return f"HTTP {r.status_code} {r.request.method} {r.request.url} body={body!r}"


def main():
    host, repo, subject_tag, workdir, out_json = sys.argv[1:6]
    user = os.environ.get("E2E_USER", "admin")
    pw = os.environ["E2E_PASS"]
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)  # Registry.push validates that files are below the cwd

    reg = oras.provider.Registry(hostname=host, insecure=True, auth_backend="basic")
    reg.auth.set_basic_auth(user, pw)
    out = {}

    # --- resolve the subject image manifest (raw bytes -> digest/size/mediaType)
    subj_ref = f"{host}/{repo}:{subject_tag}"
    c = reg.get_container(subj_ref)
    r = reg.do_request(
        f"http://{c.manifest_url()}", "GET",
        headers={"Accept": ", ".join(oras.defaults.default_manifest_accepted_media_types)},
    )
    if not report(r.status_code == 200, "oras-resolve-subject", resp_desc(r)):
        return
    raw = r.content
    subj_digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    hdr = r.headers.get("Docker-Content-Digest")
    report(hdr in (None, subj_digest), "oras-subject-digest-header",
           f"Docker-Content-Digest {hdr} != sha256(body) {subj_digest}")
    subj_media = json.loads(raw).get("mediaType") or r.headers.get("Content-Type")
    subject = oras.oci.Subject(mediaType=subj_media, digest=subj_digest, size=len(raw))
    out["subject"] = {"digest": subj_digest, "size": len(raw), "mediaType": subj_media}

    # --- artifact 1: high-level push with subject
    with open("signature.txt", "w") as f:
        f.write("airlock e2e fake signature\n")
    try:
        resp = reg.push(
            target=f"{host}/{repo}:sig",
            files=["signature.txt:application/vnd.airlock.test.signature.payload"],
            manifest_config=f"nonexistent-config.json:{SIG_TYPE}",
            manifest_annotations={"org.airlock.e2e.kind": "signature"},
            subject=subject,
            quiet=True,
        )
        ok = resp.status_code == 201
        sig_digest = resp.headers.get("Docker-Content-Digest")
        report(ok and bool(sig_digest), "oras-push-with-subject",
               resp_desc(resp) if not ok else "no Docker-Content-Digest header in response")
        out["sig"] = {"digest": sig_digest, "artifactType": SIG_TYPE,
                      "oci_subject_header": resp.headers.get("OCI-Subject")}
    except Exception as e:  # noqa: BLE001
        report(False, "oras-push-with-subject", f"{type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stderr)

    # --- artifact 2: hand-built OCI 1.1 artifact manifest via low-level SDK calls
    try:
        container = reg.get_container(f"{host}/{repo}:unused")
        sbom = json.dumps({"spdxVersion": "SPDX-2.3", "name": "airlock-e2e",
                           "packages": [{"name": "hello", "versionInfo": "1.0"}]}).encode()
        with open("sbom.spdx.json", "wb") as f:
            f.write(sbom)
        with open("empty.json", "wb") as f:
            f.write(b"{}")
        layer = oras.oci.NewLayer("sbom.spdx.json", media_type="application/spdx+json")
        layer["annotations"] = {"org.opencontainers.image.title": "sbom.spdx.json"}
        rb = reg.upload_blob("sbom.spdx.json", container, layer)
        report(rb.status_code in (200, 201), "oras-upload-blob", resp_desc(rb))
        cfg = {"mediaType": EMPTY_TYPE, "digest": EMPTY_DIGEST, "size": 2}
        rc = reg.upload_blob("empty.json", container, cfg)
        report(rc.status_code in (200, 201), "oras-upload-empty-config", resp_desc(rc))
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "artifactType": SBOM_TYPE,
            "config": cfg,
            "layers": [layer],
            "subject": {"mediaType": subj_media, "digest": subj_digest, "size": len(raw)},
            "annotations": {"org.airlock.e2e.kind": "sbom",
                            "org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
        }
        # upload_manifest() sends requests' json= encoding: json.dumps with default separators
        body = json.dumps(manifest, allow_nan=False).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        by_digest = reg.get_container(f"{host}/{repo}@{digest}")
        rm = reg.upload_manifest(manifest, by_digest)
        ok = rm.status_code == 201
        report(ok, "oras-push-artifact-by-digest", resp_desc(rm))
        if ok:
            got = rm.headers.get("Docker-Content-Digest")
            report(got == digest, "oras-artifact-digest",
                   f"registry says {got}, client computed {digest}")
        out["sbom"] = {"digest": digest, "size": len(body), "artifactType": SBOM_TYPE,
                       "oci_subject_header": rm.headers.get("OCI-Subject")}
    except Exception as e:  # noqa: BLE001
        report(False, "oras-push-artifact-by-digest", f"{type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stderr)

    # --- pull artifact 1 back with the SDK and compare content
    try:
        outdir = os.path.join(workdir, "pulled")
        files = reg.pull(target=f"{host}/{repo}:sig", outdir=outdir)
        got = open(files[0]).read() if files else None
        report(got == "airlock e2e fake signature\n", "oras-pull-artifact",
               f"pulled files {files}, content {got!r}")
    except Exception as e:  # noqa: BLE001
        report(False, "oras-pull-artifact", f"{type(e).__name__}: {e}")

    with open(out_json, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        report(False, "oras-helper", f"{type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stderr)
    sys.exit(1 if results["fail"] else 0)
