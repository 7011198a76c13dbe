//! Arbitrary-length decimal numbers, compared by value.
//!
//! Version components such as dates (`20240101120000`) or hostile inputs can
//! exceed `u64`; comparing the digit strings with leading zeros removed keeps
//! the order exact without a bignum dependency.

use std::cmp::Ordering;

/// A run of ASCII digits with leading zeros removed (`"0"` becomes `""`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct Digits(Box<str>);

impl Digits {
    /// `s` must be ASCII digits only; callers split on that already.
    pub(crate) fn new(s: &str) -> Self {
        Self(s.trim_start_matches('0').into())
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ord for Digits {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Digits {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_by_value() {
        assert!(Digits::new("10") > Digits::new("9"));
        assert_eq!(Digits::new("007"), Digits::new("7"));
        assert!(Digits::new("0").is_zero());
        assert!(
            Digits::new("123456789012345678901234567890") > Digits::new("99999999999999999999")
        );
    }
}
