// Fetch one target from a TUF repository with tuf-js (the npm TUF client), from a trusted root.
// usage: node tuf_client.js ROOT.json METADATA_URL TARGET_URL WORK_DIR TARGET_NAME...
// Prints {"ok": true, "targets": {NAME: {path, length, sha256}}} and exits 0, or
// {"ok": false, "error": "<name>: <message>"} and exits 1. WORK_DIR gets metadata/ and targets/.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { Updater } = require('tuf-js');

async function main(root, metadataBaseUrl, targetBaseUrl, work, names) {
  const metadataDir = path.join(work, 'metadata');
  const targetDir = path.join(work, 'targets');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  if (!fs.existsSync(path.join(metadataDir, 'root.json'))) {
    fs.copyFileSync(root, path.join(metadataDir, 'root.json'));
  }
  // No retries: a refused or missing file should fail at once, not after back-off.
  const updater = new Updater({
    metadataDir, metadataBaseUrl, targetDir, targetBaseUrl,
    config: { fetchRetries: 0, fetchRetry: 0 },
  });
  await updater.refresh();
  const out = {};
  for (const name of names) {
    const info = await updater.getTargetInfo(name);
    if (!info) throw new Error(`no such target: ${name}`);
    const file = await updater.downloadTarget(info);
    const data = fs.readFileSync(file);
    out[name] = {
      path: file,
      length: data.length,
      sha256: crypto.createHash('sha256').update(data).digest('hex'),
    };
  }
  return out;
}

const args = process.argv.slice(2);
if (args.length < 5) {
  console.error('usage: node tuf_client.js ROOT.json METADATA_URL TARGET_URL WORK_DIR TARGET_NAME...');
  process.exit(2);
}
main(args[0], args[1], args[2], args[3], args.slice(4)).then(
  (targets) => console.log(JSON.stringify({ ok: true, targets })),
  (e) => {
    console.log(JSON.stringify({ ok: false, error: `${(e && e.name) || 'Error'}: ${(e && e.message) || e}` }));
    process.exit(1);
  },
);
