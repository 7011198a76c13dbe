//! TUF with someone else's code on the other end, over real HTTP on loopback:
//! - python-tuf's ngclient and npm tuf-js read the repository custody publishes (one role per
//!   product, and TAP 15 hash bins), follow a root rotation custody signed, and refuse a target
//!   the mirror swapped;
//! - custody's client reads a repository python-tuf's Metadata API wrote (root rotations,
//!   a delegation by paths, succinct hash bins, ECDSA and RSA-PSS keys), and refuses a rolled
//!   back timestamp.
//!
//! `.ci/run` installs the third-party code (interop/requirements.txt, interop/package.json); a
//! missing module fails these tests rather than skipping them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Project, Run, Server, git, interop, python};
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
enum Client {
    PythonTuf,
    TufJs,
}

/// What a third-party client made of the repository: the JSON its checker printed.
struct Outcome {
    ok: bool,
    json: Value,
}

impl Outcome {
    /// The bytes the client saved for `target`.
    fn bytes(&self, target: &str) -> Vec<u8> {
        let path = self.json["targets"][target]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("no {target} in {}", self.json));
        std::fs::read(path).unwrap()
    }

    fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or_default()
    }
}

/// One client run from `root`: refresh, then look up and download each of `targets`.
/// `work` keeps its trusted metadata between runs, as a real install would.
fn fetch(client: Client, root: &Path, server: &Server, work: &Path, targets: &[&str]) -> Outcome {
    let mut cmd = match client {
        Client::PythonTuf => {
            let mut c = Command::new(python());
            c.arg(interop().join("tuf_client.py"));
            c
        }
        Client::TufJs => {
            assert!(
                interop().join("node_modules/tuf-js").is_dir(),
                "interop/node_modules/tuf-js is missing: run `npm ci --prefix interop` (.ci/run does)"
            );
            let mut c = Command::new("node");
            c.arg(interop().join("tuf_client.js"));
            c
        }
    };
    let out = cmd
        .arg(root)
        .arg(server.url("metadata/"))
        .arg(server.url("targets/"))
        .arg(work)
        .args(targets)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {client:?}: {e}; .ci/run installs it"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // No JSON means the checker itself broke (a module not installed), which is no verdict.
    let json: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "{client:?} did not run properly (run .ci/run or install interop/): {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(json["ok"].as_bool(), Some(out.status.success()), "{json}");
    Outcome {
        ok: out.status.success(),
        json,
    }
}

fn release(p: &Project, version: &str, body: &[u8]) {
    let name = format!("app-{version}.tar.gz");
    p.artifact(&name, body);
    let r = p.run(&[
        "release",
        &format!("dist/{name}"),
        "--product",
        "app",
        "--version",
        version,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A project with a TUF repository (three root keys, two needed), optionally with `bins` bits
/// of TAP 15 hash bins per product.
fn custody_repo(bins: Option<u32>) -> Project {
    let p = Project::new("ed25519");
    let r = p.run(&["repo", "init", "--root-keys", "3", "--root-threshold", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    if let Some(bits) = bins {
        let config = p.dir().join("custody.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("\n[tuf]\n"), "{text}");
        let text = text.replace("\n[tuf]\n", &format!("\n[tuf]\nhash_bins = {bits}\n"));
        std::fs::write(&config, text).unwrap();
        // Releases want a clean tree.
        git(p.dir(), &["commit", "-q", "-am", "hash bins"]);
    }
    p
}

/// Stage a new timestamp key, sign the root with two of the three offline keys, publish.
fn rotate_timestamp_key(p: &Project) {
    let staged = p.dir().join("dist/next-root.json");
    let staged = staged.to_str().unwrap();
    let r = p.run(&["repo", "rotate", "--role", "timestamp", "-o", staged]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for n in [1, 3] {
        let key = p.dir().join(format!(".custody/tuf/root-{n}.key"));
        let r = p.run(&["repo", "sign-root", staged, "--key", key.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = p.run(&["repo", "publish-root", staged]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// The file under `site/tuf/targets/` a consistent-snapshot client fetches for `target`.
fn served_target(p: &Project, target: &str) -> PathBuf {
    let (dir, name) = target.rsplit_once('/').unwrap();
    let dir = p.site().join("tuf/targets").join(dir);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| {
            let file = f.file_name().unwrap().to_str().unwrap();
            file.split_once('.').is_some_and(|(_, rest)| rest == name)
        })
        .unwrap_or_else(|| panic!("{target} is not served under {}", dir.display()))
}

/// Both third-party clients, from the v1 root, fetch targets and bundles of both releases
/// with the bytes custody released; then both refuse a target the mirror swapped.
fn third_party_clients_fetch_and_refuse(p: &Project, root_version: u64) {
    let tuf = p.site().join("tuf");
    let server = Server::start(&tuf);
    let root = tuf.join("metadata/1.root.json");
    let newest_root =
        std::fs::read(tuf.join(format!("metadata/{root_version}.root.json"))).unwrap();
    let targets = [
        "app/1.0.0/app-1.0.0.tar.gz",
        "app/1.0.0/app-1.0.0.tar.gz.sigstore.json",
        "app/1.1.0/app-1.1.0.tar.gz",
        "app/1.1.0/app-1.1.0.tar.gz.sigstore.json",
    ];
    for client in [Client::PythonTuf, Client::TufJs] {
        let work = tempfile::tempdir().unwrap();
        let out = fetch(client, &root, &server, work.path(), &targets);
        assert!(out.ok, "{client:?}: {}", out.json);
        for target in targets {
            let (_, rest) = target.split_once('/').unwrap();
            let released = p.site().join("releases/app").join(rest);
            assert_eq!(
                out.bytes(target),
                std::fs::read(&released).unwrap(),
                "{client:?}: {target}"
            );
        }
        assert_eq!(
            std::fs::read(work.path().join("metadata/root.json")).unwrap(),
            newest_root,
            "{client:?} did not end on root v{root_version}"
        );
    }

    // Same length, one byte different, so the hash and not the length check catches it. The
    // file is a hard link into the release directory: replace it rather than write through.
    let served = served_target(p, "app/1.1.0/app-1.1.0.tar.gz");
    let mut bytes = std::fs::read(&served).unwrap();
    bytes[0] ^= 0x20;
    std::fs::remove_file(&served).unwrap();
    std::fs::write(&served, &bytes).unwrap();
    for client in [Client::PythonTuf, Client::TufJs] {
        let work = tempfile::tempdir().unwrap();
        let out = fetch(
            client,
            &root,
            &server,
            work.path(),
            &["app/1.1.0/app-1.1.0.tar.gz"],
        );
        assert!(
            !out.ok,
            "{client:?} accepted a swapped target: {}",
            out.json
        );
        assert!(
            out.error().to_lowercase().contains("hash"),
            "{client:?}: {}",
            out.error()
        );
    }
}

#[test]
fn python_tuf_and_tuf_js_read_custodys_repository_across_a_root_rotation() {
    let p = custody_repo(None);
    release(&p, "1.0.0", b"version one");
    rotate_timestamp_key(&p);
    release(&p, "1.1.0", b"version two");
    third_party_clients_fetch_and_refuse(&p, 2);
}

#[test]
fn python_tuf_and_tuf_js_read_custodys_hash_bins() {
    let p = custody_repo(Some(4));
    release(&p, "1.0.0", b"version one");
    release(&p, "1.1.0", b"version two");
    let bins = std::fs::read_dir(p.site().join("tuf/metadata"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_str().unwrap().starts_with("1.app-bin-")
        })
        .count();
    assert_eq!(bins, 16, "hash_bins = 4 should make 2^4 bins");
    third_party_clients_fetch_and_refuse(&p, 1);
}

/// A repository from `interop/tuf_make_repo.py` and the JSON summary it printed.
fn python_tuf_repo() -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(interop().join("tuf_make_repo.py"))
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
    assert!(
        out.status.success(),
        "tuf_make_repo.py failed (is python-tuf installed? .ci/run installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = serde_json::from_slice(&out.stdout).unwrap();
    (dir, summary)
}

fn tuf_client(metadata: &Path, args: &[&str]) -> Run {
    Command::new(env!("CARGO_BIN_EXE_custody-tuf-client"))
        .arg("--metadata-dir")
        .arg(metadata)
        .args(args)
        .output()
        .unwrap()
        .into()
}

#[test]
fn custody_reads_a_python_tuf_repository_with_rotations_delegations_and_bins() {
    let (repo, summary) = python_tuf_repo();
    let server = Server::start(repo.path());
    let client = tempfile::tempdir().unwrap();
    let metadata = client.path().join("metadata");
    let downloads = client.path().join("targets");
    let v1 = repo.path().join("metadata/1.root.json");

    let r = tuf_client(&metadata, &["init", v1.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let metadata_url = server.url("metadata");
    let r = tuf_client(&metadata, &["--metadata-url", &metadata_url, "refresh"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read(metadata.join("root.json")).unwrap(),
        std::fs::read(repo.path().join("metadata/3.root.json")).unwrap(),
        "the client should trust root v3, byte for byte"
    );

    let targets = summary["targets"].as_object().unwrap();
    assert_eq!(targets.len(), 3, "{summary}");
    let mut args = vec![
        "--metadata-url".to_owned(),
        metadata_url,
        "--target-base-url".into(),
        server.url("targets"),
        "--target-dir".into(),
        downloads.display().to_string(),
    ];
    for name in targets.keys() {
        args.extend(["--target-name".into(), name.clone()]);
    }
    args.push("download".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = tuf_client(&metadata, &refs);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (name, sha256) in targets {
        let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
        let served = repo
            .path()
            .join("targets")
            .join(dir)
            .join(format!("{}.{file}", sha256.as_str().unwrap()));
        // The tuf-conformance protocol: a target is saved under its percent-encoded name.
        let saved = downloads.join(name.replace('/', "%2F"));
        assert_eq!(
            std::fs::read(&saved).unwrap_or_else(|e| panic!("{}: {e}", saved.display())),
            std::fs::read(&served).unwrap(),
            "{name}"
        );
    }
    let bin = summary["bin"].as_str().unwrap();
    assert!(
        metadata.join(format!("{bin}.json")).is_file(),
        "the binned target should have been found through {bin}"
    );
}

#[test]
fn custody_refuses_a_rolled_back_timestamp_from_a_python_tuf_repository() {
    let (repo, _) = python_tuf_repo();
    let server = Server::start(repo.path());
    let client = tempfile::tempdir().unwrap();
    let metadata = client.path().join("metadata");
    let v1 = repo.path().join("metadata/1.root.json");
    assert_eq!(
        tuf_client(&metadata, &["init", v1.to_str().unwrap()]).code,
        0
    );
    let metadata_url = server.url("metadata");
    let r = tuf_client(&metadata, &["--metadata-url", &metadata_url, "refresh"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Timestamp v1, signed by the current timestamp key, after the client has seen v2.
    std::fs::copy(
        repo.path().join("stale/timestamp.json"),
        repo.path().join("metadata/timestamp.json"),
    )
    .unwrap();
    let r = tuf_client(&metadata, &["--metadata-url", &metadata_url, "refresh"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("rollback"), "{}", r.stderr);
    let trusted: Value =
        serde_json::from_slice(&std::fs::read(metadata.join("timestamp.json")).unwrap()).unwrap();
    assert_eq!(
        trusted["signed"]["version"], 2,
        "a refused timestamp must not replace the trusted one"
    );
}

#[test]
fn python_tuf_and_tuf_js_read_a_product_signed_by_its_own_key() {
    let p = custody_repo(Some(2));
    release(&p, "1.0.0", b"version one");
    let r = p.run(&["repo", "product-key", "app", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    git(p.dir(), &["commit", "-q", "-am", "app's own targets key"]);
    release(&p, "1.1.0", b"version two");
    // The bins now name the product's key, not the online targets key.
    let hint = r.json()["hint"].as_str().unwrap().to_owned();
    let metadata = p.site().join("tuf/metadata");
    let newest_app = (1..)
        .map(|v| metadata.join(format!("{v}.app.json")))
        .take_while(|f| f.is_file())
        .last()
        .unwrap();
    let app: Value = serde_json::from_slice(&std::fs::read(newest_app).unwrap()).unwrap();
    let bin_keys = &app["signed"]["delegations"]["succinct_roles"]["keyids"];
    let targets_keyid = {
        let root: Value =
            serde_json::from_slice(&std::fs::read(metadata.join("root.json")).unwrap()).unwrap();
        root["signed"]["roles"]["targets"]["keyids"][0].clone()
    };
    assert_ne!(bin_keys[0], targets_keyid, "{app}");
    assert!(!hint.is_empty());
    third_party_clients_fetch_and_refuse(&p, 1);
}
