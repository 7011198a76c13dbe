//! Built programs: Rust binaries built with `cargo auditable` (a zlib-compressed JSON list of
//! the crates linked in, in a `.dep-v0` section) and Go binaries (the build information every
//! Go 1.18+ binary carries; see the `golang` module).
//!
//! Most Rust binaries carry no dependency data at all, so a binary without either kind is an
//! error that says so, never an empty SBOM.

use auditable_info as ai;
use auditable_serde::{DependencyKind, Package, Source as AuditSource};

use crate::error::{Error, Result};
use crate::model::{Component, ComponentId, Ecosystem, Sbom, Scope, Source};
use crate::{Limits, check_binary_size};

/// Decompressed `cargo auditable` JSON larger than this is refused: real data is a few hundred
/// bytes per crate, so 8 MiB is tens of thousands of crates.
const AUDIT_JSON_LIMIT: usize = 8 * 1024 * 1024;

/// True when `bytes` start like an executable or library this crate can look inside: ELF,
/// PE, Mach-O (thin or fat) or WebAssembly.
pub fn is_binary(bytes: &[u8]) -> bool {
    const MAGICS: [&[u8]; 8] = [
        b"\x7fELF",
        b"MZ",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
        b"\0asm",
    ];
    MAGICS.iter().any(|m| bytes.starts_with(m))
}

/// Reads the dependency data embedded in a built program: Go build information or
/// `cargo auditable` data, whichever the binary has.
pub fn parse_binary(file: &str, bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    check_binary_size(file, bytes.len(), limits)?;
    if crate::golang::find_buildinfo(bytes).is_some() {
        return crate::golang::parse_go_binary(file, bytes, limits);
    }
    parse_auditable(file, bytes)
}

fn parse_auditable(file: &str, bytes: &[u8]) -> Result<Sbom> {
    let info = ai::audit_info_from_slice(bytes, AUDIT_JSON_LIMIT).map_err(|e| match e {
        ai::Error::NoAuditData => Error::NoDependencyData {
            file: file.to_owned(),
            reason: "no dependency data: neither a `cargo auditable` `.dep-v0` section nor Go \
                     build information (a Rust binary records its crates only when built with \
                     `cargo auditable build`)",
        },
        other => Error::AuditableData {
            file: file.to_owned(),
            message: other.to_string(),
        },
    })?;
    let mut sbom = Sbom::new();
    let mut ids = Vec::with_capacity(info.packages.len());
    for p in &info.packages {
        let c = component(file, p)?;
        if p.root {
            sbom.set_primary(Some(c.id.clone()));
        }
        ids.push(c.id.clone());
        sbom.insert(c);
    }
    for (p, from) in info.packages.iter().zip(&ids) {
        for &d in &p.dependencies {
            // auditable-serde has already checked that indices are in range and acyclic.
            if let Some(to) = ids.get(d) {
                sbom.add_dependency(from.clone(), to.clone());
            }
        }
    }
    Ok(sbom)
}

fn component(file: &str, p: &Package) -> Result<Component> {
    let version = p.version.to_string();
    let (source, suffix) = match &p.source {
        AuditSource::CratesIo => (Source::Registry { url: None }, String::new()),
        AuditSource::Local => (Source::Path { path: None }, "#path".to_owned()),
        // The data says "git" or "registry" but not which: no URL to keep.
        AuditSource::Git => (
            Source::Git {
                url: String::new(),
                rev: None,
            },
            "#git:".to_owned(),
        ),
        AuditSource::Registry => (Source::Registry { url: None }, "#registry:".to_owned()),
        AuditSource::Other(s) => (Source::Registry { url: None }, format!("#other:{s}")),
        // A source kind newer than this crate knows: kept, but not claimed to be crates.io.
        _ => (Source::Registry { url: None }, "#unknown".to_owned()),
    };
    let purl = match source {
        Source::Path { .. } => None,
        _ => Some(
            crate::purl::purl(&Ecosystem::CratesIo, &p.name, Some(&version), &[]).map_err(
                |source| Error::InvalidPurlName {
                    file: file.to_owned(),
                    line: 1,
                    package: p.name.clone(),
                    name: p.name.clone(),
                    source: Box::new(source),
                },
            )?,
        ),
    };
    let mut c = Component::new(
        ComponentId(format!("cargo/{}@{version}{suffix}", p.name)),
        Ecosystem::CratesIo,
        p.name.clone(),
        Some(version),
    );
    c.purl = purl;
    c.source = source;
    c.scope = match p.kind {
        DependencyKind::Build => Scope::Build,
        _ => Scope::Required,
    };
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert!(is_binary(b"\x7fELF\x02\x01"));
        assert!(is_binary(b"\0asm\x01\0\0\0"));
        assert!(!is_binary(b"{\"bomFormat\""));
    }

    #[test]
    fn elf_without_data_says_so() {
        let exe = std::env::current_exe().unwrap_or_default();
        let bytes = std::fs::read(exe).unwrap_or_default();
        assert!(matches!(
            parse_binary("test-exe", &bytes, &Limits::default()),
            Err(Error::NoDependencyData { .. })
        ));
    }
}
