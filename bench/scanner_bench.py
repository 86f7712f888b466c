#!/usr/bin/env python3
"""Driver of bench/scanner.sh: catalogs the image scanner_image.py wrote with Airlock,
trivy and syft, several times each, and prints one table of wall time, peak RSS and
packages found (by purl type), with the ratios Airlock/trivy and Airlock/syft.

Every run is `/usr/bin/time -f '%e %M'` around the tool (wall seconds, peak RSS of
the process in KiB); the table shows the median wall time and the largest peak RSS of
the --reps runs.  With --netns (the default when `unshare -n` works) every tool runs
in a network namespace without interfaces, so a tool that tried the network would
fail rather than be slowed down by it.
"""
import argparse
import collections
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

TARGET_VS_TRIVY = 0.5
PURL_TYPES = ["deb", "pypi", "npm", "golang", "cargo"]


def log(*a):
    print("[scanner_bench]", *a, file=sys.stderr, flush=True)


def count_purls(purls):
    c = collections.Counter()
    for p in purls:
        if not p or not p.startswith("pkg:"):
            continue
        t = p[4:].split("/", 1)[0].split("@", 1)[0]
        c[t] += 1
    return c


def count_output(kind, path):
    """Packages by purl type in one tool's output."""
    with open(path, "rb") as f:
        doc = json.load(f)
    if kind == "airlock-json":
        reports = doc.get("platforms", [doc])
        return count_purls(p.get("purl") for r in reports for p in r.get("packages", []))
    if kind == "cyclonedx":
        docs = doc if isinstance(doc, list) else [doc]
        purls = []

        def walk(components):
            for c in components or []:
                purls.append(c.get("purl"))
                walk(c.get("components"))
        for d in docs:
            walk(d.get("components"))
        return count_purls(purls)
    raise ValueError(kind)


def run_once(cmd, out_path, env, workdir, netns):
    timef = os.path.join(workdir, "time.txt")
    full = ["/usr/bin/time", "-f", "%e %M", "-o", timef]
    if netns:
        full += ["unshare", "-n"]
    full += cmd
    with open(out_path, "wb") as out, open(os.path.join(workdir, "stderr.txt"), "wb") as err:
        rc = subprocess.call(full, stdout=out, stderr=err, env=env, cwd=workdir)
    stderr = open(os.path.join(workdir, "stderr.txt"), "rb").read().decode(errors="replace")
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {rc}:\n{stderr[-3000:]}")
    line = open(timef).read().strip().splitlines()[-1]
    wall, rss_kib = line.split()
    return float(wall), int(rss_kib), stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", required=True, help="directory scanner_image.py wrote")
    ap.add_argument("--airlock", required=True)
    ap.add_argument("--trivy", required=True)
    ap.add_argument("--syft", required=True)
    ap.add_argument("--vulndb", required=True, help="the full OSV tree")
    ap.add_argument("--tiny-vulndb", required=True, help="a handful of advisories")
    ap.add_argument("--workdir", required=True, help="scratch (outputs, tool temp dirs)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--netns", choices=["auto", "on", "off"], default="auto")
    ap.add_argument("--only", help="comma-separated case names to run")
    ap.add_argument("--json")
    ap.add_argument("--report")
    a = ap.parse_args()

    for tool in ("airlock", "trivy", "syft", "vulndb", "tiny_vulndb"):
        setattr(a, tool, os.path.abspath(getattr(a, tool)))
    img = os.path.abspath(a.image)
    info = json.load(open(os.path.join(img, "image.json")))
    oci = os.path.join(img, "oci")
    docker = os.path.join(img, "docker.tar")
    netns = a.netns == "on" or (
        a.netns == "auto" and subprocess.call(["unshare", "-n", "true"],
                                              stderr=subprocess.DEVNULL) == 0)
    work = os.path.abspath(a.workdir)
    os.makedirs(work, exist_ok=True)
    tool_tmp = os.path.join(work, "tmp")

    env = dict(os.environ)
    env.update({
        "TMPDIR": tool_tmp,
        "SYFT_CHECK_FOR_APP_UPDATE": "false",
        "TRIVY_DISABLE_TELEMETRY": "true",
        "NO_COLOR": "1",
    })
    env.pop("AIRLOCK_VULNDB", None)
    trivy_flags = [
        "--format", "cyclonedx",        # an SBOM: packages only, no DB needed
        "--cache-backend", "memory",    # no layer cache carried from one run to the next
        "--cache-dir", os.path.join(work, "trivy-cache"),
        "--skip-db-update", "--skip-java-db-update", "--skip-check-update",
        "--offline-scan", "--disable-telemetry", "--skip-version-check",
        "--no-progress", "--quiet",
    ]

    # The database a registry scans with: `airlock vulndb import` into a data directory
    # (done once here, not timed; the scans then read it from SQLite).
    datadir = os.path.join(work, "airlock-data")
    import_s = None
    if not a.only or "imported-db" in a.only:
        t0 = time.time()
        subprocess.run([a.airlock, "vulndb", "import", a.vulndb, "--data-dir", datadir],
                       check=True, stdout=subprocess.DEVNULL, env=env)
        import_s = round(time.time() - t0, 2)
        log(f"airlock vulndb import: {import_s} s")

    def airlock(target, fmt, db):
        return [a.airlock, "scan", target, "--vulndb", db, "--format", fmt]

    # (name, tool, input, command, output kind)
    cases = [
        ("airlock oci json", "airlock", "oci",
         airlock(f"oci:{oci}", "json", a.vulndb), "airlock-json"),
        ("airlock docker json", "airlock", "docker",
         airlock(f"docker-archive:{docker}", "json", a.vulndb), "airlock-json"),
        ("airlock oci cyclonedx", "airlock", "oci",
         airlock(f"oci:{oci}", "cyclonedx", a.vulndb), "cyclonedx"),
        ("airlock docker cyclonedx", "airlock", "docker",
         airlock(f"docker-archive:{docker}", "cyclonedx", a.vulndb), "cyclonedx"),
        ("airlock oci json tiny-db", "airlock", "oci",
         airlock(f"oci:{oci}", "json", a.tiny_vulndb), "airlock-json"),
        ("airlock docker json tiny-db", "airlock", "docker",
         airlock(f"docker-archive:{docker}", "json", a.tiny_vulndb), "airlock-json"),
        ("airlock oci json imported-db", "airlock", "oci",
         [a.airlock, "scan", f"oci:{oci}", "--data-dir", datadir, "--format", "json"],
         "airlock-json"),
        ("airlock docker json imported-db", "airlock", "docker",
         [a.airlock, "scan", f"docker-archive:{docker}", "--data-dir", datadir, "--format",
          "json"], "airlock-json"),
        ("trivy oci cyclonedx", "trivy", "oci",
         [a.trivy, "image", "--input", oci] + trivy_flags, "cyclonedx"),
        ("trivy docker cyclonedx", "trivy", "docker",
         [a.trivy, "image", "--input", docker] + trivy_flags, "cyclonedx"),
        ("syft oci cyclonedx", "syft", "oci",
         [a.syft, "scan", f"oci-dir:{oci}", "-o", "cyclonedx-json", "-q"], "cyclonedx"),
        ("syft docker cyclonedx", "syft", "docker",
         [a.syft, "scan", f"docker-archive:{docker}", "-o", "cyclonedx-json", "-q"],
         "cyclonedx"),
    ]
    if a.only:
        keep = {s.strip() for s in a.only.split(",")}
        cases = [c for c in cases if c[0] in keep]

    versions = {}
    for name, cmd in [("trivy", [a.trivy, "--version"]), ("syft", [a.syft, "version"]),
                      ("airlock", [a.airlock, "--version"])]:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
            versions[name] = " ".join(
                l.strip() for l in out.stdout.splitlines()
                if l.strip() and (name != "syft" or l.startswith("Version")))
        except Exception as e:  # noqa: BLE001 - shown in the report
            versions[name] = f"unknown ({e})"

    # Same page-cache state for everyone: read the inputs once before timing.
    for root, _, files in os.walk(oci):
        for fn in files:
            with open(os.path.join(root, fn), "rb") as f:
                while f.read(8 << 20):
                    pass
    with open(docker, "rb") as f:
        while f.read(8 << 20):
            pass

    results = []
    for name, tool, inp, cmd, kind in cases:
        runs = []
        counts = None
        for rep in range(a.reps):
            shutil.rmtree(tool_tmp, ignore_errors=True)
            shutil.rmtree(os.path.join(work, "trivy-cache"), ignore_errors=True)
            os.makedirs(tool_tmp)
            os.makedirs(os.path.join(work, "trivy-cache"))
            out = os.path.join(work, name.replace(" ", "_") + ".out.json")
            wall, rss, _ = run_once(cmd, out, env, work, netns)
            runs.append({"wall_s": wall, "peak_rss_kib": rss})
            log(f"{name}: run {rep + 1}/{a.reps}: {wall:.2f} s, {rss / 1024:.0f} MiB")
            if counts is None:
                counts = count_output(kind, out)
        results.append({
            "case": name, "tool": tool, "input": inp, "command": cmd,
            "runs": runs,
            "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "peak_rss_mib_max": max(r["peak_rss_kib"] for r in runs) / 1024,
            "packages": dict(counts),
            "packages_total": sum(counts.values()),
        })
    shutil.rmtree(tool_tmp, ignore_errors=True)

    by = {r["case"]: r for r in results}

    def ratio(num, den):
        if num in by and den in by and by[den]["wall_s_median"] > 0:
            return by[num]["wall_s_median"] / by[den]["wall_s_median"]
        return None

    comparisons = []
    for inp in ["oci", "docker"]:
        for al in [f"airlock {inp} json", f"airlock {inp} cyclonedx",
                   f"airlock {inp} json imported-db", f"airlock {inp} json tiny-db"]:
            for ref in ["trivy", "syft"]:
                refcase = f"{ref} {inp} cyclonedx"
                r = ratio(al, refcase)
                if r is None:
                    continue
                c = {"airlock": al, "reference": refcase, "ratio": round(r, 3)}
                if ref == "trivy":
                    c["target"] = TARGET_VS_TRIVY
                    c["verdict"] = "PASS" if r <= TARGET_VS_TRIVY else "MISS"
                comparisons.append(c)

    lines = []
    mib = info.get("oci_compressed_bytes", 0) / (1 << 20)
    lines.append(f"Scanner benchmark  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  "
                 f"host {platform.node()}, {os.cpu_count()} CPUs")
    lines.append(f"image: {info['layers']} layers, OCI {mib:.0f} MiB gzip, docker archive "
                 f"{info.get('docker_archive_bytes', 0) / (1 << 20):.0f} MiB plain tar; "
                 f"planted: {info.get('expected')}")
    lines.append("tools: " + "; ".join(f"{k} {v}" for k, v in versions.items()))
    lines.append(f"runs: {a.reps} per case, wall = median, RSS = max of runs; "
                 f"network namespace: {'yes' if netns else 'no'}; "
                 f"airlock vulndb import (untimed setup): {import_s} s")
    lines.append("")
    hdr = f"{'case':<32} {'wall s':>7} {'RSS MiB':>8} {'total':>6} " + " ".join(
        f"{t:>6}" for t in PURL_TYPES) + f" {'other':>6}"
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for r in results:
        p = r["packages"]
        other = r["packages_total"] - sum(p.get(t, 0) for t in PURL_TYPES)
        lines.append(f"{r['case']:<32} {r['wall_s_median']:>7.2f} {r['peak_rss_mib_max']:>8.0f} "
                     f"{r['packages_total']:>6} " + " ".join(f"{p.get(t, 0):>6}" for t in PURL_TYPES)
                     + f" {other:>6}")
    lines.append("")
    lines.append(f"{'Airlock case':<32} {'vs':<24} {'ratio':>6}  target")
    for c in comparisons:
        t = (f"<= {c['target']}x  {c['verdict']}" if "target" in c else "")
        lines.append(f"{c['airlock']:<32} {c['reference']:<24} {c['ratio']:>5.2f}x  {t}")
    text = "\n".join(lines)
    print(text)
    if a.report:
        open(a.report, "w").write(text + "\n")
    if a.json:
        json.dump({"image": info, "versions": versions, "netns": netns, "reps": a.reps,
                   "vulndb_import_s": import_s,
                   "results": results, "comparisons": comparisons},
                  open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
