//! Software bills of materials: lockfiles in, a component graph in the middle, CycloneDX 1.6 /
//! 1.5 and SPDX 2.3 JSON out, and those two formats read back in.
//!
//! # Design
//! - **Readers** are pure functions over bytes: they need no package manager and do no I/O.
//!   [`read_lockfile`] and [`read_dir`] are the thin file edge. Every input is size-limited
//!   ([`Limits`]); every error names the file and the line.
//!
//!   | ecosystem | input | function |
//!   |---|---|---|
//!   | Rust | `Cargo.lock` v1–v4 (+ `Cargo.toml` for dev/build/optional) | [`parse_cargo_lock`] |
//!   | npm | `package-lock.json` / `npm-shrinkwrap.json` v1–v3 | [`parse_package_lock`] |
//!   | npm | `yarn.lock` (yarn classic v1, and berry: yarn 2–4) | [`parse_yarn_lock`] |
//!   | npm | `pnpm-lock.yaml` v9 | [`parse_pnpm_lock`] |
//!   | Python | `uv.lock` v1 | [`parse_uv_lock`] |
//!   | Python | `poetry.lock` 1.x–2.x (+ `pyproject.toml`) | [`parse_poetry_lock`] |
//!   | Python | pinned `requirements*.txt` | [`parse_requirements`] |
//!   | Python | `Pipfile.lock` (pipfile-spec 6) | [`parse_pipfile_lock`] |
//!   | Ruby | `Gemfile.lock` (+ `Gemfile` for dev/test groups) | [`parse_gemfile_lock`] |
//!   | PHP | `composer.lock` (+ `composer.json` for the project) | [`parse_composer_lock`] |
//!   | Go | `go.mod` (+ `go.sum`) | [`parse_go_mod_file`] |
//!   | Rust, Go | binaries: `cargo auditable` data, Go 1.18+ build information | [`parse_binary`] |
//!   | Debian | `var/lib/dpkg/status` (+ `etc/os-release`) | [`parse_dpkg_status`] |
//! - **The graph** ([`Sbom`]) holds [`Component`]s with their [`Ecosystem`], purl, hashes,
//!   [`Scope`] and [`Source`] (registry, git or path), and the dependency edges. The vulnerability
//!   scanner takes `(ecosystem, name, version, purl)` from it.
//! - **Writers** ([`to_cyclonedx`], [`to_spdx`]) are deterministic: components and edges are
//!   sorted and the timestamp comes from the caller, so the same graph always gives the same bytes.
//! - **The SBOM reader** ([`parse_sbom`]) reads either format back into a graph, for `sbom diff`,
//!   the scanner and a customer's own SBOMs. [`diff`] compares two graphs by package identity.
//!
//! # Example
//! ```
//! use custody_sbom::{CycloneDxVersion, Limits, Metadata, parse_cargo_lock, parse_sbom, to_cyclonedx};
//!
//! let lock = br#"
//! version = 4
//!
//! [[package]]
//! name = "app"
//! version = "0.1.0"
//! dependencies = ["itoa"]
//!
//! [[package]]
//! name = "itoa"
//! version = "1.0.15"
//! source = "registry+https://github.com/rust-lang/crates.io-index"
//! checksum = "4a5f13b858c8d314ee3e8f639011f7ccefe71f97f96e50151fb991f267928e2c"
//! "#;
//! let manifest = custody_sbom::CargoManifest { file: "Cargo.toml", bytes: b"[package]\nname = \"app\"\n" };
//! let sbom = parse_cargo_lock("Cargo.lock", lock, Some(manifest), &Limits::default())?;
//! assert_eq!(sbom.primary().map(|c| c.name.as_str()), Some("app"));
//!
//! let meta = Metadata::new("2026-01-01T00:00:00Z".parse()?);
//! let json = to_cyclonedx(&sbom, CycloneDxVersion::V1_6, &meta);
//! assert!(json.contains("pkg:cargo/itoa@1.0.15"));
//!
//! let back = parse_sbom("sbom.cdx.json", json.as_bytes(), &Limits::default())?;
//! assert_eq!(back.len(), sbom.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod berry;
mod binary;
mod cargo;
mod composer;
mod cyclonedx;
mod deb;
mod diff;
mod error;
mod gem;
mod golang;
mod model;
mod npm;
mod pnpm;
mod poetry;
pub mod purl;
mod python;
mod read;
mod spdx;
mod yarn;

use std::path::{Path, PathBuf};

pub use binary::{is_binary, parse_binary};
pub use cargo::{CargoManifest, parse_cargo_lock};
pub use composer::{ComposerJson, parse_composer_lock};
pub use cyclonedx::{CycloneDxVersion, to_cyclonedx};
pub use deb::parse_dpkg_status;
pub use diff::{DiffComponent, SbomDiff, VersionChange, diff};
pub use error::{Error, Result};
pub use gem::{Gemfile, parse_gemfile_lock};
pub use golang::{GoSum, parse_go_binary, parse_go_mod_file};
pub use model::{
    Component, ComponentId, Dependency, Ecosystem, Hash, HashAlgorithm, Purl, Sbom, Scope, Source,
};
pub use npm::{PackageJson, parse_package_lock};
pub use pnpm::parse_pnpm_lock;
pub use poetry::{PyProject, parse_poetry_lock};
pub use python::{parse_pipfile_lock, parse_requirements, parse_uv_lock, requirements_scope};
pub use read::parse_sbom;
pub use spdx::to_spdx;
pub use yarn::parse_yarn_lock;

/// Input size limits. Real lockfiles are a few MB at most; the limit keeps a hostile or broken
/// input from taking the machine's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input file, in bytes.
    pub max_bytes: u64,
    /// Largest binary to look inside, in bytes: programs are far larger than lockfiles, and
    /// their dependency data is read without parsing the rest.
    pub max_binary_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 64 * 1024 * 1024,
            max_binary_bytes: 1024 * 1024 * 1024,
        }
    }
}

pub(crate) fn check_binary_size(file: &str, len: usize, limits: &Limits) -> Result<()> {
    let size = len as u64;
    if size > limits.max_binary_bytes {
        return Err(Error::TooLarge {
            file: file.to_owned(),
            size,
            limit: limits.max_binary_bytes,
        });
    }
    Ok(())
}

pub(crate) fn check_size(file: &str, len: usize, limits: &Limits) -> Result<()> {
    let size = len as u64;
    if size > limits.max_bytes {
        return Err(Error::TooLarge {
            file: file.to_owned(),
            size,
            limit: limits.max_bytes,
        });
    }
    Ok(())
}

pub(crate) fn to_utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        file: file.to_owned(),
        offset: e.valid_up_to(),
    })
}

/// Who made the SBOM, and when: the parts of the document that do not come from the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The document's creation time; the caller's clock, so output is reproducible.
    pub timestamp: jiff::Timestamp,
    /// The tool that wrote the document.
    pub tool_name: String,
    pub tool_version: String,
    /// The organisation that made the SBOM (SPDX `Organization:` creator, CycloneDX
    /// `metadata.supplier`), if given.
    pub organization: Option<String>,
    /// The document's name; defaults to the primary component's name.
    pub name: Option<String>,
}

impl Metadata {
    /// Metadata naming this crate as the tool.
    pub fn new(timestamp: jiff::Timestamp) -> Self {
        Metadata {
            timestamp,
            tool_name: "custody".to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            organization: None,
            name: None,
        }
    }
}

fn read_limited(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > limits.max_bytes {
        return Err(Error::TooLarge {
            file: path.display().to_string(),
            size: len,
            limit: limits.max_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    // The file may have grown since the metadata call.
    check_size(&path.display().to_string(), bytes.len(), limits)?;
    Ok(bytes)
}

/// Reads a built program and the dependency data embedded in it ([`parse_binary`]), up to
/// [`Limits::max_binary_bytes`].
pub fn read_binary(path: &Path, limits: &Limits) -> Result<Sbom> {
    let whole = Limits {
        max_bytes: limits.max_binary_bytes,
        ..*limits
    };
    let bytes = read_limited(path, &whole)?;
    parse_binary(&path.display().to_string(), &bytes, limits)
}

/// True when the file at `path` starts like a program ([`is_binary`]); reads a few bytes.
pub fn is_binary_file(path: &Path) -> Result<bool> {
    use std::io::Read as _;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(io)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(is_binary(&head[..n]))
}

/// `package.json` beside an npm-family lockfile, with its name for error messages.
fn read_package_json(dir: &Path, limits: &Limits) -> Result<Option<(String, Vec<u8>)>> {
    let path = dir.join("package.json");
    Ok(read_optional(&path, limits)?.map(|bytes| (path.display().to_string(), bytes)))
}

fn read_optional(path: &Path, limits: &Limits) -> Result<Option<Vec<u8>>> {
    match std::fs::metadata(path) {
        Ok(_) => read_limited(path, limits).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads one lockfile, chosen by its file name (any of [`LOCKFILE_NAMES`], `*requirements*.txt`,
/// `var/lib/dpkg/status`), with its manifest from the same directory when there is one
/// (`Cargo.toml` beside `Cargo.lock`, `package.json` beside the npm-family lockfiles,
/// `pyproject.toml`, `Gemfile`, `composer.json`, `go.sum`).
pub fn read_lockfile(path: &Path, limits: &Limits) -> Result<Sbom> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let dir = path.parent().unwrap_or(Path::new("."));
    let file = path.display().to_string();
    // Before reading: a program or an SBOM named here may be far over the lockfile size limit.
    let known = LOCKFILE_NAMES.contains(&name)
        || is_requirements(name)
        || (name == "status" && path.ends_with(DPKG_STATUS));
    if !known {
        return Err(Error::UnknownLockfile {
            path: path.to_owned(),
        });
    }
    let bytes = read_limited(path, limits)?;
    match name {
        "Cargo.lock" => {
            let manifest_path = dir.join("Cargo.toml");
            let manifest = read_optional(&manifest_path, limits)?;
            let manifest_file = manifest_path.display().to_string();
            let manifest = manifest.as_deref().map(|bytes| CargoManifest {
                file: &manifest_file,
                bytes,
            });
            parse_cargo_lock(&file, &bytes, manifest, limits)
        }
        "package-lock.json" | "npm-shrinkwrap.json" => {
            let pj = read_package_json(dir, limits)?;
            let pj = pj.as_ref().map(|(file, bytes)| PackageJson { file, bytes });
            parse_package_lock(&file, &bytes, pj, limits)
        }
        "pnpm-lock.yaml" => {
            let pj = read_package_json(dir, limits)?;
            let pj = pj.as_ref().map(|(file, bytes)| PackageJson { file, bytes });
            parse_pnpm_lock(&file, &bytes, pj, limits)
        }
        "yarn.lock" => {
            let pj = read_package_json(dir, limits)?;
            let pj = pj.as_ref().map(|(file, bytes)| PackageJson { file, bytes });
            parse_yarn_lock(&file, &bytes, pj, limits)
        }
        "uv.lock" => parse_uv_lock(&file, &bytes, limits),
        "Pipfile.lock" => parse_pipfile_lock(&file, &bytes, limits),
        "Gemfile.lock" | "gems.locked" => {
            let gemfile_path = dir.join(if name == "gems.locked" {
                "gems.rb"
            } else {
                "Gemfile"
            });
            let gemfile = read_optional(&gemfile_path, limits)?;
            let gemfile_file = gemfile_path.display().to_string();
            let gemfile = gemfile.as_deref().map(|bytes| Gemfile {
                file: &gemfile_file,
                bytes,
            });
            parse_gemfile_lock(&file, &bytes, gemfile, limits)
        }
        "composer.lock" => {
            let cj_path = dir.join("composer.json");
            let cj = read_optional(&cj_path, limits)?;
            let cj_file = cj_path.display().to_string();
            let cj = cj.as_deref().map(|bytes| ComposerJson {
                file: &cj_file,
                bytes,
            });
            parse_composer_lock(&file, &bytes, cj, limits)
        }
        "go.mod" => {
            let sum_path = dir.join("go.sum");
            let sum = read_optional(&sum_path, limits)?;
            let sum_file = sum_path.display().to_string();
            let sum = sum.as_deref().map(|bytes| GoSum {
                file: &sum_file,
                bytes,
            });
            parse_go_mod_file(&file, &bytes, sum, limits)
        }
        "poetry.lock" => {
            let pp_path = dir.join("pyproject.toml");
            let pp = read_optional(&pp_path, limits)?;
            let pp_file = pp_path.display().to_string();
            let pp = pp.as_deref().map(|bytes| PyProject {
                file: &pp_file,
                bytes,
            });
            parse_poetry_lock(&file, &bytes, pp, limits)
        }
        "status" if path.ends_with(DPKG_STATUS) => {
            // <root>/var/lib/dpkg/status: the root is three directories up.
            let root = dir.parent().and_then(Path::parent).and_then(Path::parent);
            let os_release = match root {
                Some(r) => match read_optional(&r.join("etc/os-release"), limits)? {
                    Some(b) => Some(b),
                    None => read_optional(&r.join("usr/lib/os-release"), limits)?,
                },
                None => None,
            };
            parse_dpkg_status(&file, &bytes, os_release.as_deref(), limits)
        }
        n if is_requirements(n) => parse_requirements(&file, &bytes, requirements_scope(n), limits),
        _ => Err(Error::UnknownLockfile {
            path: path.to_owned(),
        }),
    }
}

/// `requirements.txt`, `requirements-dev.txt`, `dev-requirements.txt`, `requirements/…`-style
/// names: a `.txt` whose name mentions requirements.
fn is_requirements(name: &str) -> bool {
    name.ends_with(".txt") && name.contains("requirements")
}

/// The lockfile names [`read_dir`] looks for, in the order it reads them; `requirements*.txt`
/// files follow, in name order.
pub const LOCKFILE_NAMES: [&str; 12] = [
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "uv.lock",
    "Pipfile.lock",
    "poetry.lock",
    "Gemfile.lock",
    "gems.locked",
    "composer.lock",
    "go.mod",
];

/// Where Debian keeps its installed-package database, relative to a root filesystem.
pub const DPKG_STATUS: &str = "var/lib/dpkg/status";

/// Reads every lockfile in `dir` (not its subdirectories; `dir` may also be a root filesystem,
/// whose [`DPKG_STATUS`] is read) into one graph. The primary component
/// is that of the first lockfile in [`LOCKFILE_NAMES`] order that names one.
///
/// `requirements*.txt` files are read only when there is no `uv.lock` or `poetry.lock`: uv and
/// Poetry export them from the lock, and reading both would describe the same packages twice.
pub fn read_dir(dir: &Path, limits: &Limits) -> Result<Sbom> {
    let mut found: Vec<PathBuf> = LOCKFILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    if !found
        .iter()
        .any(|p| p.ends_with("uv.lock") || p.ends_with("poetry.lock"))
    {
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut reqs: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            if path.is_file()
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_requirements)
            {
                reqs.push(path);
            }
        }
        reqs.sort();
        found.extend(reqs);
    }
    let dpkg = dir.join(DPKG_STATUS);
    if dpkg.is_file() {
        found.push(dpkg);
    }
    if found.is_empty() {
        return Err(Error::NoLockfile {
            dir: dir.to_owned(),
        });
    }
    let mut sbom = Sbom::new();
    for path in found {
        sbom.merge(read_lockfile(&path, limits)?);
    }
    Ok(sbom)
}
