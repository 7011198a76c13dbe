//! `custody.toml`: where the site and the key live, and what the provenance says about the
//! builder and the source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use custody_crypto::KeyAlgorithm;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The largest custody.toml read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The config file's name.
pub const CONFIG_FILE: &str = "custody.toml";

/// The builder id used when config names none: a local, developer-run release.
pub const DEFAULT_BUILDER_ID: &str = "https://custody.dev/builders/local@v1";

/// `custody.toml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The release site.
    #[serde(default)]
    pub site: SiteConfig,
    /// The signing key.
    #[serde(default)]
    pub signing: SigningConfig,
    /// Provenance facts.
    #[serde(default)]
    pub provenance: ProvenanceConfig,
    /// The transparency log every signature is recorded in.
    #[serde(default)]
    pub log: LogConfig,
    /// The local vulnerability advisory database that `custody scan` reads.
    #[serde(default)]
    pub vulndb: VulnDbConfig,
    /// The TUF repository in the site (`site/tuf/`), created by `custody repo init`.
    #[serde(default)]
    pub tuf: TufConfig,
    /// `custody monitor`: the catalog of released SBOMs and who to tell about new findings.
    #[serde(default)]
    pub monitor: MonitorConfig,
}

/// `[monitor]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// The catalog of every release's SBOM and the monitor's state: a SQLite file relative to
    /// the config file, or a `postgres://user@host/db` URL shared by several servers.
    pub catalog: PathBuf,
    /// Endpoints that receive each new finding as a JSON event signed with HMAC-SHA256.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            catalog: PathBuf::from(".custody/catalog.sqlite"),
            webhooks: Vec::new(),
        }
    }
}

/// `[[monitor.webhooks]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL events are POSTed to.
    pub url: String,
    /// The environment variable holding the shared HMAC secret. The secret itself never goes
    /// in custody.toml, which is committed with the project.
    pub secret_env: String,
}

/// `[tuf]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TufConfig {
    /// Directory of the TUF keys (`root-N.key` to move offline, and the online
    /// `targets.key`, `snapshot.key`, `timestamp.key`), relative to the config file.
    pub keys: PathBuf,
    /// Split each new product's targets into 2^bits hash bins (TAP 15); for products with
    /// very many files. Absent: one targets role per product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_bins: Option<u32>,
    /// The online `targets` key, when not `targets.key` in `keys`: another file, or a key in a
    /// PKCS#11 token (`pkcs11:` URI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets_key: Option<PathBuf>,
    /// The online `snapshot` key, likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_key: Option<PathBuf>,
    /// The online `timestamp` key, likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_key: Option<PathBuf>,
    /// Products whose targets are signed by a key of their own (a product team's, a file or a
    /// `pkcs11:` URI) instead of the online `targets` key: `custody repo product-key`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub product_keys: BTreeMap<String, PathBuf>,
    /// Days each root version stays valid.
    pub root_days: u32,
    /// Days targets roles stay valid.
    pub targets_days: u32,
    /// Days a snapshot stays valid.
    pub snapshot_days: u32,
    /// Days a timestamp stays valid; run `custody repo refresh` at least this often.
    pub timestamp_days: u32,
}

impl Default for TufConfig {
    fn default() -> Self {
        Self {
            keys: PathBuf::from(".custody/tuf"),
            hash_bins: None,
            targets_key: None,
            snapshot_key: None,
            timestamp_key: None,
            product_keys: BTreeMap::new(),
            root_days: 365,
            targets_days: 90,
            snapshot_days: 7,
            timestamp_days: 1,
        }
    }
}

/// `[vulndb]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VulnDbConfig {
    /// Directory of the imported advisory database, relative to the config file.
    pub dir: PathBuf,
    /// `custody release` refuses a release with a vulnerability at or above this severity that
    /// no VEX statement covers: `any`, `low`, `medium`, `high`, `critical`, or `none` (no gate).
    pub fail_on: String,
}

/// The release gate's default threshold: high and critical vulnerabilities (and unscored ones,
/// which the gate treats as reaching every threshold) stop a release.
pub const DEFAULT_FAIL_ON: &str = "high";

impl Default for VulnDbConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(".custody/advisories"),
            fail_on: DEFAULT_FAIL_ON.to_owned(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Checkpoint origin (C2SP): a schemeless URL naming the log, unique to this supplier.
    pub origin: String,
    /// Encrypted PKCS#8 Ed25519 key that signs checkpoints, relative to the config file.
    pub key: PathBuf,
    /// The sequencer's private state (writer lock, digest lookup index), relative to the config.
    pub state: PathBuf,
    /// Where the log's checkpoint, tiles and entry bundles go: absent, the site's `log/`
    /// directory; `s3://bucket/prefix`, that bucket (needs a build with `--features s3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Witnesses asked to cosign every checkpoint the log publishes (c2sp.org/tlog-witness).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<WitnessConfig>,
}

/// `[[log.witnesses]]`: one witness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// A label for messages.
    pub name: String,
    /// The witness's cosignature/v1 verifier key (`name+keyid+base64`).
    pub vkey: String,
    /// The witness's URL prefix; requests go to `<url>/add-checkpoint`.
    pub url: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            origin: "custody.local/log".to_owned(),
            key: PathBuf::from(".custody/log.key"),
            state: PathBuf::from(".custody/log-state"),
            store: None,
            witnesses: Vec::new(),
        }
    }
}

/// `[site]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Directory of the static release site, relative to the config file.
    pub dir: PathBuf,
}

/// `[signing]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Encrypted PKCS#8 PEM key file, relative to the config file.
    pub key: PathBuf,
    /// `ed25519` or `ecdsa-p256`, for `custody init` to generate.
    pub algorithm: String,
}

/// `[provenance]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceConfig {
    /// The builder id recorded in provenance and expected by the policy.
    pub builder_id: String,
    /// The source repository URL; when absent, the git `origin` remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository: Option<String>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("site"),
        }
    }
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            key: PathBuf::from(".custody/release.key"),
            algorithm: KeyAlgorithm::Ed25519.name().to_owned(),
        }
    }
}

impl Default for ProvenanceConfig {
    fn default() -> Self {
        Self {
            builder_id: DEFAULT_BUILDER_ID.to_owned(),
            source_repository: None,
        }
    }
}

/// A config together with the directory its relative paths are resolved against.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The parsed file.
    pub config: Config,
    /// The directory holding `custody.toml`.
    pub base: PathBuf,
}

/// The online TUF roles, in the order their keys are listed.
pub const ONLINE_ROLES: [&str; 3] = ["targets", "snapshot", "timestamp"];

/// Whether a configured key is a PKCS#11 URI (RFC 7512) rather than a file.
pub fn is_key_uri(configured: &Path) -> bool {
    configured
        .to_str()
        .is_some_and(|s| s.starts_with("pkcs11:"))
}

impl Loaded {
    /// Read `custody.toml` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(CONFIG_FILE);
        if !path.exists() {
            return Err(Error::NotInitialised(dir.to_path_buf()));
        }
        let text = crate::fs::read_text(&path, MAX_CONFIG_BYTES, "config file")?;
        let config = toml::from_str(&text).map_err(|source| Error::Config {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            config,
            base: dir.to_path_buf(),
        })
    }

    /// The site directory.
    pub fn site_dir(&self) -> PathBuf {
        self.base.join(&self.config.site.dir)
    }

    /// The release key: a file, or a key in a token named by a `pkcs11:` URI.
    pub fn key_path(&self) -> PathBuf {
        self.key_at(&self.config.signing.key)
    }

    /// A configured key: a file relative to the configuration, or an RFC 7512 `pkcs11:` URI as
    /// it is (a URI is no path, and its `module-path` holds slashes).
    pub fn key_at(&self, configured: &Path) -> PathBuf {
        if is_key_uri(configured) {
            configured.to_path_buf()
        } else {
            self.base.join(configured)
        }
    }

    /// custody's own outputs inside the project (site, key directory), relative to it.
    pub fn outputs(&self) -> Vec<&Path> {
        let mut v = vec![self.config.site.dir.as_path()];
        for path in [
            &self.config.signing.key,
            &self.config.log.key,
            &self.config.log.state,
            &self.config.tuf.keys,
        ]
        .into_iter()
        .filter(|p| !is_key_uri(p))
        {
            match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                Some(dir) => v.push(dir),
                None => v.push(path.as_path()),
            }
        }
        v
    }

    /// The advisory database directory (`[vulndb] dir`).
    pub fn vulndb_dir(&self) -> PathBuf {
        self.base.join(&self.config.vulndb.dir)
    }

    /// The log's checkpoint key: a file, or a key in a token named by a `pkcs11:` URI.
    pub fn log_key_path(&self) -> PathBuf {
        self.key_at(&self.config.log.key)
    }

    /// The online TUF keys (targets, snapshot, timestamp): as `[tuf]` names them, else the
    /// files in the TUF key directory.
    pub fn tuf_online_key_paths(&self) -> [PathBuf; 3] {
        // By default `targets.key`, `snapshot.key`, `timestamp.key` in the key directory.
        let [targets, snapshot, timestamp] =
            ONLINE_ROLES.map(|role| self.tuf_keys_dir().join(format!("{role}.key")));
        let tuf = &self.config.tuf;
        let pick = |configured: &Option<PathBuf>, default: PathBuf| match configured {
            Some(c) => self.key_at(c),
            None => default,
        };
        [
            pick(&tuf.targets_key, targets),
            pick(&tuf.snapshot_key, snapshot),
            pick(&tuf.timestamp_key, timestamp),
        ]
    }

    /// The keys products sign their own TUF targets with (`[tuf.product_keys]`), in product
    /// order.
    pub fn tuf_product_key_paths(&self) -> Vec<(String, PathBuf)> {
        self.config
            .tuf
            .product_keys
            .iter()
            .map(|(product, key)| (product.clone(), self.key_at(key)))
            .collect()
    }

    /// Every key the TUF repository may sign with: the three online keys, then the products'
    /// own keys ([`tuf_product_key_paths`](Self::tuf_product_key_paths)).
    pub fn tuf_signing_key_paths(&self) -> Vec<PathBuf> {
        let mut paths = self.tuf_online_key_paths().to_vec();
        paths.extend(self.tuf_product_key_paths().into_iter().map(|(_, p)| p));
        paths
    }

    /// The TUF key directory.
    pub fn tuf_keys_dir(&self) -> PathBuf {
        self.base.join(&self.config.tuf.keys)
    }

    /// The TUF repository inside the site.
    pub fn tuf_dir(&self) -> PathBuf {
        self.site_dir().join("tuf")
    }

    /// The release catalog (`[monitor] catalog`).
    pub fn catalog_path(&self) -> PathBuf {
        self.base.join(&self.config.monitor.catalog)
    }

    /// Where `custody vex add` keeps a product's OpenVEX documents by default.
    pub fn vex_dir(&self) -> PathBuf {
        self.base.join(".custody").join("vex")
    }

    /// The sequencer's state directory.
    pub fn log_state_dir(&self) -> PathBuf {
        self.base.join(&self.config.log.state)
    }

    /// Where the site's log stages its writes: beside the log's state, outside the published
    /// site, so a served `log/` never lists half-written files.
    pub fn log_staging_dir(&self) -> PathBuf {
        self.log_state_dir().join("staging")
    }

    /// Where releases are assembled before they are renamed into the site: beside the log's
    /// state, outside the published site, so a killed release leaves nothing half-written
    /// where the site is served from.
    pub fn release_staging_dir(&self) -> PathBuf {
        self.log_state_dir().join("release-staging")
    }

    /// Where releases that need approvals wait for them (`<product>/<version>/`), signed and
    /// logged but not on the site: beside the release staging, so the move onto the site is one
    /// rename.
    pub fn held_dir(&self) -> PathBuf {
        self.log_state_dir().join("held")
    }

    /// Writes `config` over this project's custody.toml ([`Config::to_toml_over`]): the
    /// operator's comments and order stay where the data did not change.
    pub fn rewrite_config(&self, config: &Config) -> Result<(), Error> {
        let path = self.base.join(CONFIG_FILE);
        // Unreadable or oversized, the file is replaced whole, as before this kept comments.
        let existing =
            crate::fs::read_text(&path, MAX_CONFIG_BYTES, "config file").unwrap_or_default();
        crate::fs::write_atomic(&path, config.to_toml_over(&existing).as_bytes())
    }

    /// The key algorithm.
    pub fn algorithm(&self) -> Result<KeyAlgorithm, Error> {
        Ok(KeyAlgorithm::parse(&self.config.signing.algorithm)?)
    }
}

impl Config {
    /// TOML text with a header that explains the file.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!(
            "# custody configuration. Paths are relative to this file.\n\
             # [site] dir: the static release site customers download from.\n\
             # [signing] key: encrypted PKCS#8 key (passphrase from a prompt or CUSTODY_PASSPHRASE).\n\
             # [provenance] builder_id: recorded in every provenance and required by the policy.\n\
             # [vulndb] dir: the advisory database `custody db import` fills and `custody scan` reads;\n\
             #   fail_on: the severity at which `custody release` refuses (any|low|medium|high|critical|none).\n\
             # [monitor] catalog: every release's SBOM, re-scanned by `custody monitor`.\n\n{body}"
        )
    }
}

impl Config {
    /// [`Config::to_toml`] written over `existing`, the file as it is: what did not change
    /// keeps its comments, order and spelling, what changed or is new is written as
    /// [`Config::to_toml`] writes it, and what is gone is removed. Text that does not parse
    /// is replaced whole.
    pub fn to_toml_over(&self, existing: &str) -> String {
        let fresh = self.to_toml();
        let (Ok(mut doc), Ok(new)) = (
            existing.parse::<toml_edit::DocumentMut>(),
            fresh.parse::<toml_edit::DocumentMut>(),
        ) else {
            return fresh;
        };
        merge_into(doc.as_table_mut(), new.as_table());
        doc.to_string()
    }
}

/// Makes `old` hold `new`'s data, touching only the keys whose data differ.
fn merge_into(old: &mut toml_edit::Table, new: &toml_edit::Table) {
    let gone: Vec<String> = old
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| !new.contains_key(k))
        .collect();
    for key in gone {
        old.remove(&key);
    }
    for (key, item) in new.iter() {
        match (old.get_mut(key), item) {
            (Some(toml_edit::Item::Table(o)), toml_edit::Item::Table(n)) => merge_into(o, n),
            (Some(o), n) if same_data(o, n) => {}
            (Some(toml_edit::Item::Value(o)), toml_edit::Item::Value(n)) => {
                // The new value, with the old one's surrounding spaces and trailing comment.
                let decor = o.decor().clone();
                *o = n.clone();
                *o.decor_mut() = decor;
            }
            _ => {
                old.insert(key, item.clone());
            }
        }
    }
}

/// Whether two items hold the same data, however each is written (inline or not, quoted how).
fn same_data(a: &toml_edit::Item, b: &toml_edit::Item) -> bool {
    let data = |item: &toml_edit::Item| {
        let value = item.clone().into_value().ok()?;
        toml::from_str::<toml::Table>(&format!("v = {}", value.decorated("", ""))).ok()
    };
    matches!((data(a), data(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown_keys_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::default();
        std::fs::write(dir.path().join(CONFIG_FILE), cfg.to_toml()).unwrap();
        let loaded = Loaded::from_dir(dir.path()).unwrap();
        assert_eq!(loaded.config, cfg);
        assert_eq!(loaded.site_dir(), dir.path().join("site"));

        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[site]\ndir = 'x'\ntypo = 1\n",
        )
        .unwrap();
        let err = Loaded::from_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
        assert!(err.to_string().contains("custody.toml"));
    }

    #[test]
    fn configs_without_vulndb_still_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "[site]\ndir = 'x'\n").unwrap();
        let loaded = Loaded::from_dir(dir.path()).unwrap();
        assert_eq!(
            loaded.vulndb_dir(),
            dir.path().join(".custody").join("advisories")
        );

        assert_eq!(loaded.config.vulndb.fail_on, DEFAULT_FAIL_ON);

        std::fs::write(dir.path().join(CONFIG_FILE), "[vulndb]\ndir = 'db'\n").unwrap();
        let loaded = Loaded::from_dir(dir.path()).unwrap();
        assert_eq!(loaded.vulndb_dir(), dir.path().join("db"));
        assert_eq!(loaded.config.vulndb.fail_on, DEFAULT_FAIL_ON);

        std::fs::write(dir.path().join(CONFIG_FILE), "[vulndb]\nfail_on = 'none'\n").unwrap();
        let loaded = Loaded::from_dir(dir.path()).unwrap();
        assert_eq!(loaded.config.vulndb.fail_on, "none");
        assert_eq!(
            loaded.vulndb_dir(),
            dir.path().join(".custody").join("advisories")
        );
    }

    #[test]
    fn log_store_is_optional_and_typos_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let base = "[log]\norigin = 'o'\nkey = 'k'\nstate = 's'\n";
        std::fs::write(dir.path().join(CONFIG_FILE), base).unwrap();
        let loaded = Loaded::from_dir(dir.path()).unwrap();
        assert_eq!(loaded.config.log.store, None);
        assert!(!loaded.config.to_toml().contains("store"));

        let with = format!("{base}store = 's3://bucket/prefix'\n");
        std::fs::write(dir.path().join(CONFIG_FILE), &with).unwrap();
        let loaded = Loaded::from_dir(dir.path()).unwrap();
        assert_eq!(
            loaded.config.log.store.as_deref(),
            Some("s3://bucket/prefix")
        );
        std::fs::write(dir.path().join(CONFIG_FILE), loaded.config.to_toml()).unwrap();
        assert_eq!(Loaded::from_dir(dir.path()).unwrap().config, loaded.config);

        std::fs::write(dir.path().join(CONFIG_FILE), format!("{base}stor = 'x'\n")).unwrap();
        assert!(matches!(
            Loaded::from_dir(dir.path()),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn a_rewrite_keeps_the_operators_comments_and_order() {
        let mut config = Config::default();
        config.log.store = Some("s3://bucket/log".to_owned());
        // The operator's file: the same data, reordered, with comments and their own quoting.
        let mut edited = String::from("# Our release project. Ask #release-eng before changing.\n");
        let fresh = config.to_toml();
        let tables: Vec<&str> = fresh.split("\n[").skip(1).collect();
        for table in tables.iter().rev() {
            edited.push_str(&format!(
                "\n# the {} table\n[{table}\n",
                table.split(']').next().unwrap_or("")
            ));
        }
        let edited = edited.replace(
            "store = \"s3://bucket/log\"",
            "store = 's3://bucket/log'  # shared",
        );
        let as_edited: Config = toml::from_str(&edited).unwrap();
        assert_eq!(as_edited, config, "{edited}");

        // Unchanged: the file stays as the operator wrote it.
        assert_eq!(config.to_toml_over(&edited), edited);

        // A key rotated, the store dropped, a witness added: only those lines change.
        let mut rotated = config.clone();
        rotated.signing.key = PathBuf::from(".custody/release-2027.key");
        rotated.log.store = None;
        rotated.log.witnesses.push(WitnessConfig {
            name: "w".to_owned(),
            vkey: "w+00000000+AAAA".to_owned(),
            url: "https://witness.example.com".to_owned(),
        });
        let written = rotated.to_toml_over(&edited);
        assert_eq!(
            toml::from_str::<Config>(&written).unwrap(),
            rotated,
            "{written}"
        );
        assert!(written.starts_with("# Our release project."), "{written}");
        assert!(written.contains("# the signing table"), "{written}");
        assert!(written.contains("release-2027.key"), "{written}");
        assert!(!written.contains("store"), "{written}");
        assert!(written.contains("witness.example.com"), "{written}");
        let kept = |text: &str| text.lines().filter(|l| l.starts_with("# the ")).count();
        assert_eq!(kept(&written), kept(&edited));

        // Text that is not TOML is replaced whole.
        assert_eq!(rotated.to_toml_over("[log\n"), rotated.to_toml());
    }

    #[test]
    fn missing_config_says_run_init() {
        let dir = tempfile::tempdir().unwrap();
        let err = Loaded::from_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("custody init"));
    }
}
