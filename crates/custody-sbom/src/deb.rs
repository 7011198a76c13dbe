//! Debian's installed-package database, `var/lib/dpkg/status`.
//!
//! Each paragraph is one package (deb822: `Field: value`, continuation lines start with a space).
//! Only packages whose `Status` ends in `installed` are components: the database also remembers
//! removed packages whose configuration files remain, which are not on the system. The binary
//! package name is the component's name and the source package name is kept beside it, because
//! Debian's advisories name source packages.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::model::{Component, ComponentId, Ecosystem, Sbom, Source};
use crate::{Limits, check_size, to_utf8};

struct Paragraph<'a> {
    line: usize,
    fields: Vec<(&'a str, String)>,
}

impl Paragraph<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn paragraphs<'a>(file: &str, text: &'a str) -> Result<Vec<Paragraph<'a>>> {
    let mut out = Vec::new();
    let mut current: Option<Paragraph<'a>> = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            out.extend(current.take());
            continue;
        }
        let p = current.get_or_insert_with(|| Paragraph {
            line: line_no,
            fields: Vec::new(),
        });
        if line.starts_with([' ', '\t']) {
            match p.fields.last_mut() {
                Some((_, value)) => {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                None => {
                    return Err(Error::InvalidDeb822 {
                        file: file.to_owned(),
                        line: line_no,
                        text: line.to_owned(),
                    });
                }
            }
        } else if let Some((k, v)) = line.split_once(':') {
            p.fields.push((k.trim(), v.trim().to_owned()));
        } else {
            return Err(Error::InvalidDeb822 {
                file: file.to_owned(),
                line: line_no,
                text: line.to_owned(),
            });
        }
    }
    out.extend(current);
    Ok(out)
}

/// The first character of `name` that cannot be in a package name dpkg installed, if any.
///
/// dpkg accepts a letter or digit, then letters, digits, `-`, `+`, `.` or `_`
/// (`pkg_name_is_illegal`, lib/dpkg/parsehelp.c), and stores the name in lower case
/// (`pkg_db_find_set`, lib/dpkg/pkg-db.c), so no status file it writes has a capital. These are
/// Debian Policy 5.6.1's characters plus dpkg's deprecated `_`, with no minimum length, as in
/// dpkg: refusing a whole system over an old package dpkg itself took would help no one.
/// Anything else is not a package dpkg installed, and would not survive the purl: a `/` is read
/// back as part of the namespace (the vendor), a capital is lowercased.
fn illegal_package_name_char(name: &str) -> Option<char> {
    let lower_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if !lower_alnum(c) => Some(c),
        _ => chars.find(|&c| !lower_alnum(c) && !"-+._".contains(c)),
    }
}

/// `ID-VERSION_ID` from an `os-release` file (`debian-12`), the purl `distro` qualifier.
fn distro(os_release: &str) -> Option<String> {
    let value = |key: &str| {
        os_release.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_owned())
        })
    };
    match (value("ID"), value("VERSION_ID")) {
        (Some(id), Some(v)) => Some(format!("{id}-{v}")),
        (Some(id), None) => Some(id),
        _ => None,
    }
}

/// Package names in a `Depends` value: alternatives are all candidates, version constraints and
/// architecture qualifiers (`:any`) are dropped.
fn depends_names(value: &str) -> impl Iterator<Item = Vec<&str>> {
    value.split(',').map(|group| {
        group
            .split('|')
            .filter_map(|alt| {
                let name = alt.trim().split([' ', '(', '[', '<']).next()?;
                let name = name.split(':').next()?;
                (!name.is_empty()).then_some(name)
            })
            .collect()
    })
}

/// Reads a dpkg `status` file; `os_release` (the system's `/etc/os-release`), when given,
/// supplies the purl namespace (`ID`) and `distro` qualifier.
pub fn parse_dpkg_status(
    file: &str,
    bytes: &[u8],
    os_release: Option<&[u8]>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let os = os_release
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let vendor = os
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .unwrap_or_else(|| "debian".to_owned());
    let distro = distro(&os);

    let mut sbom = Sbom::new();
    // Package name (and each virtual package it provides) → installed components.
    let mut by_name: HashMap<String, Vec<ComponentId>> = HashMap::new();
    let mut seen: HashMap<ComponentId, usize> = HashMap::new();
    let mut depends: Vec<(ComponentId, String)> = Vec::new();
    for p in paragraphs(file, text)? {
        let status = p.get("Status").unwrap_or("");
        if status
            .split_whitespace()
            .last()
            .is_none_or(|s| s != "installed")
        {
            continue;
        }
        let field = |name: &'static str| {
            p.get(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::MissingField {
                    file: file.to_owned(),
                    line: p.line,
                    package: p.get("Package").unwrap_or("(unnamed)").to_owned(),
                    field: name,
                })
        };
        let name = field("Package")?;
        if let Some(character) = illegal_package_name_char(name) {
            return Err(Error::InvalidDebianPackageName {
                file: file.to_owned(),
                line: p.line,
                name: name.to_owned(),
                character,
            });
        }
        let version = field("Version")?;
        let arch = p.get("Architecture").unwrap_or("");
        // `Source: bash (5.2.15-2)`: the source version differs from a binNMU's binary version.
        let source_name = p
            .get("Source")
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or(name);

        let id = ComponentId(format!("deb/{name}@{version}?arch={arch}"));
        if let Some(first) = seen.get(&id) {
            return Err(Error::DuplicatePackage {
                file: file.to_owned(),
                line: p.line,
                first_line: *first,
                name: name.to_owned(),
                version: version.to_owned(),
            });
        }
        seen.insert(id.clone(), p.line);

        let mut qualifiers: Vec<(&str, &str)> = Vec::new();
        if !arch.is_empty() {
            qualifiers.push(("arch", arch));
        }
        if let Some(d) = &distro {
            qualifiers.push(("distro", d));
        }
        if source_name != name {
            qualifiers.push(("upstream", source_name));
        }
        let purl = crate::purl::purl(
            &Ecosystem::Debian,
            &format!("{vendor}/{name}"),
            Some(version),
            &qualifiers,
        )
        .map_err(|source| Error::InvalidPurlName {
            file: file.to_owned(),
            line: p.line,
            package: name.to_owned(),
            name: name.to_owned(),
            source: Box::new(source),
        })?;

        let mut c = Component::new(
            id.clone(),
            Ecosystem::Debian,
            name,
            Some(version.to_owned()),
        );
        c.purl = Some(purl);
        c.source = Source::Registry { url: None };
        c.supplier = p.get("Maintainer").map(str::to_owned);
        c.source_package = Some(source_name.to_owned());
        sbom.insert(c);

        by_name.entry(name.to_owned()).or_default().push(id.clone());
        if let Some(provides) = p.get("Provides") {
            for alts in depends_names(provides) {
                for v in alts {
                    by_name.entry(v.to_owned()).or_default().push(id.clone());
                }
            }
        }
        for key in ["Pre-Depends", "Depends"] {
            if let Some(v) = p.get(key) {
                depends.push((id.clone(), v.to_owned()));
            }
        }
    }

    for (from, value) in depends {
        for alternatives in depends_names(&value) {
            // The first alternative that is installed is the one that satisfies the dependency;
            // one that is not installed at all leaves nothing to point at.
            if let Some(targets) = alternatives.iter().find_map(|a| by_name.get(*a)) {
                for to in targets {
                    if *to != from {
                        sbom.add_dependency(from.clone(), to.clone());
                    }
                }
            }
        }
    }
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_packages_are_not_components_and_alternatives_resolve() {
        let status = "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\nDepends: gone | b (>= 1), awk\nDescription: x\n continued\n\nPackage: b\nStatus: install ok installed\nVersion: 2\nArchitecture: all\nProvides: awk\n\nPackage: old\nStatus: deinstall ok config-files\nVersion: 3\n";
        let s = parse_dpkg_status("status", status.as_bytes(), None, &Limits::default()).unwrap();
        assert_eq!(s.len(), 2);
        let a = ComponentId("deb/a@1?arch=amd64".into());
        let deps: Vec<_> = s.dependencies_of(&a).collect();
        assert_eq!(deps, [&ComponentId("deb/b@2?arch=all".into())]);
    }

    #[test]
    fn continuation_before_any_field_is_an_error() {
        assert!(matches!(
            parse_dpkg_status("status", b" stray\n", None, &Limits::default()),
            Err(Error::InvalidDeb822 { line: 1, .. })
        ));
    }
}
