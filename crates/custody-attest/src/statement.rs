//! in-toto Statement v1: subjects with digests, a predicate type, a predicate.

use custody_crypto::Digests;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sigstore_types::{Digest, Sha256Hash, Sha512Hash, Statement, Subject};

use crate::Error;

/// The subject for an artifact, with every digest we computed.
pub fn subject(name: &str, digests: &Digests) -> Subject {
    let mut digest = Digest::default();
    digest.sha256 = digests.sha256.map(|d| Sha256Hash::new(d.0));
    digest.sha512 = digests.sha512.map(|d| Sha512Hash::new(d.0));
    Subject::new(name, digest)
}

/// Serialise a Statement v1 around a typed predicate.
pub fn to_json<P: Serialize>(
    subjects: Vec<Subject>,
    predicate_type: &str,
    predicate: &P,
) -> Result<Vec<u8>, Error> {
    let predicate = serde_json::to_value(predicate).map_err(Error::json("predicate"))?;
    serde_json::to_vec(&Statement::new(subjects, predicate_type, predicate))
        .map_err(Error::json("statement"))
}

/// Parse a DSSE payload as a Statement v1 whose predicate is of `predicate_type`.
pub fn parse<P: DeserializeOwned>(
    payload: &[u8],
    predicate_type: &'static str,
) -> Result<(Statement, P), Error> {
    let statement: Statement = serde_json::from_slice(payload).map_err(Error::json("statement"))?;
    if statement.type_ != Statement::TYPE_V1 {
        return Err(Error::StatementType {
            found: statement.type_,
            expected: Statement::TYPE_V1,
        });
    }
    if statement.predicate_type != predicate_type {
        return Err(Error::PredicateType {
            found: statement.predicate_type,
            expected: predicate_type,
        });
    }
    let predicate =
        serde_json::from_value(statement.predicate.clone()).map_err(Error::json("predicate"))?;
    Ok((statement, predicate))
}

/// The subject naming this artifact: SHA-256 must match, and SHA-512 too where both sides
/// have one (a subject cannot be satisfied by one digest while contradicting the other).
pub fn find_subject<'s>(
    statement: &'s Statement,
    artifact: &Digests,
) -> Result<&'s Subject, Error> {
    let sha256 = artifact.sha256.map(|d| Sha256Hash::new(d.0));
    let subject = statement
        .subject
        .iter()
        .find(|s| s.digest.sha256.is_some() && s.digest.sha256 == sha256)
        .ok_or_else(|| Error::SubjectMismatch {
            sha256: artifact.sha256.map(|d| d.to_hex()).unwrap_or_default(),
            subjects: statement.subject.iter().map(|s| s.name.clone()).collect(),
        })?;
    if let (Some(theirs), Some(ours)) = (&subject.digest.sha512, &artifact.sha512)
        && theirs.as_bytes() != &ours.0
    {
        return Err(Error::Sha512Mismatch {
            name: subject.name.clone(),
        });
    }
    Ok(subject)
}
