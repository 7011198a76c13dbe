//! RubyGems' `Gem::Version`.
//!
//! Follows `rubygems/version.rb`: the accepted shape is
//! `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`, a `-` stands
//! for `.pre.`, segments are runs of digits or of letters, and comparison
//! uses the canonical segments (trailing zeros dropped from the release part
//! and from the pre-release part) where a letter segment marks a pre-release
//! and so sorts below any number.

use std::cmp::Ordering;
use std::fmt;

use crate::Error;

use super::VersionScheme;
use super::digits::Digits;

/// A RubyGems version; equality is RubyGems' (`1.0 == 1.0.0`).
#[derive(Debug, Clone)]
pub struct GemVersion {
    original: Box<str>,
    canonical: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Num(Digits),
    Str(Box<str>),
}

fn invalid(s: &str, rule: &'static str) -> Error {
    Error::InvalidVersion {
        scheme: VersionScheme::RubyGems,
        version: s.to_owned(),
        rule,
    }
}

impl GemVersion {
    /// Parses a gem version.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        if t.is_empty() {
            return Err(invalid(s, "a gem version must not be empty"));
        }
        let (release, pre) = match t.split_once('-') {
            Some((r, p)) => (r, Some(p)),
            None => (t, None),
        };
        let mut rel_parts = release.split('.');
        if !rel_parts
            .next()
            .is_some_and(|first| !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid(s, "a gem version starts with digits"));
        }
        if !rel_parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return Err(invalid(
                s,
                "release segments are letters and digits between dots",
            ));
        }
        if let Some(pre) = pre
            && !pre
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(invalid(
                s,
                "pre-release segments are letters, digits and '-'",
            ));
        }
        // `Gem::Version.new("1.0-rc1")` reads as "1.0.pre.rc1".
        let expanded = t.replace('-', ".pre.");
        let mut segments = Vec::new();
        let bytes = expanded.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            if bytes[i].is_ascii_digit() {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                segments.push(Segment::Num(Digits::new(&expanded[start..i])));
            } else if bytes[i].is_ascii_alphabetic() {
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                segments.push(Segment::Str(expanded[start..i].into()));
            } else {
                i += 1;
            }
        }
        Ok(Self {
            original: t.into(),
            canonical: canonical(segments),
        })
    }

    /// Whether any segment has letters (RubyGems' `prerelease?`).
    pub fn is_prerelease(&self) -> bool {
        self.canonical.iter().any(|s| matches!(s, Segment::Str(_)))
    }
}

/// `Gem::Version#canonical_segments`.
fn canonical(segments: Vec<Segment>) -> Vec<Segment> {
    let split = segments
        .iter()
        .position(|s| matches!(s, Segment::Str(_)))
        .unwrap_or(segments.len());
    let mut release = segments;
    let mut pre = release.split_off(split);
    let strip = |v: &mut Vec<Segment>| {
        while matches!(v.last(), Some(Segment::Num(d)) if d.is_zero()) {
            v.pop();
        }
    };
    strip(&mut release);
    strip(&mut pre);
    release.extend(pre);
    release
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Num(Digits::default());
        let n = self.canonical.len().max(other.canonical.len());
        for i in 0..n {
            let a = self.canonical.get(i).unwrap_or(&zero);
            let b = other.canonical.get(i).unwrap_or(&zero);
            let o = match (a, b) {
                (Segment::Num(x), Segment::Num(y)) => x.cmp(y),
                (Segment::Str(x), Segment::Str(y)) => x.cmp(y),
                (Segment::Str(_), Segment::Num(_)) => Ordering::Less,
                (Segment::Num(_), Segment::Str(_)) => Ordering::Greater,
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

impl PartialEq for GemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for GemVersion {}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for GemVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> GemVersion {
        GemVersion::parse(s).unwrap()
    }

    #[test]
    fn order_matches_rubygems() {
        // Cases from RubyGems' own documentation of Gem::Version.
        assert!(p("1.0.a") < p("1.0"));
        assert!(p("1.0.a") < p("1.0.b"));
        assert!(p("1.0.b1") < p("1.0"));
        assert!(p("1.0.0.rc1") < p("1.0.0"));
        assert!(p("0.9") < p("1.0.a"));
        assert_eq!(p("1.0"), p("1.0.0"));
        assert_eq!(p("1.0-rc1").cmp(&p("1.0.pre.rc1")), Ordering::Equal);
        assert!(p("1.10") > p("1.9"));
        assert!(p("5.2.4.3") > p("5.2.4.rc1"));
        assert!(p("2.0.0.beta1") > p("2.0.0.alpha2"));
        assert!(p("1.0.0.pre").is_prerelease());
    }

    #[test]
    fn malformed_gem_versions() {
        for bad in ["", "a1", "1..2", "1.0_1", "1.0-", "1.0 beta"] {
            assert!(
                matches!(
                    GemVersion::parse(bad),
                    Err(Error::InvalidVersion {
                        scheme: VersionScheme::RubyGems,
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}
