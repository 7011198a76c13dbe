//! Range evaluation on fuzzed events and versions: never panics, and a
//! version that does not parse is never "not affected" by an ordered range.
#![no_main]

use custody_vuln::osv::{Affected, Package, Range};
use custody_vuln::{Event, RangeKind, Verdict, VersionScheme};
use libfuzzer_sys::fuzz_target;

const ECOSYSTEMS: [&str; 8] = [
    "crates.io",
    "npm",
    "PyPI",
    "Go",
    "RubyGems",
    "Maven",
    "Packagist",
    "Debian",
];

fuzz_target!(|input: (u8, Vec<(u8, String)>, String)| {
    let (eco, events, version) = input;
    let ecosystem = ECOSYSTEMS[usize::from(eco) % ECOSYSTEMS.len()];
    let events: Vec<Event> = events
        .into_iter()
        .take(16)
        .map(|(k, v)| match k % 4 {
            0 => Event::Introduced(v),
            1 => Event::Fixed(v),
            2 => Event::LastAffected(v),
            _ => Event::Limit(v),
        })
        .collect();
    let affected = Affected {
        package: Some(Package {
            ecosystem: ecosystem.to_owned(),
            name: "p".to_owned(),
            purl: None,
        }),
        severity: Vec::new(),
        ranges: vec![Range {
            kind: RangeKind::Ecosystem,
            repo: None,
            events,
            database_specific: None,
        }],
        versions: Vec::new(),
        ecosystem_specific: None,
        database_specific: None,
    };
    let verdict = affected.evaluate(&version);
    let scheme = VersionScheme::of(&custody_vuln::Ecosystem::parse(ecosystem));
    if scheme.is_some_and(|s: VersionScheme| s.parse(&version).is_err()) {
        assert_ne!(verdict, Verdict::NotAffected);
    }
});
