// Verify a custody bundle with @sigstore/verify (the sigstore-js verifier), offline, with the
// supplier's public key as trust material. Exit 0 and print VERIFIED, or exit 1 with the reason.
// usage: node sigstore_check.js BUNDLE PUBKEY.pem [ARTIFACT] [TRUSTED_ROOT.json] [TLOG_THRESHOLD]
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const [bundlePath, pemPath, artifactPath, rootPath, tlog = '0'] = process.argv.slice(2);
try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const emptyRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
  };
  const root = TrustedRoot.fromJSON(rootPath ? JSON.parse(fs.readFileSync(rootPath, 'utf8')) : emptyRoot);
  const der = crypto.createPublicKey(fs.readFileSync(pemPath)).export({ type: 'spki', format: 'der' });
  const hint = bundle.verificationMaterial.content.publicKey.hint;
  const trust = toTrustMaterial(root, { [hint]: { rawBytes: der } });
  const artifact = artifactPath ? fs.readFileSync(artifactPath) : undefined; // '' means none
  new Verifier(trust, { tlogThreshold: +tlog, ctlogThreshold: 0, timestampThreshold: 0 })
    .verify(toSignedEntity(bundle, artifact));
  console.log('VERIFIED', bundlePath);
} catch (e) {
  console.log('REJECTED', bundlePath, String(e && (e.code || e.message) || e));
  process.exit(1);
}
