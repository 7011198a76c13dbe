#!/usr/bin/env bash
# Regenerates fuzz/seeds/tuf_parse/ from a TUF repository made by the custody CLI: product
# `app` delegated by paths, product `lib` in TAP 15 hash bins, and a root rotation (v2 has a new
# timestamp key), so the corpus is what custody really publishes.
#
#   cargo build --release -p custody-cli && fuzz/make-tuf-seeds.sh [path/to/custody]
#
# The seeds are committed; rerun this only when the formats change. Every role is made valid
# for a century, so the fixed `now` of fuzz/src/tuf.rs stays inside every validity period.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
custody=$(realpath "${1:-$here/../target/release/custody}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CUSTODY_PASSPHRASE=fuzz

cd "$work"
git init -q .
git config user.email fuzz@example.com
git config user.name fuzz
git remote add origin https://example.com/acme/app.git
"$custody" init --algorithm ed25519 --builder-id https://example.com/builders/fuzz@v1 >/dev/null 2>&1
mkdir dist
echo 'dist/' >.gitignore
sed -i 's/^\(root\|targets\|snapshot\|timestamp\)_days = .*/\1_days = 36500/' custody.toml
git add -A
git commit -qm seed
"$custody" repo init --root-keys 3 --root-threshold 2 >/dev/null
grep -q '^timestamp_days = 36500$' custody.toml

release() {
  printf 'custody fuzz seed %s\n' "$1" >"dist/$1-1.0.tar.gz"
  "$custody" release "dist/$1-1.0.tar.gz" --product "$1" --version 1.0 >/dev/null 2>&1
}
release app
# Products created from now on get 2^2 hash bins.
sed -i 's/^\[tuf\]$/[tuf]\nhash_bins = 2/' custody.toml
git commit -qam bins
release lib

"$custody" repo rotate --role timestamp -o dist/next-root.json >/dev/null
for n in 1 3; do
  "$custody" repo sign-root dist/next-root.json --key ".custody/tuf/root-$n.key" >/dev/null
done
"$custody" repo publish-root dist/next-root.json >/dev/null

out="$here/seeds/tuf_parse"
rm -f "$out"/*
meta=site/tuf/metadata
cp "$meta/1.root.json" "$meta/2.root.json" "$meta/timestamp.json" "$out/"
# Only the versions the newest timestamp and snapshot pin: the fixture walks that chain.
python3 - "$meta" "$out" <<'PY'
import json, os, shutil, sys
meta, out = sys.argv[1], sys.argv[2]
ts = json.load(open(os.path.join(meta, "timestamp.json")))
v = ts["signed"]["meta"]["snapshot.json"]["version"]
shutil.copy(os.path.join(meta, f"{v}.snapshot.json"), os.path.join(out, "snapshot.json"))
snap = json.load(open(os.path.join(meta, f"{v}.snapshot.json")))
for name, m in snap["signed"]["meta"].items():
    role = name[: -len(".json")]
    src = os.path.join(meta, f"{m['version']}.{name}")
    doc = json.load(open(src))
    # Of the bins, only the one holding lib's target; the empty ones add nothing.
    if role.startswith("lib-bin-") and not doc["signed"]["targets"]:
        continue
    shutil.copy(src, os.path.join(out, name))
PY
ls "$out"
