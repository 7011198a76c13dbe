//! CycloneDX 1.6 / 1.5 JSON writer.
//!
//! Our own serde structs for the subset we write: `serde-cyclonedx` generates its types at build
//! time from the schema (schemafy, derive_builder, anyhow, thiserror 1) and makes every field
//! optional, which is heavier than the hundred lines this needs and no help for determinism.

use serde::Serialize;
use sha2::Digest as _;

use crate::Metadata;
use crate::model::{Component, HashAlgorithm, Sbom, Scope, Source};

/// The CycloneDX spec version to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CycloneDxVersion {
    V1_5,
    #[default]
    V1_6,
}

impl CycloneDxVersion {
    fn as_str(self) -> &'static str {
        match self {
            CycloneDxVersion::V1_5 => "1.5",
            CycloneDxVersion::V1_6 => "1.6",
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom<'a> {
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: BomMetadata<'a>,
    components: Vec<CdxComponent<'a>>,
    dependencies: Vec<CdxDependency<'a>>,
}

#[derive(Serialize)]
struct BomMetadata<'a> {
    timestamp: String,
    tools: Tools<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<Named<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<CdxComponent<'a>>,
}

#[derive(Serialize)]
struct Tools<'a> {
    components: [ToolComponent<'a>; 1],
}

#[derive(Serialize)]
struct ToolComponent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct Named<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct CdxComponent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<Named<'a>>,
    // 1.6 has `authors` (objects); 1.5 only the `author` string.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Named<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<CdxHash<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<CdxLicense<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<&'a str>,
    #[serde(rename = "externalReferences", skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference<'a>>,
    properties: Vec<Property<'a>>,
}

#[derive(Serialize)]
struct CdxHash<'a> {
    alg: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum CdxLicense<'a> {
    Expression { expression: &'a str },
    Named { license: Named<'a> },
}

#[derive(Serialize)]
struct ExternalReference<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
}

#[derive(Serialize)]
struct Property<'a> {
    name: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CdxDependency<'a> {
    #[serde(rename = "ref")]
    reference: &'a str,
    depends_on: Vec<&'a str>,
}

/// The property that carries each author in a CycloneDX 1.5 document, whose `author` is one
/// string; the SBOM reader (`read.rs`) restores the list from it.
pub(crate) const AUTHOR_PROPERTY: &str = "custody:author";

pub(crate) fn hash_alg(a: HashAlgorithm) -> &'static str {
    match a {
        HashAlgorithm::Sha1 => "SHA-1",
        HashAlgorithm::Sha256 => "SHA-256",
        HashAlgorithm::Sha384 => "SHA-384",
        HashAlgorithm::Sha512 => "SHA-512",
    }
}

/// A UUID-shaped digest of the graph and metadata, so that the same input always gets the same
/// serial number / namespace and different inputs get different ones
/// ([`custody_crypto::Sha256Digest::to_uuid`]).
pub(crate) fn content_uuid(sbom: &Sbom, meta: &Metadata) -> String {
    let mut h = sha2::Sha256::new();
    h.update(meta.timestamp.to_string().as_bytes());
    for c in sbom.components() {
        h.update(c.id.0.as_bytes());
        h.update([0]);
    }
    for d in sbom.dependencies() {
        h.update(d.from.0.as_bytes());
        h.update([1]);
        h.update(d.to.0.as_bytes());
        h.update([0]);
    }
    custody_crypto::Sha256Digest(h.finalize().into()).to_uuid()
}

/// RFC 3339 UTC with whole seconds, the form both formats' validators accept.
pub(crate) fn timestamp(meta: &Metadata) -> String {
    meta.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// True when `s` is a valid SPDX licence expression (licence list as of the `spdx` crate).
pub(crate) fn is_spdx_expression(s: &str) -> bool {
    // A lockfile repeats a few licences over thousands of packages, and parsing one is costly
    // next to writing it; the answers are kept per thread, bounded for long-running callers.
    thread_local! {
        static KNOWN: std::cell::RefCell<std::collections::HashMap<String, bool>> =
            std::cell::RefCell::default();
    }
    KNOWN.with_borrow_mut(|known| {
        if let Some(&v) = known.get(s) {
            return v;
        }
        let v = spdx::Expression::parse(s).is_ok();
        if known.len() >= 4096 {
            known.clear();
        }
        known.insert(s.to_owned(), v);
        v
    })
}

fn component<'a>(c: &'a Component, version: CycloneDxVersion, primary: bool) -> CdxComponent<'a> {
    let mut external_references = Vec::new();
    match &c.source {
        Source::Git { url, rev } => external_references.push(ExternalReference {
            kind: "vcs",
            url: url.trim_start_matches("git+").to_owned(),
            comment: rev.as_deref(),
        }),
        // Only an archive URL (npm's `resolved`) is a distribution; Cargo's is a registry index.
        Source::Registry { url: Some(u) } if u.starts_with("http") && u.ends_with(".tgz") => {
            external_references.push(ExternalReference {
                kind: "distribution",
                url: u.clone(),
                comment: None,
            })
        }
        _ => {}
    }
    let mut properties = vec![Property {
        name: "custody:source",
        value: c.source.kind(),
    }];
    if let Source::Registry { url: Some(u) } = &c.source {
        properties.push(Property {
            name: "custody:registry",
            value: u,
        });
    }
    // Without a purl nothing else in the document says which ecosystem a component is from.
    if c.purl.is_none() {
        properties.push(Property {
            name: "custody:ecosystem",
            value: c.ecosystem.purl_type(),
        });
    }
    if let Source::Path { path: Some(p) } = &c.source {
        properties.push(Property {
            name: "custody:path",
            value: p,
        });
    }
    if !primary {
        properties.push(Property {
            name: "custody:scope",
            value: c.scope.as_str(),
        });
    }
    let (authors, author) = match version {
        CycloneDxVersion::V1_6 => (c.authors.iter().map(|a| Named { name: a }).collect(), None),
        CycloneDxVersion::V1_5 => {
            // 1.5 has only the one `author` string, which joining makes ambiguous (an author may
            // itself contain ", "). Properties may repeat a name (CycloneDX 1.5, `properties`),
            // so each author also gets a `custody:author`, from which the SBOM reader restores
            // the list; other consumers read the joined string.
            if c.authors.len() > 1 {
                properties.extend(c.authors.iter().map(|a| Property {
                    name: AUTHOR_PROPERTY,
                    value: a,
                }));
            }
            (
                Vec::new(),
                (!c.authors.is_empty()).then(|| c.authors.join(", ")),
            )
        }
    };
    CdxComponent {
        kind: if primary { "application" } else { "library" },
        bom_ref: &c.id.0,
        supplier: c.supplier.as_deref().map(|name| Named { name }),
        authors,
        author,
        name: &c.name,
        version: c.version.as_deref(),
        scope: (!primary).then_some(match c.scope {
            Scope::Required => "required",
            Scope::Optional => "optional",
            Scope::Build | Scope::Dev => "excluded",
        }),
        hashes: c
            .hashes
            .iter()
            .map(|h| CdxHash {
                alg: hash_alg(h.algorithm),
                content: &h.hex,
            })
            .collect(),
        licenses: c
            .license
            .as_deref()
            .map(|l| {
                if is_spdx_expression(l) {
                    CdxLicense::Expression { expression: l }
                } else {
                    CdxLicense::Named {
                        license: Named { name: l },
                    }
                }
            })
            .into_iter()
            .collect(),
        purl: c.purl.as_ref().map(|p| p.0.as_str()),
        external_references,
        properties,
    }
}

/// Writes `sbom` as CycloneDX JSON. Same graph and metadata, same bytes.
pub fn to_cyclonedx(sbom: &Sbom, version: CycloneDxVersion, meta: &Metadata) -> String {
    let primary_id = sbom.primary().map(|p| &p.id);
    let bom = Bom {
        bom_format: "CycloneDX",
        spec_version: version.as_str(),
        serial_number: format!("urn:uuid:{}", content_uuid(sbom, meta)),
        version: 1,
        metadata: BomMetadata {
            timestamp: timestamp(meta),
            tools: Tools {
                components: [ToolComponent {
                    kind: "application",
                    name: &meta.tool_name,
                    version: &meta.tool_version,
                }],
            },
            supplier: meta.organization.as_deref().map(|name| Named { name }),
            component: sbom.primary().map(|p| component(p, version, true)),
        },
        components: sbom
            .components()
            .filter(|c| Some(&c.id) != primary_id)
            .map(|c| component(c, version, false))
            .collect(),
        dependencies: sbom
            .components()
            .map(|c| CdxDependency {
                reference: &c.id.0,
                depends_on: sbom.dependencies_of(&c.id).map(|d| d.0.as_str()).collect(),
            })
            .collect(),
    };
    // Serialising these plain structs to a String cannot fail: no maps with non-string keys, no
    // custom Serialize impls that error.
    serde_json::to_string_pretty(&bom).unwrap_or_default()
}
