//! Version parsers of every scheme: no panics, and where two versions parse
//! their order is consistent: antisymmetric and reflexive everywhere, and
//! transitive over three inputs for every scheme whose order is total.
#![no_main]

use std::cmp::Ordering;

use custody_vuln::VersionScheme;
use libfuzzer_sys::fuzz_target;

const SCHEMES: [VersionScheme; 7] = [
    VersionScheme::SemVer,
    VersionScheme::Go,
    VersionScheme::Pep440,
    VersionScheme::RubyGems,
    VersionScheme::Maven,
    VersionScheme::Composer,
    VersionScheme::Dpkg,
];

fuzz_target!(|input: (u8, &str, &str, &str)| {
    let (which, a, b, c) = input;
    let scheme = SCHEMES[usize::from(which) % SCHEMES.len()];
    let (Ok(a), Ok(b), Ok(c)) = (scheme.parse(a), scheme.parse(b), scheme.parse(c)) else {
        return;
    };
    let ab = a.compare(&b).expect("same scheme");
    let ba = b.compare(&a).expect("same scheme");
    assert_eq!(ab, ba.reverse());
    assert_eq!(a.compare(&a), Some(Ordering::Equal));
    // Maven's published order is not transitive; see `is_total_order`.
    if !scheme.is_total_order() {
        return;
    }
    let bc = b.compare(&c).expect("same scheme");
    let ac = a.compare(&c).expect("same scheme");
    if ab != Ordering::Greater && bc != Ordering::Greater {
        assert_ne!(ac, Ordering::Greater);
    }
});
