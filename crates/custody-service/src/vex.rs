//! The supplier's VEX statements: what a vulnerability means for a product, as OpenVEX v0.2.0
//! documents that the scan and the release gate honour.

use std::path::{Path, PathBuf};

use custody_site::fs::write_atomic;
use custody_vuln::vex::{Document, Justification, Product, Statement, Status, Vulnerability};
use serde::Serialize;

use crate::Error;
use crate::env::Clock;

/// A product's default VEX file, `.custody/vex/<product>.openvex.json`. Names that could leave
/// the directory are refused, since the name becomes a path.
pub fn default_file(product: &str) -> Result<PathBuf, Error> {
    let safe = !product.is_empty()
        && product != "."
        && product != ".."
        && product
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'));
    if !safe {
        return Err(Error::ProductNotAFileName {
            product: product.to_owned(),
        });
    }
    Ok(Path::new(".custody/vex").join(format!("{product}.openvex.json")))
}

/// The OpenVEX status named `s`.
pub fn status(s: &str) -> Result<Status, Error> {
    Status::parse(s).ok_or_else(|| Error::UnknownVexValue {
        what: "status",
        value: s.to_owned(),
    })
}

/// The OpenVEX justification named `s`.
pub fn justification(s: &str) -> Result<Justification, Error> {
    Justification::parse(s).ok_or_else(|| Error::UnknownVexValue {
        what: "justification",
        value: s.to_owned(),
    })
}

/// A statement about one product, as the server takes it.
#[derive(Debug, Clone)]
pub struct ProductStatement {
    /// The vulnerability: an advisory id or any of its aliases.
    pub id: String,
    /// What it means for the product.
    pub status: Status,
    /// Why it is not affected.
    pub justification: Option<Justification>,
    /// Free text: the impact statement, or for `affected` the action statement.
    pub statement: Option<String>,
    /// The author of a new file.
    pub author: String,
}

/// Records a statement about `product` in the project's own VEX file for it (where releases
/// and the monitor read it), one writer at a time: two statements sent at once both land.
pub fn add_in_project(
    loaded: &custody_site::config::Loaded,
    product: &str,
    new: &ProductStatement,
    clock: &dyn Clock,
) -> Result<Added, Error> {
    let file = loaded.base.join(default_file(product)?);
    let _writer = crate::sequence::writer(loaded, &crate::env::Silent)?;
    add(
        &NewStatement {
            id: new.id.clone(),
            product: product.to_owned(),
            status: new.status,
            justification: new.justification,
            statement: new.statement.clone(),
            file,
            author: new.author.clone(),
        },
        clock,
    )
}

/// A statement to record.
#[derive(Debug, Clone)]
pub struct NewStatement {
    /// The vulnerability: an advisory id or any of its aliases.
    pub id: String,
    /// The product: its name or a package URL.
    pub product: String,
    /// What it means for the product.
    pub status: Status,
    /// Why it is not affected.
    pub justification: Option<Justification>,
    /// Free text: the impact statement, or for `affected` the action statement.
    pub statement: Option<String>,
    /// The OpenVEX file to append to (created when missing).
    pub file: PathBuf,
    /// The author of a new file.
    pub author: String,
}

/// What [`add`] wrote.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct Added {
    /// The file.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub file: PathBuf,
    /// The document's `@id`.
    pub document: String,
    /// Its version now.
    pub version: u64,
    /// How many statements it holds.
    pub statements: usize,
}

/// Appends a statement to its OpenVEX file, creating the file (a fresh `@id`, version 1) when
/// missing; every change bumps the document's version. The statement is validated before
/// anything is written, so a refused one never creates a file.
pub fn add(new: &NewStatement, clock: &dyn Clock) -> Result<Added, Error> {
    let now = clock.now().to_string();
    let (impact_statement, action_statement) = match new.status {
        Status::Affected => (None, new.statement.clone()),
        _ => (new.statement.clone(), None),
    };
    let statement = Statement {
        vulnerability: Vulnerability {
            name: new.id.clone(),
            aliases: Vec::new(),
        },
        products: vec![Product {
            id: new.product.clone(),
            subcomponents: Vec::new(),
        }],
        status: new.status,
        justification: new.justification,
        impact_statement,
        action_statement,
        timestamp: Some(now.clone()),
    };
    let file = &new.file;
    let mut doc = if file.exists() {
        crate::inputs::read_vex(file)?
    } else {
        let seed = format!(
            "{}|{}|{now}|{}",
            new.product,
            file.display(),
            std::process::id()
        );
        let id = custody_crypto::Sha256Digest::of(seed.as_bytes()).to_hex();
        let mut d = Document::new(
            format!("urn:custody:vex:{id}"),
            new.author.clone(),
            now.clone(),
        );
        d.tooling = Some(format!("custody {}", env!("CARGO_PKG_VERSION")));
        // `push` bumps the version, so a new file with one statement is version 1.
        d.version = 0;
        d
    };
    doc.push(statement, now).map_err(|source| Error::Vex {
        path: file.clone(),
        source: Box::new(source),
    })?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write_atomic(file, (doc.to_json() + "\n").as_bytes())?;
    Ok(Added {
        file: file.clone(),
        document: doc.id.clone(),
        version: doc.version,
        statements: doc.statements.len(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::env::FixedClock;

    fn statement(
        file: PathBuf,
        status: Status,
        justification: Option<Justification>,
    ) -> NewStatement {
        NewStatement {
            id: "RUSTSEC-2021-0003".into(),
            product: "app".into(),
            status,
            justification,
            statement: None,
            file,
            author: "test".into(),
        }
    }

    #[test]
    fn product_names_that_would_leave_the_directory_are_refused() {
        for bad in ["", ".", "..", "../x", "a/b", "a\\b"] {
            let err = default_file(bad).unwrap_err();
            assert!(
                matches!(&err, Error::ProductNotAFileName { product } if product == bad),
                "{bad:?}"
            );
        }
        assert_eq!(
            default_file("app").unwrap(),
            Path::new(".custody/vex/app.openvex.json")
        );
    }

    #[test]
    fn statements_append_and_a_refused_one_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vex/app.openvex.json");
        let clock = FixedClock("2026-12-01T00:00:00Z".parse().unwrap());
        // not_affected with neither a justification nor an impact statement breaks OpenVEX.
        let err = add(&statement(file.clone(), Status::NotAffected, None), &clock).unwrap_err();
        assert!(matches!(err, Error::Vex { .. }), "{err}");
        assert!(!file.exists(), "a refused statement creates no file");

        let first = add(
            &statement(
                file.clone(),
                Status::NotAffected,
                Some(Justification::VulnerableCodeNotInExecutePath),
            ),
            &clock,
        )
        .unwrap();
        assert_eq!((first.version, first.statements), (1, 1));
        let second = add(&statement(file.clone(), Status::Affected, None), &clock).unwrap();
        assert_eq!((second.version, second.statements), (2, 2));
        assert_eq!(second.document, first.document, "the same document grows");
    }
}
