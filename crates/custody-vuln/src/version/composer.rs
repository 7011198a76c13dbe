//! Composer (Packagist) versions.
//!
//! Composer first normalises (`Composer\Semver\VersionParser::normalize`:
//! optional `v`, one to four numeric parts padded to four, a stability
//! suffix among stable, alpha/a, beta/b, RC, patch/pl/p with an optional
//! number, and an optional `-dev`), then compares with PHP's
//! `version_compare`, whose special forms order as
//! dev < alpha = a < beta = b < RC = rc < (a number) < pl = p.
//! Branch names (`dev-main`, `1.x-dev`) have no order and are rejected.

use std::cmp::Ordering;
use std::fmt;

use crate::Error;

use super::VersionScheme;
use super::digits::Digits;

/// A Composer version, kept as the parts PHP's `version_compare` sees.
#[derive(Debug, Clone)]
pub struct ComposerVersion {
    original: Box<str>,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Num(Digits),
    /// PHP's special-form order; `NUMBER_RANK` is where a number sits.
    Special(i8),
}

const NUMBER_RANK: i8 = 4;

fn invalid(s: &str, rule: &'static str) -> Error {
    Error::InvalidVersion {
        scheme: VersionScheme::Composer,
        version: s.to_owned(),
        rule,
    }
}

/// `compare_special_version_forms` in PHP's `versioning.c`: a part is
/// matched by prefix against the table in order; no match ranks lowest.
fn special_rank(part: &str) -> i8 {
    const FORMS: [(&str, i8); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", NUMBER_RANK),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| part.starts_with(name))
        .map_or(-1, |&(_, rank)| rank)
}

impl ComposerVersion {
    /// Parses and normalises a Composer version.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        if t.is_empty() {
            return Err(invalid(s, "a Composer version must not be empty"));
        }
        if t.starts_with("dev-") || t.ends_with(".x-dev") || t.contains('*') {
            return Err(invalid(
                s,
                "branch names and wildcards have no version order",
            ));
        }
        // Build metadata (`+...`) is dropped by Composer's normalisation.
        let t = t.split('+').next().unwrap_or(t);
        let numeric_end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (numeric, rest) = t.split_at(numeric_end);
        let numeric = numeric.strip_suffix('.').unwrap_or(numeric);
        let nums: Vec<&str> = numeric.split('.').collect();
        if nums.len() > 4 || nums.iter().any(|n| n.is_empty()) {
            return Err(invalid(s, "one to four numeric parts separated by dots"));
        }
        let mut parts: Vec<Part> = nums.iter().map(|n| Part::Num(Digits::new(n))).collect();
        while parts.len() < 4 {
            parts.push(Part::Num(Digits::default()));
        }
        parts.extend(parse_stability(s, rest)?);
        Ok(Self {
            original: s.trim().into(),
            parts,
        })
    }
}

/// `[._-]?(stable|beta|b|RC|rc|alpha|a|patch|pl|p)([.-]?\d+)*` then `[.-]?dev`.
fn parse_stability(s: &str, rest: &str) -> Result<Vec<Part>, Error> {
    let mut out = Vec::new();
    let lower = rest.to_ascii_lowercase();
    let mut r = lower.trim_start_matches(['.', '_', '-']);
    if r.is_empty() {
        return Ok(out);
    }
    const WORDS: [(&str, Option<&str>); 10] = [
        ("stable", None),
        ("alpha", Some("alpha")),
        ("beta", Some("beta")),
        ("patch", Some("pl")),
        ("rc", Some("RC")),
        ("pl", Some("pl")),
        ("dev", Some("dev")),
        ("a", Some("alpha")),
        ("b", Some("beta")),
        ("p", Some("pl")),
    ];
    let Some(&(word, form)) = WORDS.iter().find(|(w, _)| r.starts_with(w)) else {
        return Err(invalid(
            s,
            "stability is one of stable, alpha, beta, RC, patch, dev",
        ));
    };
    r = &r[word.len()..];
    if let Some(form) = form {
        out.push(Part::Special(special_rank(form)));
    }
    if word == "dev" {
        return if r.is_empty() {
            Ok(out)
        } else {
            Err(invalid(s, "nothing may follow -dev"))
        };
    }
    loop {
        let trimmed = r.trim_start_matches(['.', '-']);
        let digits_end = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        if digits_end == 0 {
            break;
        }
        out.push(Part::Num(Digits::new(&trimmed[..digits_end])));
        r = &trimmed[digits_end..];
    }
    let r = r.trim_start_matches(['.', '-', '_']);
    match r {
        "" => Ok(out),
        "dev" => {
            out.push(Part::Special(special_rank("dev")));
            Ok(out)
        }
        _ => Err(invalid(
            s,
            "a stability may be followed only by numbers and -dev",
        )),
    }
}

fn cmp_part(a: &Part, b: &Part) -> Ordering {
    match (a, b) {
        (Part::Num(x), Part::Num(y)) => x.cmp(y),
        (Part::Num(_), Part::Special(r)) => NUMBER_RANK.cmp(r),
        (Part::Special(r), Part::Num(_)) => r.cmp(&NUMBER_RANK),
        (Part::Special(x), Part::Special(y)) => x.cmp(y),
    }
}

impl Ord for ComposerVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.parts.iter().zip(&other.parts) {
            let o = cmp_part(a, b);
            if o != Ordering::Equal {
                return o;
            }
        }
        // PHP: a longer version wins if its next part is a number, otherwise
        // that part is compared with the number placeholder "#".
        let n = self.parts.len().min(other.parts.len());
        match (self.parts.get(n), other.parts.get(n)) {
            (Some(Part::Num(_)), _) => Ordering::Greater,
            (_, Some(Part::Num(_))) => Ordering::Less,
            (Some(Part::Special(r)), _) => r.cmp(&NUMBER_RANK),
            (_, Some(Part::Special(r))) => NUMBER_RANK.cmp(r),
            (None, None) => Ordering::Equal,
        }
    }
}

impl PartialOrd for ComposerVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ComposerVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ComposerVersion {}

impl fmt::Display for ComposerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ComposerVersion {
        ComposerVersion::parse(s).unwrap()
    }

    #[test]
    fn normalisation_and_order() {
        assert_eq!(p("v1.0"), p("1.0.0.0"));
        assert_eq!(p("1.0.0-stable"), p("1.0.0"));
        assert_eq!(p("1.0.0-b2"), p("1.0.0-beta2"));
        assert_eq!(p("1.0.0-patch1"), p("1.0.0-pl1"));
        let chain = [
            "1.0.0-dev",
            "1.0.0-alpha1",
            "1.0.0-alpha2",
            "1.0.0-beta",
            "1.0.0-RC1",
            "1.0.0-RC2",
            "1.0.0",
            "1.0.0-p1",
            "1.0.1",
            "1.0.10",
        ];
        for w in chain.windows(2) {
            assert!(p(w[0]) < p(w[1]), "{} < {}", w[0], w[1]);
        }
        assert!(p("1.0.0-beta2-dev") < p("1.0.0-beta2"));
        assert!(p("2.0.0.1") > p("2.0"));
    }

    #[test]
    fn malformed_composer_versions() {
        for bad in [
            "",
            "dev-main",
            "1.x-dev",
            "1.2.3.4.5",
            "1..2",
            "1.0-foo",
            "1.0-beta1x",
            "1.0-dev1",
        ] {
            assert!(
                matches!(
                    ComposerVersion::parse(bad),
                    Err(Error::InvalidVersion {
                        scheme: VersionScheme::Composer,
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}
