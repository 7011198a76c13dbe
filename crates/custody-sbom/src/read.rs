//! Reads CycloneDX (1.2–1.6) and SPDX (2.2, 2.3) JSON back into a component graph.
//!
//! Lenient about fields it does not use, strict about the graph: an edge naming an element that
//! is not in the document is an error, since a silently dropped edge would hide a dependency
//! from the scanner. Hash algorithms the graph has no name for (MD5, SHA-3, BLAKE) are not kept.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{Component, ComponentId, Ecosystem, Hash, HashAlgorithm, Sbom, Scope, Source};
use crate::{Limits, check_size, to_utf8};

fn parse_json<'de, T: Deserialize<'de>>(file: &str, text: &'de str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::InvalidJson {
        file: file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<String>,
}

/// Reads a CycloneDX or SPDX JSON document, whichever it is.
pub fn parse_sbom(file: &str, bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let probe: Probe = parse_json(file, text)?;
    match (probe.bom_format.as_deref(), probe.spdx_version.as_deref()) {
        (Some("CycloneDX"), _) => cyclonedx(file, text),
        (_, Some(_)) => spdx(file, text),
        _ => Err(Error::UnknownSbomFormat {
            file: file.to_owned(),
        }),
    }
}

fn hash(alg: &str, hex: &str) -> Option<Hash> {
    let algorithm = match alg.to_ascii_uppercase().replace('-', "").as_str() {
        "SHA1" => HashAlgorithm::Sha1,
        "SHA256" => HashAlgorithm::Sha256,
        "SHA384" => HashAlgorithm::Sha384,
        "SHA512" => HashAlgorithm::Sha512,
        _ => return None,
    };
    Some(Hash {
        algorithm,
        hex: hex.to_ascii_lowercase(),
    })
}

/// The package name: the purl's, in the document's spelling when the two differ only in case.
/// A purl lowercases some names (npm's, and Go's module path but its last segment), while the
/// ecosystem's own are case-sensitive: `github.com/BurntSushi/toml` is not
/// `github.com/burntsushi/toml` to the Go toolchain. The purl's lowercasing is Unicode's, not
/// only ASCII's (`Џ` becomes `џ`), so the comparison is too.
fn name_from_purl(from_purl: String, written: &str) -> String {
    if from_purl != written && from_purl.to_lowercase() == written.to_lowercase() {
        written.to_owned()
    } else {
        from_purl
    }
}

fn from_purl(file: &str, purl: Option<&str>) -> Result<Option<crate::purl::PurlParts>> {
    purl.map(|p| {
        crate::purl::parse(p).map_err(|source| Error::InvalidPurl {
            file: file.to_owned(),
            purl: p.to_owned(),
            source: Box::new(source),
        })
    })
    .transpose()
}

// ---------------------------------------------------------------------------------------------
// CycloneDX

#[derive(Deserialize)]
struct CdxBom {
    #[serde(rename = "specVersion", default)]
    spec_version: String,
    metadata: Option<CdxMetadata>,
    #[serde(default)]
    components: Vec<CdxComponent>,
    #[serde(default)]
    dependencies: Vec<CdxDependency>,
}

#[derive(Deserialize)]
struct CdxMetadata {
    component: Option<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxComponent {
    #[serde(rename = "bom-ref")]
    bom_ref: Option<String>,
    group: Option<String>,
    #[serde(default)]
    name: String,
    version: Option<String>,
    purl: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    hashes: Vec<CdxHash>,
    supplier: Option<CdxNamed>,
    #[serde(default)]
    authors: Vec<CdxNamed>,
    author: Option<String>,
    #[serde(default)]
    licenses: Vec<CdxLicenseChoice>,
    #[serde(default)]
    properties: Vec<CdxProperty>,
    #[serde(default, rename = "externalReferences")]
    external_references: Vec<CdxExternalReference>,
    #[serde(default)]
    components: Vec<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxHash {
    alg: String,
    content: String,
}

#[derive(Deserialize)]
struct CdxNamed {
    name: Option<String>,
}

#[derive(Deserialize)]
struct CdxLicenseChoice {
    expression: Option<String>,
    license: Option<CdxLicense>,
}

#[derive(Deserialize)]
struct CdxLicense {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct CdxProperty {
    name: String,
    value: Option<String>,
}

#[derive(Deserialize)]
struct CdxExternalReference {
    #[serde(rename = "type")]
    kind: String,
    url: String,
    comment: Option<String>,
}

#[derive(Deserialize)]
struct CdxDependency {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default, rename = "dependsOn")]
    depends_on: Vec<String>,
}

const CDX_VERSIONS: &str = "1.2, 1.3, 1.4, 1.5, 1.6";

fn cyclonedx(file: &str, text: &str) -> Result<Sbom> {
    let bom: CdxBom = parse_json(file, text)?;
    if !CDX_VERSIONS.split(", ").any(|v| v == bom.spec_version) {
        return Err(Error::UnsupportedSbomVersion {
            file: file.to_owned(),
            format: "CycloneDX",
            found: bom.spec_version,
            supported: CDX_VERSIONS,
        });
    }
    let mut sbom = Sbom::new();
    let mut seen = BTreeSet::new();
    let mut counter = 0usize;
    if let Some(primary) = bom.metadata.and_then(|m| m.component) {
        let id = cdx_insert(file, &mut sbom, &mut seen, &mut counter, primary)?;
        sbom.set_primary(Some(id));
    }
    for c in bom.components {
        cdx_insert(file, &mut sbom, &mut seen, &mut counter, c)?;
    }
    for d in bom.dependencies {
        for r in std::iter::once(&d.reference).chain(&d.depends_on) {
            if !seen.contains(r) {
                return Err(Error::DanglingReference {
                    file: file.to_owned(),
                    reference: r.clone(),
                });
            }
        }
        for to in d.depends_on {
            sbom.add_dependency(ComponentId(d.reference.clone()), ComponentId(to));
        }
    }
    Ok(sbom)
}

fn cdx_insert(
    file: &str,
    sbom: &mut Sbom,
    seen: &mut BTreeSet<String>,
    counter: &mut usize,
    c: CdxComponent,
) -> Result<ComponentId> {
    if c.name.is_empty() {
        return Err(Error::NamelessComponent {
            file: file.to_owned(),
        });
    }
    *counter += 1;
    let reference = c.bom_ref.clone().unwrap_or_else(|| {
        // A component without a bom-ref cannot be in `dependencies`; any unique id will do.
        format!("(no bom-ref {counter}) {}", c.name)
    });
    if !seen.insert(reference.clone()) {
        return Err(Error::DuplicateReference {
            file: file.to_owned(),
            reference,
        });
    }
    let id = ComponentId(reference);
    let parts = from_purl(file, c.purl.as_deref())?;
    let source_package = parts.as_ref().and_then(|p| p.source_package.clone());
    let written = match &c.group {
        Some(g) if !g.is_empty() => format!("{g}/{}", c.name),
        _ => c.name.clone(),
    };
    let (ecosystem, name) = match parts {
        Some(p) => (p.ecosystem, name_from_purl(p.name, &written)),
        None => (
            Ecosystem::from_purl_type(
                c.properties
                    .iter()
                    .find(|p| p.name == "custody:ecosystem")
                    .and_then(|p| p.value.as_deref())
                    .unwrap_or("generic"),
            ),
            written,
        ),
    };
    let property = |n: &str| {
        c.properties
            .iter()
            .find(|p| p.name == n)
            .and_then(|p| p.value.clone())
    };
    let scope = property("custody:scope")
        .and_then(|s| Scope::parse(&s))
        .unwrap_or(match c.scope.as_deref() {
            Some("optional") => Scope::Optional,
            Some("excluded") => Scope::Dev,
            _ => Scope::Required,
        });
    let reference_of = |kind: &str| c.external_references.iter().find(|r| r.kind == kind);
    let source = match property("custody:source").as_deref() {
        Some("git") => Source::Git {
            url: reference_of("vcs")
                .map(|r| r.url.clone())
                .unwrap_or_default(),
            rev: reference_of("vcs").and_then(|r| r.comment.clone()),
        },
        Some("path") => Source::Path {
            path: property("custody:path"),
        },
        _ => Source::Registry {
            url: property("custody:registry")
                .or_else(|| reference_of("distribution").map(|r| r.url.clone())),
        },
    };
    let mut comp = Component::new(id.clone(), ecosystem, name, c.version);
    comp.source_package = source_package;
    comp.purl = c.purl.map(crate::model::Purl);
    comp.scope = scope;
    comp.source = source;
    comp.hashes = c
        .hashes
        .iter()
        .filter_map(|h| hash(&h.alg, &h.content))
        .collect();
    comp.hashes.sort();
    comp.supplier = c.supplier.and_then(|s| s.name);
    comp.authors = c.authors.into_iter().filter_map(|a| a.name).collect();
    if comp.authors.is_empty() {
        // A 1.5 document has only the `author` string; the list, when there was more than one,
        // is in `custody:author` properties (see the writer), since the string joins them.
        comp.authors = c
            .properties
            .iter()
            .filter(|p| p.name == crate::cyclonedx::AUTHOR_PROPERTY)
            .filter_map(|p| p.value.clone())
            .collect();
    }
    if comp.authors.is_empty()
        && let Some(a) = c.author
    {
        comp.authors.push(a);
    }
    comp.license = c.licenses.into_iter().find_map(|l| {
        l.expression
            .or_else(|| l.license.and_then(|x| x.id.or(x.name)))
    });
    sbom.insert(comp);
    for child in c.components {
        let child_id = cdx_insert(file, sbom, seen, counter, child)?;
        // Nesting in CycloneDX means "is part of"; kept as an edge so nothing goes unscanned.
        sbom.add_dependency(id.clone(), child_id);
    }
    Ok(id)
}

// ---------------------------------------------------------------------------------------------
// SPDX

#[derive(Deserialize)]
struct SpdxDocument {
    #[serde(rename = "spdxVersion")]
    spdx_version: String,
    #[serde(default)]
    packages: Vec<SpdxPackage>,
    #[serde(default)]
    files: Vec<SpdxElement>,
    #[serde(default)]
    snippets: Vec<SpdxElement>,
    #[serde(default)]
    relationships: Vec<SpdxRelationship>,
    #[serde(default, rename = "documentDescribes")]
    document_describes: Vec<String>,
}

#[derive(Deserialize)]
struct SpdxElement {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(default)]
    name: String,
    version_info: Option<String>,
    supplier: Option<String>,
    originator: Option<String>,
    download_location: Option<String>,
    #[serde(default)]
    checksums: Vec<SpdxChecksum>,
    license_declared: Option<String>,
    license_comments: Option<String>,
    source_info: Option<String>,
    comment: Option<String>,
    #[serde(default)]
    external_refs: Vec<SpdxExternalRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxChecksum {
    algorithm: String,
    checksum_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxExternalRef {
    reference_type: String,
    reference_locator: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxRelationship {
    spdx_element_id: String,
    relationship_type: String,
    related_spdx_element: String,
}

const SPDX_VERSIONS: &str = "SPDX-2.2, SPDX-2.3";
const LICENSE_COMMENT_PREFIX: &str = "declared licence, not an SPDX expression: ";

fn spdx_party(s: Option<String>) -> Option<String> {
    let s = s?;
    let rest = s
        .strip_prefix("Organization:")
        .or_else(|| s.strip_prefix("Person:"))
        .or_else(|| s.strip_prefix("Tool:"))?;
    Some(rest.trim().to_owned())
}

fn spdx(file: &str, text: &str) -> Result<Sbom> {
    let doc: SpdxDocument = parse_json(file, text)?;
    if !SPDX_VERSIONS.split(", ").any(|v| v == doc.spdx_version) {
        return Err(Error::UnsupportedSbomVersion {
            file: file.to_owned(),
            format: "SPDX",
            found: doc.spdx_version,
            supported: SPDX_VERSIONS,
        });
    }
    let mut sbom = Sbom::new();
    let mut packages = BTreeSet::new();
    for p in doc.packages {
        if p.name.is_empty() {
            return Err(Error::NamelessComponent {
                file: file.to_owned(),
            });
        }
        if !packages.insert(p.spdx_id.clone()) {
            return Err(Error::DuplicateReference {
                file: file.to_owned(),
                reference: p.spdx_id,
            });
        }
        let purl = p
            .external_refs
            .iter()
            .find(|r| r.reference_type == "purl")
            .map(|r| r.reference_locator.clone());
        let parts = from_purl(file, purl.as_deref())?;
        let source_package = parts.as_ref().and_then(|p| p.source_package.clone());
        let comment_value = |prefix: &str| {
            p.comment
                .as_deref()
                .into_iter()
                .flat_map(str::lines)
                .find_map(|l| l.strip_prefix(prefix))
        };
        let (ecosystem, name) = match parts {
            Some(parts) => (parts.ecosystem, name_from_purl(parts.name, &p.name)),
            None => (
                Ecosystem::from_purl_type(
                    comment_value(crate::spdx::ECOSYSTEM_COMMENT_PREFIX).unwrap_or("generic"),
                ),
                p.name.clone(),
            ),
        };
        let source = match p.source_info.as_deref() {
            Some(s) if s.starts_with("git dependency: ") => {
                let rest = &s["git dependency: ".len()..];
                let (url, rev) = match rest.split_once('#') {
                    Some((u, r)) => (u.to_owned(), Some(r.to_owned())),
                    None => (rest.to_owned(), None),
                };
                Source::Git { url, rev }
            }
            Some(s) if s.starts_with("path dependency: ") => Source::Path {
                path: Some(s["path dependency: ".len()..].to_owned())
                    .filter(|p| p != "(not recorded)"),
            },
            Some(s) if s.starts_with("registry: ") => Source::Registry {
                url: Some(s["registry: ".len()..].to_owned()),
            },
            _ => Source::Registry {
                url: p
                    .download_location
                    .filter(|d| d.starts_with("http://") || d.starts_with("https://")),
            },
        };
        let mut c = Component::new(ComponentId(p.spdx_id), ecosystem, name, p.version_info);
        c.source_package = source_package;
        c.purl = purl.map(crate::model::Purl);
        c.source = source;
        c.hashes = p
            .checksums
            .iter()
            .filter_map(|h| hash(&h.algorithm, &h.checksum_value))
            .collect();
        c.hashes.sort();
        if let Some(scope) = comment_value(crate::spdx::SCOPE_COMMENT_PREFIX).and_then(Scope::parse)
        {
            c.scope = scope;
        }
        c.supplier = spdx_party(p.supplier);
        c.authors = spdx_party(p.originator)
            .map(|a| a.split(", ").map(str::to_owned).collect())
            .unwrap_or_default();
        c.license = match p.license_declared.as_deref() {
            Some("NOASSERTION" | "NONE") | None => p
                .license_comments
                .and_then(|l| l.strip_prefix(LICENSE_COMMENT_PREFIX).map(str::to_owned)),
            Some(l) => Some(l.to_owned()),
        };
        sbom.insert(c);
    }

    let known = |id: &str| {
        packages.contains(id)
            || id == "SPDXRef-DOCUMENT"
            || id == "NOASSERTION"
            || id == "NONE"
            || id.starts_with("DocumentRef-")
            || doc.files.iter().any(|f| f.spdx_id == id)
            || doc.snippets.iter().any(|s| s.spdx_id == id)
    };
    let mut described: Vec<String> = doc.document_describes.clone();
    let mut scopes: BTreeMap<String, Scope> = BTreeMap::new();
    for r in &doc.relationships {
        for end in [&r.spdx_element_id, &r.related_spdx_element] {
            if !known(end) {
                return Err(Error::DanglingReference {
                    file: file.to_owned(),
                    reference: end.clone(),
                });
            }
        }
        let (a, b) = (&r.spdx_element_id, &r.related_spdx_element);
        let both = packages.contains(a) && packages.contains(b);
        match r.relationship_type.as_str() {
            "DESCRIBES" if a == "SPDXRef-DOCUMENT" => described.push(b.clone()),
            "DESCRIBED_BY" if b == "SPDXRef-DOCUMENT" => described.push(a.clone()),
            "DEPENDS_ON" if both => {
                sbom.add_dependency(ComponentId(a.clone()), ComponentId(b.clone()))
            }
            "DEPENDENCY_OF" if both => {
                sbom.add_dependency(ComponentId(b.clone()), ComponentId(a.clone()))
            }
            kind @ ("OPTIONAL_DEPENDENCY_OF"
            | "BUILD_DEPENDENCY_OF"
            | "DEV_DEPENDENCY_OF"
            | "TEST_DEPENDENCY_OF")
                if packages.contains(a) =>
            {
                let s = match kind {
                    "OPTIONAL_DEPENDENCY_OF" => Scope::Optional,
                    "BUILD_DEPENDENCY_OF" => Scope::Build,
                    _ => Scope::Dev,
                };
                let e = scopes.entry(a.clone()).or_insert(s);
                *e = (*e).min(s);
            }
            _ => {}
        }
    }
    for (id, scope) in scopes {
        if let Some(c) = sbom.get_mut(&ComponentId(id)) {
            c.scope = scope;
        }
    }
    described.sort();
    described.dedup();
    described.retain(|d| packages.contains(d));
    if let [only] = described.as_slice() {
        sbom.set_primary(Some(ComponentId(only.clone())));
    }
    Ok(sbom)
}
