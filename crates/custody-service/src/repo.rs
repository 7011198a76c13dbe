//! The site's TUF repository: creating it, keeping its online roles signed, and rotating keys
//! through a new root that the offline root keys sign.
//!
//! The root keys are offline: [`init`] writes them for the operator to move away, and they are
//! needed again only to sign a staged root ([`sign_staged_root`]). The targets, snapshot and
//! timestamp keys are online: releases and [`refresh`] use them.

use std::path::{Path, PathBuf};

use custody_crypto::{KeyAlgorithm, PublicKey, Signer};
use custody_site::config::Loaded;
use custody_site::fs::{read_bounded, write_atomic};
use custody_site::tuf::{ONLINE_ROLES, expiry, root_key_path};
use custody_tuf::repo::{KeyChange, Renewed, Repository, RoleStatus, sign_root};
use custody_tuf::{Metadata, Root};
use serde::Serialize;

use crate::Error;
use crate::env::{Clock, Key, KeySource};
use crate::error::install_failed;
use crate::keys::pub_path;
use crate::release::online_keys;

/// Most bytes read from a staged root file.
const ROOT_LIMIT: u64 = 512 << 10;

fn tuf_error(dir: &Path) -> impl FnOnce(custody_tuf::Error) -> Error + '_ {
    move |source| Error::Tuf {
        dir: dir.to_path_buf(),
        source,
    }
}

/// The project's repository, which must exist.
pub fn open(loaded: &Loaded) -> Result<Repository, Error> {
    let dir = loaded.tuf_dir();
    if !custody_site::tuf::exists(&dir) {
        return Err(Error::NoRepository { dir });
    }
    Repository::open(&dir, expiry(&loaded.config.tuf)).map_err(tuf_error(&dir))
}

/// What [`product_key`] set up.
#[derive(Debug, Serialize)]
pub struct ProductKey {
    /// The product.
    pub product: String,
    /// Its targets key: a file or a `pkcs11:` URI.
    pub key: PathBuf,
    /// Whether the key was made now.
    pub created: bool,
    /// Its Sigstore-style hint.
    pub hint: String,
}

/// Gives `product` a TUF targets key of its own, for the team that owns it: `key` (a file or
/// `pkcs11:` URI, made there if it is not yet; by default `product-<product>.key` in the TUF
/// key directory). The product's delegated role (and its hash bins) name that key from now on
/// instead of the online `targets` key; custody.toml records it under `[tuf.product_keys]`, so
/// each release of the product signs its targets with it, and the change is published at once.
pub fn product_key(
    loaded: &Loaded,
    product: &str,
    key: Option<&Path>,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<ProductKey, Error> {
    custody_tuf::repo::validate_product(product).map_err(tuf_error(&loaded.tuf_dir()))?;
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    let mut repo = open(loaded)?;
    let configured = key.map_or_else(
        || {
            loaded
                .config
                .tuf
                .keys
                .join(format!("product-{product}.key"))
        },
        Path::to_path_buf,
    );
    let path = loaded.key_at(&configured);
    let made = crate::keys::project_key(path.clone(), loaded.algorithm()?, keys)?;
    let mut config = loaded.config.clone();
    config
        .tuf
        .product_keys
        .insert(product.to_owned(), configured);
    let updated = Loaded {
        config,
        ..loaded.clone()
    };
    let online = unlock_online(&updated, &[], keys)?;
    // One stolen key must not sign for two roles: not the online keys', nor another product's.
    crate::release::check_duties(&online, false, &crate::env::Silent).map_err(|e| match e {
        Error::SharedKey { key, .. } => Error::SharedKey {
            first: "online TUF",
            second: "product's targets",
            key,
        },
        other => other,
    })?;
    repo.delegate_product(product, &made.public, loaded.config.tuf.hash_bins)
        .map_err(tuf_error(&loaded.tuf_dir()))?;
    repo.commit(online_keys(&online)?, clock.now())
        .map_err(tuf_error(&loaded.tuf_dir()))?;
    loaded.rewrite_config(&updated.config)?;
    Ok(ProductKey {
        product: product.to_owned(),
        key: path,
        created: made.created,
        hint: made.public.hint().to_string(),
    })
}

/// `<role>.key.next`: where a rotation keeps the next key of an online role until the new root
/// is published.
fn next_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    path.with_file_name(name)
}

/// The three online keys, taking `<role>.key.next` for the roles in `next_for`, then the
/// products' own targets keys.
fn unlock_online(
    loaded: &Loaded,
    next_for: &[&str],
    keys: &dyn KeySource,
) -> Result<Vec<Key>, Error> {
    let mut paths = loaded.tuf_signing_key_paths();
    for (path, role) in paths.iter_mut().zip(ONLINE_ROLES) {
        if next_for.contains(&role) {
            *path = next_path(path);
        }
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    keys.unlock(&refs)
}

/// What [`init`] created.
#[derive(Debug, Serialize)]
pub struct Initialized {
    /// The repository directory.
    pub repository: PathBuf,
    /// The first root, which customers pin.
    pub root: PathBuf,
    /// The root keys, to move offline.
    pub root_keys: Vec<PathBuf>,
    /// How many root keys must sign each new root.
    pub root_threshold: u64,
    /// The online keys.
    pub online_keys: Vec<PathBuf>,
}

/// Creates the repository: root version 1 signed by `root_count` new root keys (of which
/// `threshold` must sign each later root), and empty targets, snapshot and timestamp signed by
/// three new online keys.
pub fn init(
    loaded: &Loaded,
    root_count: usize,
    threshold: u64,
    algorithm: KeyAlgorithm,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<Initialized, Error> {
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    let dir = loaded.tuf_dir();
    if custody_site::tuf::exists(&dir) {
        return Err(Error::RepositoryExists { dir });
    }
    if root_count == 0 || threshold == 0 || threshold as usize > root_count {
        return Err(Error::RootThreshold {
            threshold,
            keys: root_count,
        });
    }
    let keys_dir = loaded.tuf_keys_dir();
    let root_paths: Vec<PathBuf> = (1..=root_count)
        .map(|n| root_key_path(&keys_dir, n))
        .collect();
    let online_paths = loaded.tuf_online_key_paths();
    // A key in a token is refused by the token when its label is taken.
    if let Some(existing) = root_paths
        .iter()
        .chain(&online_paths)
        .filter(|p| !custody_site::config::is_key_uri(p))
        .find(|p| p.exists())
    {
        return Err(Error::KeyExists {
            path: existing.clone(),
        });
    }
    let roots = root_paths
        .iter()
        .map(|p| keys.generate(p, algorithm))
        .collect::<Result<Vec<_>, _>>()?;
    let online = online_paths
        .iter()
        .map(|p| keys.generate(p, algorithm))
        .collect::<Result<Vec<_>, _>>()?;
    let root_refs: Vec<&dyn Signer> = roots.iter().map(|k| k as &dyn Signer).collect();
    let mut repo = Repository::create(
        &dir,
        &root_refs,
        threshold,
        online_keys(&online)?,
        expiry(&loaded.config.tuf),
        clock.now(),
    )
    .map_err(tuf_error(&dir))?;
    if list_trust_files(loaded, &mut repo)? {
        repo.commit(online_keys(&online)?, clock.now())
            .map_err(tuf_error(&dir))?;
    }
    Ok(Initialized {
        root: dir.join("metadata/1.root.json"),
        repository: dir,
        root_keys: root_paths,
        root_threshold: threshold,
        online_keys: online_paths.to_vec(),
    })
}

/// The site's trust files, as top-level TUF targets: customers take them through the same
/// rollback-proof channel as the releases, with only the first root pinned.
pub const TRUST_TARGETS: [&str; 2] = [
    custody_site::site::TRUSTED_ROOT_FILE,
    custody_site::site::POLICY_FILE,
];

/// Lists the site's current trust files in `repo` (uncommitted); whether either changed.
fn list_trust_files(loaded: &Loaded, repo: &mut Repository) -> Result<bool, Error> {
    let site = loaded.site_dir();
    let mut changed = false;
    for name in TRUST_TARGETS {
        changed |= repo
            .set_top_level_target(name, &site.join(name))
            .map_err(tuf_error(&loaded.tuf_dir()))?;
    }
    Ok(changed)
}

/// Publishes the site's trust files through the repository when they changed (a revocation, a
/// new key in the policy): a new targets, snapshot and timestamp. Whether they had changed.
pub fn publish_trust_files(
    loaded: &Loaded,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<bool, Error> {
    let mut repo = open(loaded)?;
    if !list_trust_files(loaded, &mut repo)? {
        return Ok(false);
    }
    let online = unlock_online(loaded, &[], keys)?;
    repo.commit(online_keys(&online)?, clock.now())
        .map_err(tuf_error(&loaded.tuf_dir()))?;
    Ok(true)
}

/// Re-signs whatever expires within half its validity period (all online roles with `force`),
/// and publishes the site's trust files first if they changed.
pub fn refresh(
    loaded: &Loaded,
    force: bool,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<Vec<Renewed>, Error> {
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    publish_trust_files(loaded, keys, clock)?;
    let mut repo = open(loaded)?;
    let online = unlock_online(loaded, &[], keys)?;
    repo.refresh(online_keys(&online)?, clock.now(), force)
        .map_err(tuf_error(&loaded.tuf_dir()))
}

/// Each role's version, expiry and keys.
pub fn status(loaded: &Loaded, clock: &dyn Clock) -> Result<(PathBuf, Vec<RoleStatus>), Error> {
    let repo = open(loaded)?;
    Ok((repo.dir().to_path_buf(), repo.status(clock.now())))
}

/// A change of one role's keys.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// `root`, `targets`, `snapshot` or `timestamp`.
    pub role: String,
    /// New key(s): public keys for root keys held offline, or one private key file for an
    /// online role; none for an online role means generate one.
    pub new_keys: Vec<PathBuf>,
    /// The threshold of the new keys.
    pub threshold: u64,
    /// Root private keys to sign the staged root with now.
    pub root_keys: Vec<PathBuf>,
    /// Where to write the staged root while it still needs signatures (default: the key
    /// directory).
    pub staged_out: Option<PathBuf>,
}

/// What a rotation did.
#[derive(Debug, Serialize)]
pub struct Rotated {
    /// The role rotated.
    pub role: String,
    /// The new root's version.
    pub root_version: u64,
    /// Whether the new root is published (both thresholds met).
    pub published: bool,
    /// Where the staged root waits for more signatures, when it is not published.
    pub staged: Option<PathBuf>,
    /// Signatures on the new root so far.
    pub signatures: usize,
}

/// Stages the next root with the role's new keys, signs it with the root keys given, and
/// publishes it once both the current and the new root's thresholds have signed; otherwise the
/// staged root is written for offline signing.
pub fn rotate(
    loaded: &Loaded,
    rotation: &Rotation,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<Rotated, Error> {
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    let repo = open(loaded)?;
    let keys_dir = loaded.tuf_keys_dir();
    let role = &rotation.role;
    let online_role = role != "root";
    if let Some(configured) = ONLINE_ROLES
        .iter()
        .zip(loaded.tuf_online_key_paths())
        .find(|(r, p)| *r == role && custody_site::config::is_key_uri(p))
        .map(|(_, p)| p)
    {
        return Err(Error::RotateTokenKey {
            role: role.clone(),
            key: configured.display().to_string(),
        });
    }
    let new_public: Vec<PublicKey> = if online_role {
        let next = next_path(&keys_dir.join(format!("{role}.key")));
        match rotation.new_keys.as_slice() {
            [] => {
                if next.exists() {
                    return Err(Error::RotationStaged {
                        role: role.clone(),
                        path: next,
                    });
                }
                vec![
                    keys.generate(&next, KeyAlgorithm::Ed25519)?
                        .public_key()
                        .clone(),
                ]
            }
            [given] => {
                let signer = keys
                    .unlock(&[given])?
                    .pop()
                    .ok_or_else(|| Error::KeyMissing {
                        path: given.clone(),
                    })?;
                std::fs::copy(given, &next).map_err(install_failed("the new key", &next))?;
                vec![signer.public_key().clone()]
            }
            more => {
                return Err(Error::OnlineRoleKeys {
                    role: role.clone(),
                    given: more.len(),
                });
            }
        }
    } else {
        if rotation.new_keys.is_empty() {
            return Err(Error::RootRotationWithoutKeys);
        }
        rotation
            .new_keys
            .iter()
            .map(|p| keys.public_key(p))
            .collect::<Result<_, _>>()?
    };
    let dir = loaded.tuf_dir();
    let mut staged = repo
        .stage_root(
            &KeyChange {
                role: role.clone(),
                keys: new_public,
                threshold: rotation.threshold,
            },
            clock.now(),
        )
        .map_err(tuf_error(&dir))?;
    let refs: Vec<&Path> = rotation.root_keys.iter().map(PathBuf::as_path).collect();
    for signer in keys.unlock(&refs)? {
        sign_root(&mut staged, &signer).map_err(tuf_error(&dir))?;
    }
    let version = staged.signed.version;
    let staged_path = rotation
        .staged_out
        .clone()
        .unwrap_or_else(|| keys_dir.join(format!("{version}.root.staged.json")));
    write_atomic(&staged_path, staged.bytes())?;
    let enough = enough_signatures(&repo, &staged);
    if enough {
        publish_staged_root(loaded, &staged, keys, clock)?;
        // The staged copy has served its purpose; a leftover is harmless.
        let _ = std::fs::remove_file(&staged_path);
    }
    Ok(Rotated {
        role: role.clone(),
        root_version: version,
        published: enough,
        staged: (!enough).then_some(staged_path),
        signatures: staged.signatures.len(),
    })
}

/// Whether both the current and the staged root's thresholds are met.
fn enough_signatures(repo: &Repository, staged: &Metadata<Root>) -> bool {
    let old = &repo.root().signed;
    let new = &staged.signed;
    let ok = |keys, role: Option<&custody_tuf::Role>| {
        role.is_some_and(|r| staged.verify_role("root", keys, r).is_ok())
    };
    ok(&old.keys, old.role("root")) && ok(&new.keys, new.role("root"))
}

/// Reads a staged root file.
pub fn read_staged_root(file: &Path) -> Result<Metadata<Root>, Error> {
    let bytes = read_bounded(file, ROOT_LIMIT, "staged root").map_err(Error::input)?;
    Metadata::<Root>::from_bytes(&file.display().to_string(), &bytes).map_err(|source| {
        Error::StagedRoot {
            path: file.to_path_buf(),
            source: Box::new(source),
        }
    })
}

/// A staged root after signing.
#[derive(Debug, Serialize)]
pub struct SignedRoot {
    /// The file.
    pub file: PathBuf,
    /// Its root version.
    pub version: u64,
    /// Signatures on it now.
    pub signatures: usize,
    /// The new root's threshold.
    pub threshold: u64,
}

/// Signs the staged root in `file` with each of `key_paths` (offline; needs no repository).
pub fn sign_staged_root(
    file: &Path,
    key_paths: &[PathBuf],
    keys: &dyn KeySource,
) -> Result<SignedRoot, Error> {
    let mut staged = read_staged_root(file)?;
    let refs: Vec<&Path> = key_paths.iter().map(PathBuf::as_path).collect();
    for signer in keys.unlock(&refs)? {
        sign_root(&mut staged, &signer).map_err(tuf_error(file))?;
    }
    write_atomic(file, staged.bytes())?;
    Ok(SignedRoot {
        file: file.to_path_buf(),
        version: staged.signed.version,
        signatures: staged.signatures.len(),
        threshold: staged.signed.role("root").map_or(0, |r| r.threshold),
    })
}

/// A published root.
#[derive(Debug, Serialize)]
pub struct PublishedRoot {
    /// Its version.
    pub root_version: u64,
    /// The online roles whose keys it changed (re-signed with the new keys at once).
    pub rotated: Vec<String>,
}

/// Publishes a staged root that enough root keys have signed, re-signing at once every online
/// role whose key it changes with that role's new key, and retiring the old key files.
pub fn publish_root(
    loaded: &Loaded,
    staged: &Metadata<Root>,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<PublishedRoot, Error> {
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    publish_staged_root(loaded, staged, keys, clock)
}

/// [`publish_root`] for a caller already holding the writer lock (a second `flock` on a new
/// descriptor would wait for the first forever).
fn publish_staged_root(
    loaded: &Loaded,
    staged: &Metadata<Root>,
    keys: &dyn KeySource,
    clock: &dyn Clock,
) -> Result<PublishedRoot, Error> {
    let mut repo = open(loaded)?;
    let old = repo.root().signed.clone();
    let rotated: Vec<&str> = ONLINE_ROLES
        .into_iter()
        .filter(|r| old.role(r) != staged.signed.role(r))
        .collect();
    let keys_dir = loaded.tuf_keys_dir();
    let online = unlock_online(loaded, &rotated, keys)?;
    repo.publish_root(staged, online_keys(&online)?, clock.now())
        .map_err(tuf_error(&loaded.tuf_dir()))?;
    for role in &rotated {
        let current = keys_dir.join(format!("{role}.key"));
        let retired = keys_dir.join(format!("{role}.key.retired-v{}", staged.signed.version - 1));
        std::fs::rename(&current, &retired).map_err(install_failed("the retired key", &retired))?;
        std::fs::rename(next_path(&current), &current)
            .map_err(install_failed("the new key", &current))?;
        // The `.next` key's public half is rewritten below under the key's own name.
        let _ = std::fs::remove_file(pub_path(&next_path(&current)));
        if let Some(key) = ONLINE_ROLES
            .iter()
            .position(|r| r == role)
            .and_then(|i| online.get(i))
        {
            write_atomic(&pub_path(&current), key.public_key().to_pem().as_bytes())?;
        }
    }
    Ok(PublishedRoot {
        root_version: staged.signed.version,
        rotated: rotated.iter().map(|r| (*r).to_owned()).collect(),
    })
}
