use std::path::PathBuf;

/// Everything that can go wrong reading a lockfile or an SBOM, or writing an SBOM.
///
/// `file` is the name the caller gave for the input (usually its path); `line` is 1-based.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{file}: {size} bytes is over the limit of {limit} bytes")]
    TooLarge { file: String, size: u64, limit: u64 },

    #[error("{file}:{line}: not valid TOML: {message}")]
    InvalidToml {
        file: String,
        line: usize,
        message: String,
    },

    #[error("{file}:{line}: not valid YAML: {message}")]
    InvalidYaml {
        file: String,
        line: usize,
        message: String,
    },

    #[error("{file}:{line}:{column}: not valid JSON: {message}")]
    InvalidJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{file}: not valid UTF-8 at byte {offset}")]
    NotUtf8 { file: String, offset: usize },

    #[error("{file}: lockfile version {found} is not supported (supported: {supported})")]
    UnsupportedLockfileVersion {
        file: String,
        found: String,
        supported: &'static str,
    },

    #[error("{file}:{line}: package {package}: field `{field}` is missing or empty")]
    MissingField {
        file: String,
        line: usize,
        package: String,
        field: &'static str,
    },

    #[error(
        "{file}:{line}: package {package} depends on `{reference}`, which no package in the file matches"
    )]
    UnresolvedDependency {
        file: String,
        line: usize,
        package: String,
        reference: String,
    },

    #[error(
        "{file}:{line}: package {package} depends on `{reference}`, which matches {count} packages"
    )]
    AmbiguousDependency {
        file: String,
        line: usize,
        package: String,
        reference: String,
        count: usize,
    },

    #[error("{file}:{line}: package {name} {version} is listed twice (first at line {first_line})")]
    DuplicatePackage {
        file: String,
        line: usize,
        first_line: usize,
        name: String,
        version: String,
    },

    #[error("{file}:{line}: requirement `{requirement}` is not pinned to one version with `==`")]
    RequirementNotPinned {
        file: String,
        line: usize,
        requirement: String,
    },

    #[error(
        "{file}:{line}: `{option}` names packages in another file or directory; read that one instead"
    )]
    UnsupportedRequirementOption {
        file: String,
        line: usize,
        option: String,
    },

    #[error(
        "{file}:{line}: `{text}` is not an entry key, a field or a dependency of yarn lockfile v1"
    )]
    InvalidYarnLock {
        file: String,
        line: usize,
        text: String,
    },

    #[error(
        "{file}:{line}: `{text}` is not a section, a source field, a spec or a dependency of a Gemfile.lock"
    )]
    InvalidGemfileLock {
        file: String,
        line: usize,
        text: String,
    },

    #[error("{file}:{line}: `{text}` is not `module path version` or a go.mod directive")]
    InvalidGoMod {
        file: String,
        line: usize,
        text: String,
    },

    #[error("{file}:{line}: `{text}` is not `module version hash` of a go.sum")]
    InvalidGoSum {
        file: String,
        line: usize,
        text: String,
    },

    #[error("{file}: {reason}")]
    NoDependencyData { file: String, reason: &'static str },

    #[error("{file}: cannot read its `cargo auditable` data: {message}")]
    AuditableData { file: String, message: String },

    #[error("{file}: {what} is malformed at byte {offset}")]
    MalformedBinary {
        file: String,
        what: &'static str,
        offset: usize,
    },

    #[error("{file}:{line}: `{text}` is neither `Field: value` nor a continuation of a field")]
    InvalidDeb822 {
        file: String,
        line: usize,
        text: String,
    },

    #[error(
        "{file}:{line}: `{name}` is not a Debian package name: `{character}` is not allowed there (a lower-case letter or digit first, then lower-case letters, digits, `-`, `+`, `.` or `_`)"
    )]
    InvalidDebianPackageName {
        file: String,
        line: usize,
        name: String,
        /// The first character that breaks the rule.
        character: char,
    },

    #[error("{file}:{line}: key `{key}` is repeated (first at line {first_line})")]
    DuplicateKey {
        file: String,
        line: usize,
        first_line: usize,
        key: String,
    },

    #[error(
        "{file}:{line}: package {package}: source `{source_value}` is not registry+, sparse+, git+ or path"
    )]
    UnknownSource {
        file: String,
        line: usize,
        package: String,
        source_value: String,
    },

    #[error("{file}:{line}: package {package}: checksum `{value}` is not {expected}")]
    InvalidChecksum {
        file: String,
        line: usize,
        package: String,
        value: String,
        expected: &'static str,
    },

    #[error("{file}:{line}: package {package}: cannot make a purl from name `{name}`: {source}")]
    InvalidPurlName {
        file: String,
        line: usize,
        package: String,
        name: String,
        #[source]
        source: Box<packageurl::Error>,
    },

    #[error("{}: no lockfile this crate reads (Cargo.lock, package-lock.json, npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, uv.lock, Pipfile.lock, poetry.lock, Gemfile.lock, composer.lock, go.mod, requirements*.txt, var/lib/dpkg/status)", dir.display())]
    NoLockfile { dir: PathBuf },

    #[error("{}: file name is not a lockfile this crate reads", path.display())]
    UnknownLockfile { path: PathBuf },

    #[error("{file}: neither CycloneDX (`bomFormat`) nor SPDX (`spdxVersion`) JSON")]
    UnknownSbomFormat { file: String },

    #[error("{file}: {format} version `{found}` is not supported (supported: {supported})")]
    UnsupportedSbomVersion {
        file: String,
        format: &'static str,
        found: String,
        supported: &'static str,
    },

    #[error("{file}: `{reference}` is used in a relationship but no element has that identifier")]
    DanglingReference { file: String, reference: String },

    #[error("{file}: element identifier `{reference}` is used by two elements")]
    DuplicateReference { file: String, reference: String },

    #[error("{file}: purl `{purl}` does not parse: {source}")]
    InvalidPurl {
        file: String,
        purl: String,
        #[source]
        source: Box<packageurl::Error>,
    },

    #[error("{file}: a component has no name")]
    NamelessComponent { file: String },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// 1-based line of a byte offset in `text`.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Line numbers of byte offsets, for inputs where many positions are looked up.
pub(crate) struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        LineIndex {
            newlines: text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// 1-based line of `offset`.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&n| n < offset) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_agrees_with_counting() {
        let text = "a\nbb\n\nccc";
        let idx = LineIndex::new(text);
        for offset in 0..=text.len() {
            assert_eq!(idx.line(offset), line_of_offset(text, offset), "{offset}");
        }
    }
}
