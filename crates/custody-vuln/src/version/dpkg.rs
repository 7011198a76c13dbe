//! Debian package versions, as `dpkg --compare-versions` orders them
//! (Debian Policy §5.6.12): `[epoch:]upstream[-revision]`, compared by
//! epoch, then upstream, then revision, each by alternating non-digit runs
//! (letters before other characters, `~` before everything, even the end)
//! and digit runs by value.

use std::cmp::Ordering;
use std::fmt;

use crate::Error;

use super::VersionScheme;

/// A dpkg version.
#[derive(Debug, Clone)]
pub struct DpkgVersion {
    original: Box<str>,
    epoch: u64,
    upstream: Box<str>,
    revision: Box<str>,
}

fn invalid(s: &str, rule: &'static str) -> Error {
    Error::InvalidVersion {
        scheme: VersionScheme::Dpkg,
        version: s.to_owned(),
        rule,
    }
}

impl DpkgVersion {
    /// Parses a dpkg version with the checks of dpkg's `parseversion`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        if t.is_empty() {
            return Err(invalid(s, "a version must not be empty"));
        }
        let (epoch, rest) = match t.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(s, "the epoch is a decimal number"));
                }
                let epoch = e
                    .parse::<u64>()
                    .map_err(|_| invalid(s, "the epoch fits in 64 bits"))?;
                (epoch, rest)
            }
            None => (0, t),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if !upstream.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return Err(invalid(s, "the upstream version starts with a digit"));
        }
        if !upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~-:".contains(&b))
        {
            return Err(invalid(
                s,
                "upstream characters are alphanumerics and . + ~ - :",
            ));
        }
        if rest.contains('-') && revision.is_empty() {
            return Err(invalid(s, "the revision after '-' must not be empty"));
        }
        if !revision
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
        {
            return Err(invalid(
                s,
                "revision characters are alphanumerics and . + ~",
            ));
        }
        Ok(Self {
            original: t.into(),
            epoch,
            upstream: upstream.into(),
            revision: revision.into(),
        })
    }
}

/// dpkg's `order()`: digits and the end are 0, `~` is below everything,
/// letters keep their code, and other characters sort after all letters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp()`.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DpkgVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DpkgVersion {}

impl fmt::Display for DpkgVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> DpkgVersion {
        DpkgVersion::parse(s).unwrap()
    }

    #[test]
    fn tilde_sorts_before_everything() {
        // Debian Policy §5.6.12's example chain.
        let chain = ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"];
        for w in chain.windows(2) {
            assert!(p(w[0]) < p(w[1]), "{} < {}", w[0], w[1]);
        }
        assert!(p("2.30-1~deb11u1") < p("2.30-1"));
    }

    #[test]
    fn epochs_dominate() {
        assert!(p("1:0.1") > p("9.9"));
        assert_eq!(p("0:1.0"), p("1.0"));
        assert!(p("1:2.30-1") < p("2:0.1"));
    }

    #[test]
    fn digits_by_value_and_revisions() {
        assert!(p("1.10") > p("1.9"));
        assert_eq!(p("1.01"), p("1.1"));
        assert_eq!(p("1.0-0"), p("1.0"));
        assert!(p("1.0-1") < p("1.0-2"));
        assert!(p("1.0-1") < p("1.0-1+deb10u1"));
        assert!(p("1.0+dfsg-1") > p("1.0-1"));
        assert!(p("1.2.3-4ubuntu0.1") > p("1.2.3-4"));
        // letters sort before non-letters
        assert!(p("1.0a") < p("1.0+"));
    }

    #[test]
    fn malformed_dpkg_versions() {
        for bad in [
            "",
            "a1.0",
            ":1.0",
            "x:1.0",
            "1.0-",
            "1.0 1",
            "1.0_1",
            "99999999999999999999999:1",
        ] {
            assert!(
                matches!(
                    DpkgVersion::parse(bad),
                    Err(Error::InvalidVersion {
                        scheme: VersionScheme::Dpkg,
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}
