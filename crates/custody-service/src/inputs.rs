//! Reading what a user hands the service: a project or SBOM as a component graph, and OpenVEX
//! documents. Each read is bounded and names the file in its error.

use std::path::{Path, PathBuf};

use custody_sbom::{CycloneDxVersion, Limits, Metadata, Sbom};
use custody_vuln::vex::{self, Document};

use crate::Error;

/// A directory (every lockfile in it), a lockfile, a binary (cargo-auditable data or Go build
/// information), or an existing CycloneDX or SPDX JSON SBOM, as a component graph.
pub fn read_sbom(path: &Path) -> Result<Sbom, Error> {
    let limits = Limits::default();
    let sbom_error = Error::SbomInput;
    if path.is_dir() {
        return custody_sbom::read_dir(path, &limits).map_err(sbom_error);
    }
    match custody_sbom::read_lockfile(path, &limits) {
        Err(custody_sbom::Error::UnknownLockfile { .. })
            if custody_sbom::is_binary_file(path).map_err(sbom_error)? =>
        {
            custody_sbom::read_binary(path, &limits).map_err(sbom_error)
        }
        Err(custody_sbom::Error::UnknownLockfile { .. }) => {
            let bytes = custody_site::fs::read_bounded(path, limits.max_bytes, "SBOM")
                .map_err(Error::input)?;
            custody_sbom::parse_sbom(&path.display().to_string(), &bytes, &limits)
                .map_err(sbom_error)
        }
        other => other.map_err(sbom_error),
    }
}

/// An SBOM format custody writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomFormat {
    /// CycloneDX at this version.
    CycloneDx(CycloneDxVersion),
    /// SPDX 2.3.
    Spdx,
}

/// `sbom` as a document in `format`, stamped `now`.
pub fn render_sbom(sbom: &Sbom, format: SbomFormat, now: jiff::Timestamp) -> String {
    let meta = Metadata::new(now);
    match format {
        SbomFormat::Spdx => custody_sbom::to_spdx(sbom, &meta),
        SbomFormat::CycloneDx(v) => custody_sbom::to_cyclonedx(sbom, v, &meta),
    }
}

/// Reads and validates an OpenVEX file.
pub fn read_vex(path: &Path) -> Result<Document, Error> {
    let bytes = custody_site::fs::read_bounded(path, vex::MAX_DOCUMENT_BYTES as u64, "VEX file")
        .map_err(Error::input)?;
    Document::from_json(&bytes).map_err(|source| Error::Vex {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// Every OpenVEX document (`*.json`) in `dir`, in file-name order, with its path; none when
/// the directory does not exist. One that does not read is an error: a statement that cannot be
/// read must not silently stop suppressing, nor be published.
pub fn vex_documents(dir: &Path) -> Result<Vec<(PathBuf, Document)>, Error> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().and_then(|e| e.to_str()) == Some("json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| read_vex(&p).map(|d| (p, d)))
        .collect()
}

/// The documents in `dir` about `product`, or about a package URL prefix of one of `sbom`'s
/// components.
pub fn product_vex(
    dir: &Path,
    product: &str,
    sbom: &Sbom,
) -> Result<Vec<(PathBuf, Document)>, Error> {
    let purls: Vec<&str> = sbom
        .components()
        .filter_map(|c| c.purl.as_ref().map(|p| p.0.as_str()))
        .collect();
    Ok(vex_documents(dir)?
        .into_iter()
        .filter(|(_, doc)| {
            doc.is_about(product, |prefix| {
                purls.iter().any(|p| vex::purl_has_prefix(p, prefix))
            })
        })
        .collect())
}
