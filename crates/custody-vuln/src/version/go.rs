//! Go module and toolchain versions.
//!
//! OSV's Go data spells versions without `v` (`1.2.3`, pseudo-versions as
//! `0.0.0-20200101000000-abcdef123456`), go.mod and `go version -m` spell
//! them with it, and the standard library is versioned by toolchain tags
//! (`go1.21`, `go1.21rc2`). All of them map onto SemVer: pseudo-versions are
//! SemVer pre-releases by design, so their order falls out of SemVer's.

use crate::Error;

use super::VersionScheme;

pub(super) fn parse(s: &str) -> Result<semver::Version, Error> {
    let t = s.trim();
    let t = t
        .strip_prefix("go")
        .or_else(|| t.strip_prefix('v'))
        .unwrap_or(t);
    let candidate = toolchain_to_semver(t).unwrap_or_else(|| t.to_owned());
    let mut v = semver::Version::parse(&candidate).map_err(|source| Error::InvalidSemVer {
        version: s.to_owned(),
        source,
    })?;
    // Go ignores build metadata (`+incompatible`) in ordering and equality.
    v.build = semver::BuildMetadata::EMPTY;
    Ok(v)
}

/// `1.21` -> `1.21.0`, `1.21rc2` -> `1.21.0-rc.2`, `1.9beta1` -> `1.9.0-beta.1`.
/// Returns `None` for anything that is not a short toolchain tag, so full
/// SemVer versions go to the SemVer parser untouched.
fn toolchain_to_semver(t: &str) -> Option<String> {
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (release, pre) = t.split_at(split);
    let parts: Vec<&str> = release.split('.').collect();
    if parts.len() >= 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut out = parts.join(".");
    for _ in parts.len()..3 {
        out.push_str(".0");
    }
    if pre.is_empty() {
        return Some(out);
    }
    let (word, num) = pre.split_at(pre.find(|c: char| c.is_ascii_digit())?);
    if !matches!(word, "rc" | "beta" | "alpha") || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{out}-{word}.{num}"))
}

impl VersionScheme {
    /// Whether `name` is Go's standard library as OSV names it.
    pub fn is_go_stdlib(name: &str) -> bool {
        name == "stdlib" || name == "toolchain"
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::*;

    fn p(s: &str) -> semver::Version {
        parse(s).unwrap()
    }

    #[test]
    fn v_prefix_is_optional() {
        assert_eq!(p("v1.2.3"), p("1.2.3"));
    }

    #[test]
    fn pseudo_versions_order_before_their_base() {
        // From GO-2020-0004 (fixed "0.0.0-20200131131040-063a3fb69896").
        let pseudo = p("v0.0.0-20200131131040-063a3fb69896");
        assert!(pseudo < p("0.0.1"));
        assert!(p("0.0.0-20190101000000-aaaaaaaaaaaa") < pseudo);
        // A pre-release-based pseudo-version sorts after its base pre-release.
        assert!(p("v1.2.3-pre.0.20200101000000-abcdefabcdef") > p("1.2.3-pre"));
    }

    #[test]
    fn incompatible_build_is_ignored() {
        assert_eq!(
            p("v2.0.0+incompatible").cmp_precedence(&p("2.0.0")),
            Ordering::Equal
        );
    }

    #[test]
    fn toolchain_tags() {
        assert_eq!(p("go1.21"), p("1.21.0"));
        assert_eq!(p("go1.21rc2"), p("1.21.0-rc.2"));
        assert!(p("go1.21rc2") < p("1.21.0"));
        // OSV's stdlib ranges open a minor line with "-0".
        assert!(p("1.18.0-0") < p("go1.18beta1"));
        assert!(parse("go1.x").is_err());
        assert!(parse("").is_err());
    }
}
