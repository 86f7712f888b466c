#!/usr/bin/env python3
"""Push (or pull) one small artifact with the `oras` Python SDK through the Docker token
flow (auth_backend "token": a 401 challenge, then /token with Basic credentials).

Usage: oras_artifact.py push|pull HOST:PORT REPO:TAG WORKDIR
Credentials: env E2E_USER / E2E_PASS. Exit 0 when the registry accepted it.
"""
import os
import sys

import oras.provider


def main():
    mode, host, ref, workdir = sys.argv[1:5]
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    reg = oras.provider.Registry(hostname=host, insecure=True, auth_backend="token")
    reg.auth.set_basic_auth(os.environ["E2E_USER"], os.environ["E2E_PASS"])
    target = f"{host}/{ref}"
    try:
        if mode == "push":
            with open("artifact.txt", "w") as f:
                f.write(f"airlock e2e artifact for {ref}\n")
            resp = reg.push(target=target, files=["artifact.txt:text/plain"], quiet=True)
            ok = resp.status_code == 201
        else:
            files = reg.pull(target=target, outdir="pulled")
            ok = bool(files)
    except Exception as e:  # noqa: BLE001
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
