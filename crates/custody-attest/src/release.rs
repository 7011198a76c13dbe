//! Turning a set of hashed artifacts and build facts into the signed documents of a release.

use std::collections::BTreeMap;

use custody_crypto::{Digests, Signer};
use jiff::Timestamp;
use sigstore_types::Bundle;

use crate::bundle::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::provenance::{
    BuildDefinition, BuildMetadata, Builder, CUSTODY_BUILD_TYPE, ExternalParameters,
    InternalParameters, ManifestArtifact, Provenance, RELEASE_MANIFEST_V1, ReleaseManifest,
    ResourceDescriptor, RunDetails, SLSA_PROVENANCE_V1, Source,
};
use crate::{Error, statement};

/// An artifact that has been hashed.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// File name on the release site.
    pub name: String,
    /// Its digests (both SHA-256 and SHA-512 are expected).
    pub digests: Digests,
}

/// The source tree a release was made from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceState {
    /// Repository URL.
    pub repository: String,
    /// Ref checked out.
    pub git_ref: String,
    /// Commit id (hex).
    pub commit: String,
    /// Whether the working tree had no uncommitted changes.
    pub clean: bool,
}

/// Everything a release's provenance records.
#[derive(Debug, Clone)]
pub struct ReleaseFacts {
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// Builder id.
    pub builder_id: String,
    /// Source.
    pub source: SourceState,
    /// Whether a dirty tree was allowed.
    pub allow_dirty: bool,
    /// Unique id of this run.
    pub invocation_id: String,
    /// Start of the release.
    pub started_on: Timestamp,
    /// End of the release work that the provenance covers.
    pub finished_on: Timestamp,
}

/// The signed documents of one release.
#[derive(Debug, Clone)]
pub struct ReleaseDocuments {
    /// One bundle per artifact, in input order: provenance with that artifact as its subject.
    pub artifact_bundles: Vec<(String, Bundle)>,
    /// Provenance naming every artifact.
    pub provenance: Bundle,
    /// The signed release manifest.
    pub manifest: Bundle,
}

/// The name of an artifact's bundle on the release site.
pub fn bundle_name(artifact: &str) -> String {
    format!("{artifact}.sigstore.json")
}

/// Build and sign provenance and manifest for `artifacts`.
pub fn attest(
    signer: &dyn Signer,
    facts: &ReleaseFacts,
    artifacts: &[Artifact],
) -> Result<ReleaseDocuments, Error> {
    let provenance = provenance(facts);
    let sign = |subjects, predicate_type: &str, predicate: &dyn erased::Json| {
        let payload = statement::to_json(subjects, predicate_type, &predicate.value()?)?;
        bundle::sign(signer, IN_TOTO_PAYLOAD_TYPE, &payload)
    };
    let mut artifact_bundles = Vec::with_capacity(artifacts.len());
    for a in artifacts {
        let subjects = vec![statement::subject(&a.name, &a.digests)];
        artifact_bundles.push((
            a.name.clone(),
            sign(subjects, SLSA_PROVENANCE_V1, &provenance)?,
        ));
    }
    let all: Vec<_> = artifacts
        .iter()
        .map(|a| statement::subject(&a.name, &a.digests))
        .collect();
    let manifest = ReleaseManifest {
        product: facts.product.clone(),
        version: facts.version.clone(),
        created: facts.finished_on,
        artifacts: artifacts
            .iter()
            .map(|a| ManifestArtifact {
                name: a.name.clone(),
                size: a.digests.size,
                digest: digest_map(&a.digests),
                bundle: bundle_name(&a.name),
            })
            .collect(),
    };
    Ok(ReleaseDocuments {
        artifact_bundles,
        provenance: sign(all.clone(), SLSA_PROVENANCE_V1, &provenance)?,
        manifest: sign(all, RELEASE_MANIFEST_V1, &manifest)?,
    })
}

/// `predicateType` of a CycloneDX BOM attestation (in-toto predicate registry).
pub const CYCLONEDX_BOM: &str = "https://cyclonedx.org/bom";

/// `predicateType` of an SPDX document attestation (in-toto predicate registry).
pub const SPDX_DOCUMENT: &str = "https://spdx.dev/Document";

/// Sign a document about the whole release (an SBOM, a scan, VEX) as a Statement whose
/// subjects are every artifact and whose predicate is the document itself.
pub fn attest_document(
    signer: &dyn Signer,
    artifacts: &[Artifact],
    predicate_type: &str,
    predicate: &serde_json::Value,
) -> Result<Bundle, Error> {
    let subjects = artifacts
        .iter()
        .map(|a| statement::subject(&a.name, &a.digests))
        .collect();
    let payload = statement::to_json(subjects, predicate_type, predicate)?;
    bundle::sign(signer, IN_TOTO_PAYLOAD_TYPE, &payload)
}

/// `{"sha256": hex, "sha512": hex}` for the digests present.
pub fn digest_map(d: &Digests) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    if let Some(h) = d.sha256 {
        map.insert("sha256".to_owned(), h.to_hex());
    }
    if let Some(h) = d.sha512 {
        map.insert("sha512".to_owned(), h.to_hex());
    }
    map
}

fn provenance(f: &ReleaseFacts) -> Provenance {
    let mut annotations = BTreeMap::new();
    annotations.insert(
        crate::provenance::TREE_CLEAN.to_owned(),
        serde_json::Value::Bool(f.source.clean),
    );
    Provenance {
        build_definition: BuildDefinition {
            build_type: CUSTODY_BUILD_TYPE.to_owned(),
            external_parameters: ExternalParameters {
                product: f.product.clone(),
                version: f.version.clone(),
                source: Source {
                    repository: f.source.repository.clone(),
                    git_ref: f.source.git_ref.clone(),
                },
            },
            internal_parameters: InternalParameters {
                allow_dirty: f.allow_dirty,
                custody_version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            resolved_dependencies: vec![ResourceDescriptor {
                uri: format!("git+{}@{}", f.source.repository, f.source.git_ref),
                digest: BTreeMap::from([("gitCommit".to_owned(), f.source.commit.clone())]),
                name: Some("source".to_owned()),
                annotations,
            }],
        },
        run_details: RunDetails {
            builder: Builder {
                id: f.builder_id.clone(),
            },
            metadata: BuildMetadata {
                invocation_id: f.invocation_id.clone(),
                started_on: f.started_on,
                finished_on: f.finished_on,
            },
        },
    }
}

/// Lets one closure sign predicates of different types.
mod erased {
    use crate::Error;

    pub trait Json {
        fn value(&self) -> Result<serde_json::Value, Error>;
    }

    impl<T: serde::Serialize> Json for T {
        fn value(&self) -> Result<serde_json::Value, Error> {
            serde_json::to_value(self).map_err(Error::json("predicate"))
        }
    }
}
