//! SLSA Provenance v1 predicate (<https://slsa.dev/spec/v1.0/provenance>) and custody's
//! release manifest predicate.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// `predicateType` of SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// `buildType` of a custody release: what `externalParameters` mean.
pub const CUSTODY_BUILD_TYPE: &str = "https://custody.dev/release/v1";

/// `predicateType` of a custody release manifest.
pub const RELEASE_MANIFEST_V1: &str = "https://custody.dev/release-manifest/v1";

/// The SLSA v1 predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// What was built, from what.
    pub build_definition: BuildDefinition,
    /// Who built it, and when.
    pub run_details: RunDetails,
}

/// SLSA `buildDefinition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// The template this build follows ([`CUSTODY_BUILD_TYPE`]).
    pub build_type: String,
    /// Parameters a tenant controls: they are what a verifier checks.
    pub external_parameters: ExternalParameters,
    /// Parameters the builder chose.
    #[serde(default)]
    pub internal_parameters: InternalParameters,
    /// Inputs pinned by digest: the source commit first.
    #[serde(default)]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// custody's external parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalParameters {
    /// Product name.
    pub product: String,
    /// Release version.
    pub version: String,
    /// Where the source came from.
    pub source: Source,
}

/// Source repository and ref.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// Repository URL (the `origin` remote).
    pub repository: String,
    /// The ref checked out (`refs/heads/main`, `refs/tags/v1.4.2`), or `HEAD` when detached.
    #[serde(rename = "ref")]
    pub git_ref: String,
}

/// Parameters custody chose.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InternalParameters {
    /// Whether the release was allowed from a tree with uncommitted changes.
    #[serde(default)]
    pub allow_dirty: bool,
    /// The custody version that made the release.
    #[serde(default)]
    pub custody_version: String,
}

/// SLSA `ResourceDescriptor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    /// e.g. `git+https://example.com/repo@refs/heads/main`.
    pub uri: String,
    /// Algorithm → hex digest (`gitCommit`, `sha256`).
    pub digest: BTreeMap<String, String>,
    /// Short name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Extra facts, such as whether the tree was clean.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, serde_json::Value>,
}

/// SLSA `runDetails`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// The builder.
    pub builder: Builder,
    /// Timing and identity of this run.
    pub metadata: BuildMetadata,
}

/// SLSA `builder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    /// A URI naming the builder, compared exactly by verifiers.
    pub id: String,
}

/// SLSA `BuildMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    /// A unique id for this run.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub invocation_id: String,
    /// When the release started.
    pub started_on: Timestamp,
    /// When it finished.
    pub finished_on: Timestamp,
}

impl Provenance {
    /// The source commit, from the first `gitCommit` in the resolved dependencies.
    pub fn source_commit(&self) -> Option<&str> {
        self.build_definition
            .resolved_dependencies
            .iter()
            .find_map(|d| d.digest.get("gitCommit"))
            .map(String::as_str)
    }

    /// Whether the source tree was clean, from the first resolved dependency that says.
    pub fn tree_clean(&self) -> Option<bool> {
        self.build_definition
            .resolved_dependencies
            .iter()
            .find_map(|d| d.annotations.get(TREE_CLEAN)?.as_bool())
    }
}

/// The source dependency's annotation saying whether the tree had no uncommitted changes.
pub const TREE_CLEAN: &str = "treeClean";

/// custody's release manifest predicate: the whole release in one signed list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseManifest {
    /// Product name.
    pub product: String,
    /// Release version.
    pub version: String,
    /// When the release was made.
    pub created: Timestamp,
    /// Every artifact.
    pub artifacts: Vec<ManifestArtifact>,
}

/// One artifact in a [`ReleaseManifest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestArtifact {
    /// File name on the release site.
    pub name: String,
    /// Length in bytes.
    pub size: u64,
    /// `sha256` and `sha512`, hex.
    pub digest: BTreeMap<String, String>,
    /// The artifact's own bundle, relative to the release directory.
    pub bundle: String,
}
