//! Maven versions, per the "Version Order Specification" of Maven's
//! `ComparableVersion` (maven.apache.org/pom.html#version-order-specification).
//!
//! Tokens are split on `.`, `-` and digit/letter transitions (a transition
//! counts as `-`); trailing "null" tokens (`0`, `""`, `final`, `ga`,
//! `release`) are trimmed at the end and before every `-`; tokens compare
//! with `.qualifier` = `-qualifier` < `-number` < `.number`, and the known
//! qualifiers in the order alpha < beta < milestone < rc = cr < snapshot <
//! "" = final = ga = release < sp, then others alphabetically.

use std::cmp::Ordering;
use std::fmt;

use crate::Error;

use super::VersionScheme;
use super::digits::Digits;

/// A Maven version.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    original: Box<str>,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Dot,
    Hyphen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Num(Digits),
    Qualifier(Box<str>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    sep: Sep,
    value: Value,
}

impl Value {
    fn is_null(&self) -> bool {
        match self {
            Self::Num(d) => d.is_zero(),
            Self::Qualifier(q) => qualifier_rank(q) == NULL_RANK,
        }
    }
}

const NULL_RANK: u8 = 5;

fn qualifier_rank(q: &str) -> u8 {
    match q {
        "alpha" => 0,
        "beta" => 1,
        "milestone" => 2,
        "rc" | "cr" => 3,
        "snapshot" => 4,
        "" | "final" | "ga" | "release" => NULL_RANK,
        "sp" => 6,
        _ => 7,
    }
}

impl MavenVersion {
    /// Parses a Maven version. Maven accepts nearly any string; this rejects
    /// only the empty string and characters outside `[A-Za-z0-9._+-]`, since
    /// such a "version" is more likely a broken input than a release.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::InvalidVersion {
                scheme: VersionScheme::Maven,
                version: s.to_owned(),
                rule: "a Maven version must not be empty",
            });
        }
        if !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
        {
            return Err(Error::InvalidVersion {
                scheme: VersionScheme::Maven,
                version: s.to_owned(),
                rule: "Maven version characters are letters, digits, '.', '-', '_' and '+'",
            });
        }
        let lower = t.to_ascii_lowercase();
        let mut raw: Vec<(Sep, String)> = Vec::new();
        let mut sep = Sep::Dot;
        let mut cur = String::new();
        let mut prev_digit: Option<bool> = None;
        let bytes = lower.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'.' | b'-' | b'_' | b'+' => {
                    raw.push((sep, std::mem::take(&mut cur)));
                    sep = if b == b'.' { Sep::Dot } else { Sep::Hyphen };
                    prev_digit = None;
                }
                _ => {
                    let digit = b.is_ascii_digit();
                    if prev_digit.is_some_and(|p| p != digit) {
                        raw.push((sep, std::mem::take(&mut cur)));
                        sep = Sep::Hyphen;
                    }
                    // "a1", "b2", "m3" mean alpha-1, beta-2, milestone-3.
                    cur.push(b as char);
                    if !digit
                        && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                        && (cur == "a" || cur == "b" || cur == "m")
                    {
                        cur = match cur.as_str() {
                            "a" => "alpha",
                            "b" => "beta",
                            _ => "milestone",
                        }
                        .to_owned();
                    }
                    prev_digit = Some(digit);
                }
            }
        }
        raw.push((sep, cur));
        let mut tokens: Vec<Token> = raw
            .into_iter()
            .map(|(sep, text)| Token {
                sep,
                value: if text.is_empty() {
                    Value::Num(Digits::default())
                } else if text.bytes().all(|b| b.is_ascii_digit()) {
                    Value::Num(Digits::new(&text))
                } else {
                    Value::Qualifier(text.into())
                },
            })
            .collect();
        trim_nulls(&mut tokens);
        Ok(Self {
            original: t.into(),
            tokens,
        })
    }
}

/// Drops null tokens at the end and before each `-`, scanning from the end
/// so that trimming one group can expose nulls of the group before it.
fn trim_nulls(tokens: &mut Vec<Token>) {
    while tokens.len() > 1 && tokens.last().is_some_and(|t| t.value.is_null()) {
        tokens.pop();
    }
    let mut i = tokens.len();
    while i > 1 {
        i -= 1;
        if tokens[i].sep == Sep::Hyphen {
            while i > 1 && tokens[i - 1].value.is_null() {
                tokens.remove(i - 1);
                i -= 1;
            }
        }
    }
}

fn null_like(t: &Token) -> Token {
    Token {
        sep: t.sep,
        value: match t.value {
            Value::Num(_) => Value::Num(Digits::default()),
            Value::Qualifier(_) => Value::Qualifier("".into()),
        },
    }
}

fn kind_rank(t: &Token) -> u8 {
    match (&t.value, t.sep) {
        (Value::Qualifier(_), _) => 0,
        (Value::Num(_), Sep::Hyphen) => 1,
        (Value::Num(_), Sep::Dot) => 2,
    }
}

fn cmp_token(a: &Token, b: &Token) -> Ordering {
    kind_rank(a)
        .cmp(&kind_rank(b))
        .then_with(|| match (&a.value, &b.value) {
            (Value::Num(x), Value::Num(y)) => x.cmp(y),
            (Value::Qualifier(x), Value::Qualifier(y)) => {
                qualifier_rank(x).cmp(&qualifier_rank(y)).then_with(|| {
                    if qualifier_rank(x) == 7 {
                        x.cmp(y)
                    } else {
                        Ordering::Equal
                    }
                })
            }
            // Unreachable in practice: equal kind ranks imply equal value kinds.
            _ => Ordering::Equal,
        })
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.tokens.len().max(other.tokens.len());
        for i in 0..n {
            let o = match (self.tokens.get(i), other.tokens.get(i)) {
                (Some(a), Some(b)) => cmp_token(a, b),
                (Some(a), None) => cmp_token(a, &null_like(a)),
                (None, Some(b)) => cmp_token(&null_like(b), b),
                (None, None) => Ordering::Equal,
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MavenVersion {}

impl fmt::Display for MavenVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> MavenVersion {
        MavenVersion::parse(s).unwrap()
    }

    #[test]
    fn examples_from_the_version_order_specification() {
        // Equalities listed in Maven's specification.
        for (a, b) in [
            ("1", "1.0"),
            ("1.ga", "1"),
            ("1-ga", "1"),
            ("1-0", "1"),
            ("1.0.0", "1"),
            ("1-final", "1"),
            ("1.0-1", "1-1"),
        ] {
            assert_eq!(p(a), p(b), "{a} == {b}");
        }
        // Orderings listed in Maven's specification.
        let chain = [
            "1-alpha",
            "1-beta",
            "1-milestone",
            "1-rc",
            "1-snapshot",
            "1",
            "1-sp",
            "1-abc",
            "1-1",
            "1.1",
        ];
        for w in chain.windows(2) {
            assert!(p(w[0]) < p(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(p("1-cr"), p("1-rc"));
        assert_eq!(p("1-a1"), p("1-alpha-1"));
        assert!(p("1.0-alpha-1") < p("1.0-alpha-2"));
        assert!(p("2.17.0") > p("2.9.10"));
        assert!(p("2.9.10.8") > p("2.9.10"));
        assert!(p("1.0-RC1") < p("1.0"));
        assert!(p("5.3.0.RELEASE") == p("5.3.0"));
    }

    #[test]
    fn malformed_maven_versions() {
        assert!(MavenVersion::parse("").is_err());
        assert!(MavenVersion::parse("1.0 beta").is_err());
        assert!(MavenVersion::parse("${project.version}").is_err());
    }
}
