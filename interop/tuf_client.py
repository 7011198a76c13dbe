"""Fetch one target from a TUF repository with python-tuf's ngclient, starting from a trusted root.

usage: python tuf_client.py ROOT.json METADATA_URL TARGET_URL WORK_DIR TARGET_NAME...
Prints one JSON object: {"ok": true, "targets": {NAME: {"path", "length", "sha256"}}} and exits 0,
or {"ok": false, "error": "<ExceptionType>: <message>"} and exits 1. WORK_DIR gets metadata/
(the client's trusted state) and targets/ (the downloads).
"""
import hashlib
import json
import os
import shutil
import sys

from tuf.ngclient import Updater


def main(root, metadata_url, target_url, work, names):
    metadata_dir = os.path.join(work, "metadata")
    target_dir = os.path.join(work, "targets")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    # ngclient loads its trust anchor from metadata_dir/root.json and overwrites it as it rotates.
    if not os.path.exists(os.path.join(metadata_dir, "root.json")):
        shutil.copyfile(root, os.path.join(metadata_dir, "root.json"))
    updater = Updater(
        metadata_dir=metadata_dir,
        metadata_base_url=metadata_url,
        target_base_url=target_url,
        target_dir=target_dir,
        # The trust anchor is metadata_dir/root.json: the pinned root on the first run, the
        # newest verified one after that (tuf>=6 wants this choice spelled out).
        bootstrap=None,
    )
    updater.refresh()
    out = {}
    for name in names:
        info = updater.get_targetinfo(name)
        if info is None:
            raise LookupError(f"no such target: {name}")
        path = updater.download_target(info)
        data = open(path, "rb").read()
        out[name] = {
            "path": path,
            "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return out


if __name__ == "__main__":
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    try:
        targets = main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    except Exception as e:  # every failure is a verdict the caller matches on
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
    print(json.dumps({"ok": True, "targets": targets}))
