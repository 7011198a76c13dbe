#!/usr/bin/env bash
# Regenerates fuzz/seeds/ and fuzz/src/seed-policy.json from two real releases made by the
# custody CLI (one Ed25519, one ECDSA P-256), so the corpus is what custody really publishes.
#
#   cargo build --release -p custody-cli && fuzz/make-seeds.sh [path/to/custody]
#
# The seeds are committed; rerun this only when the formats change. It makes new keys, so the
# seed policy changes with it and the regression test keeps verifying the seeds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
custody=$(realpath "${1:-$here/../target/release/custody}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for alg in ed25519 ecdsa-p256; do
  mkdir "$work/$alg"
  (
    cd "$work/$alg"
    git init -q .
    git config user.email fuzz@example.com
    git config user.name fuzz
    git remote add origin https://example.com/acme/app.git
    CUSTODY_PASSPHRASE=fuzz "$custody" init --algorithm "$alg" \
      --builder-id https://example.com/builders/fuzz@v1 >/dev/null 2>&1
    mkdir dist
    # The regression test and the fuzz bodies hash exactly these bytes.
    printf 'custody fuzz seed artifact\n' >dist/app-1.0.tar.gz
    echo 'dist/' >.gitignore
    git add -A
    git commit -qm seed
    CUSTODY_PASSPHRASE=fuzz "$custody" release dist/app-1.0.tar.gz --product app --version 1.0 >/dev/null 2>&1
  )
done

python3 - "$work" "$here" <<'PY'
import base64, json, os, sys
work, here = sys.argv[1], sys.argv[2]
seeds = os.path.join(here, "seeds")
for d in ("bundle_parse", "policy_parse", "statement_parse"):
    os.makedirs(os.path.join(seeds, d), exist_ok=True)
    for f in os.listdir(os.path.join(seeds, d)):
        os.remove(os.path.join(seeds, d, f))

def put(target, name, data):
    with open(os.path.join(seeds, target, name), "wb") as f:
        f.write(data)

keys = []
for alg, tag in (("ed25519", "ed25519"), ("ecdsa-p256", "p256")):
    site = os.path.join(work, alg, "site")
    rel = os.path.join(site, "releases", "app", "1.0")
    for src, name in (("app-1.0.tar.gz.sigstore.json", "artifact"),
                      ("provenance.sigstore.json", "provenance"),
                      ("manifest.json", "manifest")):
        raw = open(os.path.join(rel, src), "rb").read()
        put("bundle_parse", f"{tag}-{name}.sigstore.json", raw)
        payload = base64.b64decode(json.loads(raw)["dsseEnvelope"]["payload"])
        if tag == "ed25519" or name != "provenance":
            put("statement_parse", f"{tag}-{name}.statement.json", payload)
    policy = open(os.path.join(site, "custody-policy.json"), "rb").read()
    put("policy_parse", f"{tag}-custody-policy.json", policy)
    keys += json.loads(policy)["keys"]
    if tag == "ed25519":
        root = open(os.path.join(site, "trusted_root.json"), "rb").read()
        put("policy_parse", "site-trusted_root.json", root)
        # A root with a log, so the log-key checks have something to parse.
        pem = json.loads(policy)["keys"][0]["publicKey"]
        der = base64.b64decode("".join(l for l in pem.splitlines() if "-----" not in l))
        r = json.loads(root)
        r["tlogs"] = [{
            "baseUrl": "https://log.example.com",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": base64.b64encode(der).decode(),
                          "keyDetails": "PKIX_ED25519",
                          "validFor": {"start": "2025-01-01T00:00:00Z"}},
            "logId": {"keyId": json.loads(policy)["keys"][0]["hint"]},
        }]
        put("policy_parse", "with-tlog-trusted_root.json", json.dumps(r, indent=2).encode())

# The policy the bundle target verifies against: both seed keys, the seed builder and source.
base = json.loads(open(os.path.join(seeds, "policy_parse", "ed25519-custody-policy.json")).read())
base["keys"] = keys
with open(os.path.join(here, "src", "seed-policy.json"), "w") as f:
    json.dump(base, f, indent=2)
    f.write("\n")
put("policy_parse", "two-keys-custody-policy.json", json.dumps(base, indent=2).encode())

# The trusted root the bundle target verifies against: the logs of both seed sites.
roots = [json.load(open(os.path.join(work, a, "site", "trusted_root.json"))) for a in ("ed25519", "ecdsa-p256")]
merged = roots[0]
merged["tlogs"] = roots[0].get("tlogs", []) + roots[1].get("tlogs", [])
with open(os.path.join(here, "src", "seed-trusted_root.json"), "w") as f:
    json.dump(merged, f, indent=2)
    f.write("\n")
PY
find "$here/seeds" -type f | sort
