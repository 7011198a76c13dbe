"""Write a TUF repository with python-tuf's Metadata API, for custody's client to read.

usage: python tuf_make_repo.py OUT_DIR

OUT_DIR is meant to be served as static files:
- metadata/1.root.json, 2.root.json, 3.root.json, root.json (= v3), N.snapshot.json,
  N.<role>.json, timestamp.json (version 2);
- targets/[<dir>/]<sha256>.<name> (consistent snapshots);
- stale/timestamp.json: timestamp version 1, validly signed by the current timestamp key, for
  a rollback test to serve after a client has seen version 2.

What it exercises in a client:
- root rotation: v2 replaces the timestamp key; v3 replaces one of the two root keys. Each new
  root is signed by the previous root's threshold and its own (2 of 2 each time);
- a delegation with paths: `targets` gives `delegated/*` to `delegated` (an ECDSA P-256 key);
- TAP 15 succinct hash bins: `targets` gives `binned/*/*/*` to `bins` (an RSA-PSS key), which
  delegates by succinct roles to 8 bins `bin-0` .. `bin-7`;
- one target of each: top level, delegated and in a bin.

Prints a JSON summary: the targets (name -> sha256) and which bin holds the binned target.
"""
import hashlib
import json
import os
import sys
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

TARGETS = {
    "hello.txt": b"top-level target written by python-tuf\n",
    "delegated/app/readme.txt": b"a target of the delegated role\n",
    "binned/app/1.0/app.tar.gz": b"a target in a succinct hash bin\n",
}


def main(out):
    meta_dir = os.path.join(out, "metadata")
    os.makedirs(meta_dir, exist_ok=True)
    os.makedirs(os.path.join(out, "stale"), exist_ok=True)
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=365)
    pretty = JSONSerializer(compact=False)

    def write(md, *names):
        for name in names:
            md.to_file(os.path.join(out, name), serializer=pretty)

    root_keys = [CryptoSigner.generate_ed25519() for _ in range(3)]
    ts_keys = [CryptoSigner.generate_ed25519() for _ in range(2)]
    targets_key = CryptoSigner.generate_ed25519()
    snapshot_key = CryptoSigner.generate_ed25519()
    delegated_key = CryptoSigner.generate_ecdsa()
    bins_key = CryptoSigner.generate_rsa()

    # Root v1: two root keys, both needed.
    root = Metadata(Root(expires=expires, consistent_snapshot=True))
    for k in root_keys[:2]:
        root.signed.add_key(k.public_key, "root")
    root.signed.roles["root"].threshold = 2
    root.signed.add_key(ts_keys[0].public_key, "timestamp")
    root.signed.add_key(snapshot_key.public_key, "snapshot")
    root.signed.add_key(targets_key.public_key, "targets")
    for k in root_keys[:2]:
        root.sign(k, append=True)
    write(root, "metadata/1.root.json")

    # Root v2: a new timestamp key. Same root keys, so the same two signatures.
    root.signed.version = 2
    root.signed.revoke_key(ts_keys[0].public_key.keyid, "timestamp")
    root.signed.add_key(ts_keys[1].public_key, "timestamp")
    root.signatures.clear()
    for k in root_keys[:2]:
        root.sign(k, append=True)
    write(root, "metadata/2.root.json")

    # Root v3: root key 1 is replaced by key 2. Signed by v2's keys (0, 1) and v3's (0, 2).
    root.signed.version = 3
    root.signed.revoke_key(root_keys[1].public_key.keyid, "root")
    root.signed.add_key(root_keys[2].public_key, "root")
    root.signatures.clear()
    for k in root_keys:
        root.sign(k, append=True)
    write(root, "metadata/3.root.json", "metadata/root.json")

    def put_target(name):
        data = TARGETS[name]
        info = TargetFile.from_data(name, data, ["sha256"])
        head, base = os.path.split(name)
        path = os.path.join(out, "targets", head, f"{hashlib.sha256(data).hexdigest()}.{base}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return info

    roles = {}

    top = Metadata(Targets(expires=expires))
    top.signed.targets["hello.txt"] = put_target("hello.txt")
    top.signed.delegations = Delegations(
        keys={
            delegated_key.public_key.keyid: delegated_key.public_key,
            bins_key.public_key.keyid: bins_key.public_key,
        },
        roles={
            "delegated": DelegatedRole(
                "delegated", [delegated_key.public_key.keyid], 1, True, paths=["delegated/*/*"]
            ),
            "bins": DelegatedRole("bins", [bins_key.public_key.keyid], 1, True, paths=["binned/*/*/*"]),
        },
    )
    top.sign(targets_key)
    roles["targets"] = top

    delegated = Metadata(Targets(expires=expires))
    name = "delegated/app/readme.txt"
    delegated.signed.targets[name] = put_target(name)
    delegated.sign(delegated_key)
    roles["delegated"] = delegated

    bins = Metadata(Targets(expires=expires))
    succinct = SuccinctRoles([bins_key.public_key.keyid], 1, 3, "bin")
    bins.signed.delegations = Delegations(
        keys={bins_key.public_key.keyid: bins_key.public_key}, succinct_roles=succinct
    )
    bins.sign(bins_key)
    roles["bins"] = bins

    binned = "binned/app/1.0/app.tar.gz"
    bin_of_target = succinct.get_role_for_target(binned)
    for bin_name in succinct.get_roles():
        md = Metadata(Targets(expires=expires))
        if bin_name == bin_of_target:
            md.signed.targets[binned] = put_target(binned)
        md.sign(bins_key)
        roles[bin_name] = md

    snapshot = Metadata(Snapshot(expires=expires))
    for role, md in roles.items():
        write(md, f"metadata/{md.signed.version}.{role}.json")
        snapshot.signed.meta[f"{role}.json"] = MetaFile(version=md.signed.version)
    snapshot.sign(snapshot_key)
    write(snapshot, "metadata/1.snapshot.json")
    snapshot_bytes = open(os.path.join(meta_dir, "1.snapshot.json"), "rb").read()

    # The snapshot pinned by length and hash too, so a client checks both.
    pinned = MetaFile(
        version=1,
        length=len(snapshot_bytes),
        hashes={"sha256": hashlib.sha256(snapshot_bytes).hexdigest()},
    )
    stale = Metadata(Timestamp(expires=expires, snapshot_meta=pinned))
    stale.sign(ts_keys[1])
    write(stale, "stale/timestamp.json")
    timestamp = Metadata(Timestamp(version=2, expires=expires, snapshot_meta=pinned))
    timestamp.sign(ts_keys[1])
    write(timestamp, "metadata/timestamp.json")

    return {
        "targets": {n: hashlib.sha256(d).hexdigest() for n, d in TARGETS.items()},
        "bin": bin_of_target,
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(json.dumps(main(sys.argv[1])))
