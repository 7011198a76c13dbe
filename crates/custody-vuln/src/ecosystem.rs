//! OSV ecosystems and their package-name rules: the one [`Ecosystem`] of custody, shared with
//! the SBOM side (see [`custody_crypto::ecosystem`] for why it lives there).

pub use custody_crypto::ecosystem::{Ecosystem, pep503_name};
