#!/usr/bin/env bash
# custody's main job on its embedded defaults: build custody, release custody's own binary into
# ./site as a signed, provenance-carrying release, then verify it offline the way a customer would.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p custody-cli
custody=target/release/custody

# The signing key is encrypted at rest. On a terminal custody asks for its passphrase; without
# one (CI, a pipe) and without CUSTODY_PASSPHRASE(_FILE), use a random passphrase kept in an
# owner-only file beside the key, and say so.
if [ -z "${CUSTODY_PASSPHRASE:-}" ] && [ -z "${CUSTODY_PASSPHRASE_FILE:-}" ] && [ ! -t 0 ]; then
  mkdir -p .custody
  if [ ! -s .custody/quickstart.passphrase ]; then
    (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > .custody/quickstart.passphrase)
  fi
  export CUSTODY_PASSPHRASE_FILE=.custody/quickstart.passphrase
  echo "quickstart: no terminal, so the key passphrase is in $CUSTODY_PASSPHRASE_FILE (mode 600)." >&2
  echo "quickstart: for real releases set CUSTODY_PASSPHRASE or run on a terminal." >&2
fi

"$custody" init
# The TUF repository that delivers releases to customers' `custody update`.
[ -f site/tuf/metadata/root.json ] || "$custody" repo init

artifact="custody-$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m)"
version="$("$custody" --version | awk '{print $2}')+g$(git rev-parse --short=12 HEAD)"
if [ -d "site/releases/custody/$version" ]; then
  echo "quickstart: custody $version is already released (published versions are immutable); verifying it." >&2
else
  cp "$custody" "target/release/$artifact"
  dirty=()
  if [ -n "$(git status --porcelain -- . ':!site' ':!.custody')" ]; then
    echo "quickstart: the tree has uncommitted changes; releasing with --allow-dirty (the provenance records it)." >&2
    dirty=(--allow-dirty)
  fi
  "$custody" release "target/release/$artifact" --product custody --version "$version" "${dirty[@]}"
fi

"$custody" verify "site/releases/custody/$version/$artifact" \
  --trust site/trusted_root.json --policy site/custody-policy.json --product custody --version "$version"

# The customer's side of delivery: take the release through TUF (pinning the first root),
# verify its bundle and provenance against the policy, and install it atomically.
"$custody" update --repo site/tuf --root site/tuf/metadata/1.root.json \
  --trust site/trusted_root.json --policy site/custody-policy.json \
  --product custody --to "$version" --dir target/quickstart-install
