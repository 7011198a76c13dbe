//! The order of release versions, used to pick the latest release and to refuse downgrades.
//!
//! # The rule
//! - A leading `v` is ignored: `v1.2.3` is `1.2.3`.
//! - When both versions are SemVer 2.0, they are ordered by SemVer precedence (§11): a
//!   pre-release sorts before its release (`1.0.0-rc.1 < 1.0.0`), and build metadata does not
//!   change the order (`1.0.0+a == 1.0.0+b`).
//! - Otherwise (`1.4`, `2024.10`, `1.2.3.4`) the same idea applies to dotted parts: build
//!   metadata after the first `+` is ignored, a part after the first `-` marks a pre-release of
//!   the numbers before it, numeric parts compare as numbers and others as text, and with an
//!   equal prefix the shorter list is lower (`1.4 < 1.4.1`).
//!
//! ```
//! use std::cmp::Ordering;
//! use custody_attest::version::{compare, is_prerelease};
//! assert_eq!(compare("1.0.0-rc.1", "1.0.0"), Ordering::Less);
//! assert_eq!(compare("v1.2.3", "1.2.3"), Ordering::Equal);
//! assert!(is_prerelease("2.0.0-beta.2"));
//! ```

use std::cmp::Ordering;

fn strip_v(v: &str) -> &str {
    v.strip_prefix('v').unwrap_or(v)
}

/// `a` compared with `b` by the rule in the module docs.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (strip_v(a), strip_v(b));
    if let (Ok(x), Ok(y)) = (semver::Version::parse(a), semver::Version::parse(b)) {
        return x.cmp_precedence(&y);
    }
    let (release_a, pre_a) = split(a);
    let (release_b, pre_b) = split(b);
    dotted(release_a, release_b).then_with(|| match (pre_a, pre_b) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => dotted(x, y),
    })
}

/// Whether `v` is a pre-release (it has a `-` part before any build metadata).
pub fn is_prerelease(v: &str) -> bool {
    split(strip_v(v)).1.is_some()
}

/// The release numbers and the pre-release part, without build metadata.
fn split(v: &str) -> (&str, Option<&str>) {
    let v = v.split_once('+').map_or(v, |(v, _build)| v);
    match v.split_once('-') {
        Some((release, pre)) => (release, Some(pre)),
        None => (v, None),
    }
}

fn dotted(a: &str, b: &str) -> Ordering {
    let (mut pa, mut pb) = (a.split('.'), b.split('.'));
    loop {
        match (pa.next(), pb.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn a_final_release_is_above_its_release_candidates() {
        assert_eq!(compare("1.0.0", "1.0.0-rc.1"), Greater);
        assert_eq!(compare("1.0.0-rc.1", "1.0.0-rc.2"), Less);
        assert_eq!(compare("1.0.0-rc.10", "1.0.0-rc.9"), Greater);
        assert_eq!(compare("1.0.0-alpha", "1.0.0-alpha.1"), Less);
        assert_eq!(compare("0.9.9", "1.0.0-rc.1"), Less);
    }

    #[test]
    fn build_metadata_does_not_change_the_order() {
        assert_eq!(compare("1.0.0+linux", "1.0.0+mac"), Equal);
        assert_eq!(compare("1.0.1+a", "1.0.0+z"), Greater);
        assert_eq!(compare("1.0.0-rc.1+b", "1.0.0"), Less);
    }

    #[test]
    fn a_leading_v_is_ignored() {
        assert_eq!(compare("v1.2.3", "1.2.3"), Equal);
        assert_eq!(compare("v1.10.0", "v1.9.3"), Greater);
        assert!(is_prerelease("v2.0.0-beta.1"));
    }

    #[test]
    fn versions_that_are_not_semver_compare_by_dotted_parts() {
        assert_eq!(compare("1.4", "1.4.1"), Less);
        assert_eq!(compare("2024.10", "2024.9"), Greater);
        assert_eq!(compare("v2", "1.99"), Greater);
        assert_eq!(compare("1.2.3.4", "1.2.3.4"), Equal);
        assert_eq!(compare("1.4-rc1", "1.4"), Less);
        assert_eq!(compare("1.4+b7", "1.4+b8"), Equal);
        assert!(is_prerelease("1.4-rc1"));
        assert!(!is_prerelease("1.4+build-7"));
        assert!(!is_prerelease("1.0.0"));
    }
}
