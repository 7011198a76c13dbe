//! The repository editor's output, read back by custody's own client over the file system:
//! publish, delegate per product, hash bins, refresh, and key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use custody_crypto::{KeyAlgorithm, Signer, SigningKey};
use custody_tuf::repo::{Expiry, KeyChange, OnlineKeys, Repository, sign_root};
use custody_tuf::{Config, DirStore, Error, FileFetcher, Store, Updater};
use jiff::{SignedDuration, Timestamp};

struct Keys {
    root: Vec<SigningKey>,
    targets: SigningKey,
    snapshot: SigningKey,
    timestamp: SigningKey,
}

impl Keys {
    fn new(roots: usize) -> Self {
        let g = || SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        Self {
            root: (0..roots).map(|_| g()).collect(),
            targets: SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap(),
            snapshot: g(),
            timestamp: g(),
        }
    }
    fn online(&self) -> OnlineKeys<'_> {
        OnlineKeys {
            targets: &self.targets,
            snapshot: &self.snapshot,
            timestamp: &self.timestamp,
            delegated: &[],
        }
    }
    fn roots(&self) -> Vec<&dyn Signer> {
        self.root.iter().map(|k| k as &dyn Signer).collect()
    }
}

fn create(
    dir: &Path,
    keys: &Keys,
    threshold: u64,
    at: Timestamp,
) -> custody_tuf::Result<Repository> {
    Repository::create(
        dir,
        &keys.roots(),
        threshold,
        keys.online(),
        Expiry::default(),
        at,
    )
}

fn now() -> Timestamp {
    Timestamp::now()
}

fn client(
    repo: &Path,
    state: &Path,
    root_version: u64,
    at: Timestamp,
) -> Updater<FileFetcher, DirStore> {
    let store = DirStore::new(state);
    if store.load("root.json").unwrap().is_none() {
        let root = std::fs::read(repo.join(format!("metadata/{root_version}.root.json"))).unwrap();
        store.save("root.json", &root).unwrap();
    }
    let url = repo.join("metadata");
    Updater::new(
        FileFetcher,
        store,
        url.to_str().unwrap(),
        Config::default(),
        at,
    )
    .unwrap()
}

fn artifact(dir: &Path, name: &str, body: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn published_targets_download_through_the_client() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("tuf");
    let keys = Keys::new(3);
    let mut repo = create(&repo_dir, &keys, 2, now()).unwrap();
    let a = artifact(tmp.path(), "app.tar.gz", b"release one");
    let target = repo
        .add_target(
            "app",
            "1.0.0",
            &a,
            Some(serde_json::json!({"product": "app"})),
            None,
        )
        .unwrap();
    assert_eq!(target, "app/1.0.0/app.tar.gz");
    repo.commit(keys.online(), now()).unwrap();

    let mut c = client(&repo_dir, &tmp.path().join("state"), 1, now());
    let info = c.target_info(&target).unwrap();
    assert_eq!(info.length, 11);
    let base = repo_dir.join("targets");
    let bytes = c
        .download_target(base.to_str().unwrap(), &target, &info)
        .unwrap();
    assert_eq!(bytes, b"release one");
    assert!(c.target_info("app/1.0.0/missing").is_err());
    assert!(c.target_info("other/1.0.0/app.tar.gz").is_err());
    // Stored byte-for-byte as the repository wrote them.
    let stored = std::fs::read(tmp.path().join("state/app.json")).unwrap();
    let published = std::fs::read(repo_dir.join("metadata/1.app.json")).unwrap();
    assert_eq!(stored, published);
}

#[test]
fn hash_bins_hold_many_targets_and_the_client_fetches_one_bin() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("tuf");
    let keys = Keys::new(1);
    let mut repo = create(&repo_dir, &keys, 1, now()).unwrap();
    let mut targets = Vec::new();
    for i in 0..40 {
        let a = artifact(
            tmp.path(),
            &format!("f{i}.bin"),
            format!("body {i}").as_bytes(),
        );
        targets.push(repo.add_target("big", "2.0", &a, None, Some(4)).unwrap());
    }
    repo.commit(keys.online(), now()).unwrap();
    let bins = std::fs::read_dir(repo_dir.join("metadata"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("big-bin-")
        })
        .count();
    assert_eq!(bins, 16);

    let state = tmp.path().join("state");
    let mut c = client(&repo_dir, &state, 1, now());
    let info = c.target_info(&targets[7]).unwrap();
    let bytes = c
        .download_target(
            repo_dir.join("targets").to_str().unwrap(),
            &targets[7],
            &info,
        )
        .unwrap();
    assert_eq!(bytes, b"body 7");
    let fetched_bins = std::fs::read_dir(&state)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("big-bin-")
        })
        .count();
    assert_eq!(fetched_bins, 1, "a lookup loads only the bin it needs");
}

#[test]
fn refresh_renews_what_is_about_to_expire_and_clients_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("tuf");
    let keys = Keys::new(1);
    let t0 = now();
    let mut repo = create(&repo_dir, &keys, 1, t0).unwrap();
    assert!(repo.refresh(keys.online(), t0, false).unwrap().is_empty());
    // Two days on, the one-day timestamp has expired: a client refuses it (freeze attack)...
    let later = t0.checked_add(SignedDuration::from_hours(48)).unwrap();
    let mut stale = client(&repo_dir, &tmp.path().join("a"), 1, later);
    let err = stale.refresh().unwrap_err();
    assert!(
        matches!(err, Error::Expired { ref role, .. } if role == "timestamp"),
        "{err}"
    );
    assert!(err.to_string().contains("freeze attack"));
    // ...until the cron job refreshes it.
    let renewed = repo.refresh(keys.online(), later, false).unwrap();
    let roles: Vec<&str> = renewed.iter().map(|r| r.role.as_str()).collect();
    assert!(
        roles.contains(&"timestamp") && roles.contains(&"snapshot"),
        "{roles:?}"
    );
    client(&repo_dir, &tmp.path().join("b"), 1, later)
        .refresh()
        .unwrap();
    let status = repo.status(later);
    assert!(status.iter().all(|s| !s.expired), "{status:?}");
}

#[test]
fn rotating_the_timestamp_key_locks_out_the_old_key() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("tuf");
    let keys = Keys::new(3);
    let mut repo = create(&repo_dir, &keys, 2, now()).unwrap();
    let state = tmp.path().join("state");
    client(&repo_dir, &state, 1, now()).refresh().unwrap();

    let new_ts = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let mut staged = repo
        .stage_root(
            &KeyChange {
                role: "timestamp".into(),
                keys: vec![new_ts.public_key().clone()],
                threshold: 1,
            },
            now(),
        )
        .unwrap();
    let online = OnlineKeys {
        timestamp: &new_ts,
        ..keys.online()
    };
    // One root signature is below the threshold of two.
    sign_root(&mut staged, &keys.root[0]).unwrap();
    let err = repo.publish_root(&staged, online, now()).unwrap_err();
    assert!(matches!(err, Error::Threshold { .. }), "{err}");
    // An outsider's key cannot sign the root at all.
    let outsider = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    assert!(sign_root(&mut staged, &outsider).is_err());
    sign_root(&mut staged, &keys.root[2]).unwrap();
    repo.publish_root(&staged, online, now()).unwrap();

    let mut c = client(&repo_dir, &state, 1, now());
    c.refresh().unwrap();
    assert_eq!(c.trusted().root().signed.version, 2);

    // The old (compromised) timestamp key signs a newer timestamp: refused.
    let mut forged = repo.timestamp().signed.clone();
    forged.version += 10;
    let forged = custody_tuf::Metadata::sign(
        forged,
        &[(
            &custody_tuf::Key::from_public_key(keys.timestamp.public_key())
                .unwrap()
                .compute_keyid(),
            &keys.timestamp,
        )],
    )
    .unwrap();
    std::fs::write(repo_dir.join("metadata/timestamp.json"), forged.bytes()).unwrap();
    let err = client(&repo_dir, &state, 1, now()).refresh().unwrap_err();
    assert!(
        matches!(err, Error::Threshold { ref role, .. } if role == "timestamp"),
        "{err}"
    );
}

#[test]
fn releases_are_immutable_and_bad_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("tuf");
    let keys = Keys::new(1);
    let mut repo = create(&repo_dir, &keys, 1, now()).unwrap();
    let a = artifact(tmp.path(), "x.bin", b"one");
    repo.add_target("app", "1", &a, None, None).unwrap();
    let one = custody_tuf::TargetFile::from_bytes(b"one", None);
    std::fs::write(&a, b"two").unwrap();
    let two = custody_tuf::TargetFile::from_bytes(b"two", None);
    let err = repo.add_target("app", "1", &a, None, None).unwrap_err();
    assert!(
        matches!(&err, Error::TargetImmutable { target, published, offered }
            if target == "app/1/x.bin" && *published == one.hashes && *offered == two.hashes),
        "{err}"
    );
    assert!(err.to_string().contains("releases are immutable"), "{err}");
    for bad in ["", ".hidden", "a/b", "root", "targets", "x y"] {
        let err = repo.add_target(bad, "1", &a, None, None).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidProductName { product } if product == bad),
            "{bad:?}: {err}"
        );
    }
    let err = repo.add_target("app", "../1", &a, None, None).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidVersionSegment { version } if version == "../1"),
        "{err}"
    );
    let err = create(&repo_dir, &keys, 1, now()).unwrap_err();
    assert!(
        matches!(&err, Error::RepositoryExists { dir } if *dir == repo_dir),
        "a second init must not overwrite the repository: {err}"
    );
    // Wrong online key: refused before anything is signed.
    let wrong = Keys::new(1);
    let err = repo.commit(wrong.online(), now()).unwrap_err();
    let wrong_id = custody_tuf::Key::from_public_key(wrong.targets.public_key())
        .unwrap()
        .compute_keyid();
    assert!(
        matches!(&err, Error::KeyNotInRole { role, keyid } if role == "targets" && *keyid == wrong_id),
        "{err}"
    );
    let reopened = Repository::open(&repo_dir, Expiry::default()).unwrap();
    assert_eq!(reopened.timestamp().signed.version, 1);
}

#[test]
fn impossible_thresholds_and_root_changes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::new(2);
    for threshold in [0, 3] {
        let err = create(&tmp.path().join("t"), &keys, threshold, now()).unwrap_err();
        assert!(
            matches!(&err, Error::ThresholdOutOfRange { role, threshold: t, keys: 2 }
                if role == "root" && *t == threshold),
            "{threshold}: {err}"
        );
    }
    let repo_dir = tmp.path().join("tuf");
    let mut repo = create(&repo_dir, &keys, 1, now()).unwrap();
    let new_key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let change = |role: &str, threshold| KeyChange {
        role: role.into(),
        keys: vec![new_key.public_key().clone()],
        threshold,
    };
    let err = repo.stage_root(&change("app", 1), now()).unwrap_err();
    assert!(
        matches!(&err, Error::NotTopLevelRole { role } if role == "app"),
        "{err}"
    );
    let err = repo.stage_root(&change("snapshot", 2), now()).unwrap_err();
    assert!(
        matches!(&err, Error::ThresholdOutOfRange { role, threshold: 2, keys: 1 } if role == "snapshot"),
        "{err}"
    );

    // A root staged twice: the second is not the next version once the first is published.
    let mut first = repo.stage_root(&change("snapshot", 1), now()).unwrap();
    let mut second = repo.stage_root(&change("snapshot", 1), now()).unwrap();
    sign_root(&mut first, &keys.root[0]).unwrap();
    sign_root(&mut second, &keys.root[0]).unwrap();
    let online = OnlineKeys {
        snapshot: &new_key,
        ..keys.online()
    };
    repo.publish_root(&first, online, now()).unwrap();
    let err = repo.publish_root(&second, online, now()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RootVersion {
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err}"
    );

    // A key the root does not list cannot sign it.
    let outsider = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let outsider_id = custody_tuf::Key::from_public_key(outsider.public_key())
        .unwrap()
        .compute_keyid();
    let err = sign_root(&mut second, &outsider).unwrap_err();
    assert!(
        matches!(&err, Error::KeyNotInRoot { keyid } if *keyid == outsider_id),
        "{err}"
    );

    let a = artifact(tmp.path(), "a.bin", b"a");
    let err = repo
        .add_target("wide", "1", &a, None, Some(17))
        .unwrap_err();
    assert!(
        matches!(err, Error::HashBinBitsOutOfRange { bits: 17 }),
        "{err}"
    );
    // Regression: the refusal changed nothing, so no delegation to a role that does not
    // exist is left for the next commit to publish.
    let delegated = repo
        .role("targets")
        .and_then(|t| t.signed.delegations.as_ref())
        .and_then(|d| d.role("wide"));
    assert!(delegated.is_none(), "a refused product is not delegated");
}

#[test]
fn one_products_role_cannot_stand_in_for_anothers() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("tuf");
    let keys = Keys::new(1);
    let mut repo = create(&repo_dir, &keys, 1, now()).unwrap();
    let a = artifact(tmp.path(), "a.bin", b"a");
    let b = artifact(tmp.path(), "b.bin", b"b");
    repo.add_target("app", "1", &a, None, None).unwrap();
    let lib = repo.add_target("lib", "1", &b, None, None).unwrap();
    repo.commit(keys.online(), now()).unwrap();
    // Same signer, same version: only the snapshot's hash tells the two files apart.
    let meta = repo_dir.join("metadata");
    std::fs::copy(meta.join("1.app.json"), meta.join("1.lib.json")).unwrap();
    let mut c = client(&repo_dir, &tmp.path().join("state"), 1, now());
    let err = c.target_info(&lib).unwrap_err();
    // A longer stand-in is cut off at the pinned length; any other is caught by length or hash.
    assert!(
        matches!(
            err,
            Error::LengthMismatch { .. } | Error::HashMismatch { .. } | Error::TooLarge { .. }
        ),
        "{err}"
    );
}

#[test]
fn rotating_root_then_targets_keys_keeps_clients_following() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("tuf");
    let keys = Keys::new(2);
    let mut repo = create(&repo_dir, &keys, 1, now()).unwrap();
    let a = artifact(tmp.path(), "a.bin", b"first");
    let first = repo.add_target("app", "1", &a, None, None).unwrap();
    repo.commit(keys.online(), now()).unwrap();
    let state = tmp.path().join("state");
    client(&repo_dir, &state, 1, now()).refresh().unwrap();

    // Replace both root keys with one new key: the old threshold and the new one must sign.
    let new_root = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let change = KeyChange {
        role: "root".into(),
        keys: vec![new_root.public_key().clone()],
        threshold: 1,
    };
    let mut staged = repo.stage_root(&change, now()).unwrap();
    sign_root(&mut staged, &new_root).unwrap();
    let err = repo
        .publish_root(&staged, keys.online(), now())
        .unwrap_err();
    assert!(
        matches!(err, Error::Threshold { .. }),
        "old root must sign too: {err}"
    );
    sign_root(&mut staged, &keys.root[1]).unwrap();
    repo.publish_root(&staged, keys.online(), now()).unwrap();

    // Then the targets key, signed by the new root key alone.
    let new_targets = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let change = KeyChange {
        role: "targets".into(),
        keys: vec![new_targets.public_key().clone()],
        threshold: 1,
    };
    let mut staged = repo.stage_root(&change, now()).unwrap();
    assert!(
        sign_root(&mut staged, &keys.root[0]).is_err(),
        "a retired root key is no longer listed"
    );
    sign_root(&mut staged, &new_root).unwrap();
    let online = OnlineKeys {
        targets: &new_targets,
        ..keys.online()
    };
    assert!(
        repo.publish_root(&staged, keys.online(), now()).is_err(),
        "the old targets key is refused once the new root names another"
    );
    let mut repo = Repository::open(&repo_dir, Expiry::default()).unwrap();
    repo.publish_root(&staged, online, now()).unwrap();
    let b = artifact(tmp.path(), "b.bin", b"second");
    let second = repo.add_target("app", "2", &b, None, None).unwrap();
    repo.commit(online, now()).unwrap();

    let mut c = client(&repo_dir, &state, 1, now());
    c.refresh().unwrap();
    assert_eq!(c.trusted().root().signed.version, 3);
    for (target, body) in [(&first, &b"first"[..]), (&second, &b"second"[..])] {
        let info = c.target_info(target).unwrap();
        let got = c
            .download_target(repo_dir.join("targets").to_str().unwrap(), target, &info)
            .unwrap();
        assert_eq!(got, body);
    }
}
