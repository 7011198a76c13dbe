//! The RustSec advisory database in cargo-audit's layout
//! (`crates/<name>/RUSTSEC-*.md`, TOML front matter in Markdown).
//!
//! Parsing is RustSec's own `rustsec` crate with default features off (no
//! git, no network; it brings `toml`, `cvss`, `semver`, `url` and
//! `cargo-lock`, all of which a Rust scanner needs anyway), so the
//! front-matter rules stay exactly cargo-audit's. Its `Database::open` stops
//! at the first bad file, so files are read one by one here: a malformed
//! advisory is reported and skipped like any other. Each advisory becomes
//! OSV the way RustSec's own OSV export writes it, with affected ranges from
//! `rustsec::osv::ranges_for_advisory`, which is also what cargo-audit
//! matches with; the matcher then treats both databases alike.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::json;

use crate::Error;
use crate::import::{AdvisoryFile, Import, digest, walk};
use crate::osv::{self, Advisory, Event, Range, RangeKind, read_limited};

/// Parses one RustSec advisory (Markdown with TOML front matter).
pub fn parse_rustsec(text: &str, path: &Path) -> Result<Advisory, Error> {
    // Refused here, not by `rustsec`: its own message for this case quotes the first 20
    // bytes, and panics when byte 20 falls inside a character (found by fuzzing).
    if !text.starts_with("```toml") {
        return Err(Error::RustSecWithoutFrontMatter {
            path: path.to_owned(),
        });
    }
    let parsed = rustsec::Advisory::from_str(text).map_err(|source| Error::MalformedRustSec {
        path: path.to_owned(),
        source: Box::new(source),
    })?;
    Ok(to_osv(&parsed))
}

/// Reads `crates/*/*.md` under a RustSec database checkout. The `rust/`
/// collection (toolchain advisories) is not read: cargo-audit does not match
/// it against lockfiles either.
pub fn read_rustsec_directory(root: &Path) -> Result<Import, Error> {
    read_rustsec_directory_incremental(root, |_, _| false)
}

/// Like [`read_rustsec_directory`], skipping files whose digest is known.
pub fn read_rustsec_directory_incremental(
    root: &Path,
    mut known: impl FnMut(&Path, &str) -> bool,
) -> Result<Import, Error> {
    let crates = root.join("crates");
    if !crates.is_dir() {
        return Err(Error::UnexpectedLayout {
            path: root.to_owned(),
            expected: "a RustSec advisory database with a crates/ directory",
        });
    }
    let mut files: Vec<PathBuf> = Vec::new();
    walk(&crates, &mut files)?;
    files.sort();
    let mut import = Import::default();
    for path in files {
        if path.extension().and_then(|e| e.to_str()) != Some("md")
            || rustsec::Advisory::is_draft(&path)
        {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let bytes = match read_limited(&path) {
            Ok(b) => b,
            Err(e) => {
                import.skipped.push(e);
                continue;
            }
        };
        let digest = digest(&bytes);
        if known(&relative, &digest) {
            import.unchanged.push((relative, digest));
            continue;
        }
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(_) => {
                import.skipped.push(Error::NotUtf8 { path });
                continue;
            }
        };
        match parse_rustsec(text, &path) {
            Ok(advisory) => import.advisories.push(AdvisoryFile {
                path: relative,
                digest,
                advisory,
            }),
            Err(e) => import.skipped.push(e),
        }
    }
    Ok(import)
}

fn to_osv(a: &rustsec::Advisory) -> Advisory {
    let m = &a.metadata;
    let name = m.package.as_str().to_owned();
    let events: Vec<Range> = rustsec::osv::ranges_for_advisory(&a.versions)
        .into_iter()
        .map(|r| Range {
            kind: RangeKind::SemVer,
            repo: None,
            events: std::iter::once(Event::Introduced(
                r.introduced
                    .map_or_else(|| "0".to_owned(), |v| v.to_string()),
            ))
            .chain(r.fixed.map(|v| Event::Fixed(v.to_string())))
            .collect(),
            database_specific: None,
        })
        .collect();
    let affects = a.affected.as_ref();
    let functions: Vec<String> = affects
        .map(|x| x.functions.keys().map(ToString::to_string).collect())
        .unwrap_or_default();
    let cvss = m.cvss.as_ref().map(ToString::to_string);
    let date = |d: &rustsec::advisory::Date| format!("{}T12:00:00Z", d.as_str());
    Advisory {
        schema_version: None,
        id: m.id.as_str().to_owned(),
        modified: None,
        published: Some(date(&m.date)),
        withdrawn: m.withdrawn.as_ref().map(date),
        aliases: m.aliases.iter().map(|i| i.as_str().to_owned()).collect(),
        related: m.related.iter().map(|i| i.as_str().to_owned()).collect(),
        summary: Some(m.title.clone()).filter(|t| !t.is_empty()),
        details: Some(m.description.clone()).filter(|t| !t.is_empty()),
        severity: cvss
            .iter()
            .map(|v| osv::Severity {
                kind: if v.starts_with("CVSS:4") {
                    "CVSS_V4"
                } else {
                    "CVSS_V3"
                }
                .to_owned(),
                score: v.clone(),
            })
            .collect(),
        affected: vec![osv::Affected {
            package: Some(osv::Package {
                ecosystem: "crates.io".to_owned(),
                purl: Some(format!("pkg:cargo/{name}")),
                name,
            }),
            severity: Vec::new(),
            ranges: events,
            versions: Vec::new(),
            ecosystem_specific: Some(json!({
                "affects": {
                    "os": affects.map(|x| x.os.clone()).unwrap_or_default(),
                    "arch": affects.map(|x| x.arch.clone()).unwrap_or_default(),
                    "functions": functions,
                }
            })),
            database_specific: Some(json!({
                "categories": m.categories.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "cvss": cvss,
                "informational": m.informational.as_ref().map(ToString::to_string),
            })),
        }],
        references: m
            .url
            .iter()
            .chain(m.references.iter())
            .map(|u| osv::Reference {
                kind: "WEB".to_owned(),
                url: u.to_string(),
            })
            .collect(),
        database_specific: Some(json!({ "source": "rustsec-advisory-db" })),
    }
}
