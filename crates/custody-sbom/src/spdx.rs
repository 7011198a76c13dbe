//! SPDX 2.3 JSON writer.
//!
//! Own serde structs for the same reason as the CycloneDX writer. The NTIA minimum elements map
//! to: supplier → `supplier`, name → `name`, version → `versionInfo`, other unique identifiers →
//! the purl `externalRefs` and `SPDXID`, dependency relationships → `DEPENDS_ON`, author of the
//! SBOM data → `creationInfo.creators`, timestamp → `creationInfo.created`.

use serde::Serialize;
use sha2::Digest as _;

use crate::Metadata;
use crate::cyclonedx::{content_uuid, is_spdx_expression, timestamp};
use crate::model::{Component, ComponentId, HashAlgorithm, Sbom, Scope, Source};

const NOASSERTION: &str = "NOASSERTION";
pub(crate) const SCOPE_COMMENT_PREFIX: &str = "scope: ";
pub(crate) const ECOSYSTEM_COMMENT_PREFIX: &str = "ecosystem: ";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<Package<'a>>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package<'a> {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<&'a str>,
    supplier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    originator: Option<String>,
    download_location: String,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum<'a>>,
    license_concluded: &'static str,
    license_declared: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_comments: Option<String>,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef<'a>>,
    primary_package_purpose: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum<'a> {
    algorithm: &'static str,
    checksum_value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef<'a> {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

/// `SPDXRef-` followed by letters, digits, `.` and `-` only (SPDX 2.3 §7.2), made unique by a
/// digest of the component id, since sanitising can map two ids to one string.
pub(crate) fn spdx_id(id: &ComponentId) -> String {
    let clean: String =
        id.0.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
    let digest = sha2::Sha256::digest(id.0.as_bytes());
    format!("SPDXRef-{clean}-{}", hex::encode(&digest[..4]))
}

fn checksum_alg(a: HashAlgorithm) -> &'static str {
    match a {
        HashAlgorithm::Sha1 => "SHA1",
        HashAlgorithm::Sha256 => "SHA256",
        HashAlgorithm::Sha384 => "SHA384",
        HashAlgorithm::Sha512 => "SHA512",
    }
}

fn download_location(c: &Component) -> String {
    match &c.source {
        // SPDX 2.3 §7.7: VCS locations are `<vcs>+<transport>://host/path@revision`.
        Source::Git { url, rev } => {
            let url = url.trim_start_matches("git+");
            if url.starts_with("https://") {
                match rev {
                    Some(r) => format!("git+{url}@{r}"),
                    None => format!("git+{url}"),
                }
            } else {
                NOASSERTION.to_owned()
            }
        }
        // npm records the tarball itself; Cargo records only the registry index, which is not a
        // download location.
        Source::Registry { url: Some(u) } if u.starts_with("https://") && u.ends_with(".tgz") => {
            u.clone()
        }
        _ => NOASSERTION.to_owned(),
    }
}

/// One `key: value` line per fact SPDX has no field for.
fn comment(c: &Component, primary: bool) -> Option<String> {
    let mut lines = Vec::new();
    // Also said by a relationship when there is a primary package; with none (a bare
    // requirements file), this is the only place.
    if !primary && c.scope != Scope::Required {
        lines.push(format!("{SCOPE_COMMENT_PREFIX}{}", c.scope.as_str()));
    }
    // A purl names the ecosystem; a path dependency has none, and without this line the reader
    // could not tell an npm path package from a Cargo one, so `sbom diff` would see a change.
    if c.purl.is_none() {
        lines.push(format!(
            "{ECOSYSTEM_COMMENT_PREFIX}{}",
            c.ecosystem.purl_type()
        ));
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn package<'a>(c: &'a Component, primary: bool) -> Package<'a> {
    let (license_declared, license_comments) = match c.license.as_deref() {
        Some(l) if is_spdx_expression(l) => (l, None),
        Some(l) => (
            NOASSERTION,
            Some(format!("declared licence, not an SPDX expression: {l}")),
        ),
        None => (NOASSERTION, None),
    };
    Package {
        spdx_id: spdx_id(&c.id),
        name: &c.name,
        version_info: c.version.as_deref(),
        supplier: c
            .supplier
            .as_ref()
            .map_or_else(|| NOASSERTION.to_owned(), |s| format!("Organization: {s}")),
        originator: (!c.authors.is_empty()).then(|| format!("Person: {}", c.authors.join(", "))),
        download_location: download_location(c),
        files_analyzed: false,
        checksums: c
            .hashes
            .iter()
            .map(|h| Checksum {
                algorithm: checksum_alg(h.algorithm),
                checksum_value: &h.hex,
            })
            .collect(),
        license_concluded: NOASSERTION,
        license_declared,
        license_comments,
        copyright_text: NOASSERTION,
        source_info: match &c.source {
            Source::Registry { url } => url.as_ref().map(|u| format!("registry: {u}")),
            Source::Git { url, rev } => Some(format!(
                "git dependency: {url}{}",
                rev.as_deref().map(|r| format!("#{r}")).unwrap_or_default()
            )),
            Source::Path { path } => Some(format!(
                "path dependency: {}",
                path.as_deref().unwrap_or("(not recorded)")
            )),
        },
        external_refs: c
            .purl
            .as_ref()
            .map(|p| ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: &p.0,
            })
            .into_iter()
            .collect(),
        primary_package_purpose: if primary { "APPLICATION" } else { "LIBRARY" },
        // Also said by a relationship when there is a primary package; with none (a bare
        // requirements file), this is the only place.
        comment: comment(c, primary),
    }
}

/// Writes `sbom` as SPDX 2.3 JSON. Same graph and metadata, same bytes.
///
/// The document DESCRIBES the primary component (or, with none, every root of the graph).
/// Every edge is a DEPENDS_ON; a component whose scope is not required also gets an
/// OPTIONAL_/BUILD_/DEV_DEPENDENCY_OF relationship to the primary component, which is how SPDX
/// 2.3 says scope.
pub fn to_spdx(sbom: &Sbom, meta: &Metadata) -> String {
    let primary = sbom.primary();
    let name = meta
        .name
        .clone()
        .or_else(|| primary.map(|p| p.name.clone()))
        .unwrap_or_else(|| "sbom".to_owned());
    let ns_name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut creators = vec![format!("Tool: {}-{}", meta.tool_name, meta.tool_version)];
    if let Some(org) = &meta.organization {
        creators.push(format!("Organization: {org}"));
    }

    let mut relationships = Vec::new();
    let described: Vec<&Component> = match primary {
        Some(p) => vec![p],
        None => sbom.roots(),
    };
    for c in described {
        relationships.push(Relationship {
            spdx_element_id: "SPDXRef-DOCUMENT".to_owned(),
            relationship_type: "DESCRIBES",
            related_spdx_element: spdx_id(&c.id),
        });
    }
    for d in sbom.dependencies() {
        relationships.push(Relationship {
            spdx_element_id: spdx_id(&d.from),
            relationship_type: "DEPENDS_ON",
            related_spdx_element: spdx_id(&d.to),
        });
    }
    if let Some(p) = primary {
        for c in sbom.components().filter(|c| c.id != p.id) {
            let kind = match c.scope {
                Scope::Required => continue,
                Scope::Optional => "OPTIONAL_DEPENDENCY_OF",
                Scope::Build => "BUILD_DEPENDENCY_OF",
                Scope::Dev => "DEV_DEPENDENCY_OF",
            };
            relationships.push(Relationship {
                spdx_element_id: spdx_id(&c.id),
                relationship_type: kind,
                related_spdx_element: spdx_id(&p.id),
            });
        }
    }

    let doc = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        document_namespace: format!(
            "https://spdx.org/spdxdocs/{ns_name}-{}",
            content_uuid(sbom, meta)
        ),
        name,
        creation_info: CreationInfo {
            created: timestamp(meta),
            creators,
        },
        packages: sbom
            .components()
            .map(|c| package(c, primary.is_some_and(|p| p.id == c.id)))
            .collect(),
        relationships,
    };
    // Plain structs with string keys: serialisation cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
