//! Writers are deterministic, and the SBOM reader gives back the graph the writers were given.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use custody_sbom::{
    CycloneDxVersion, Limits, Metadata, Sbom, parse_sbom, read_dir, to_cyclonedx, to_spdx,
};

const FIXTURES: [&str; 18] = [
    "cargo/small",
    "cargo/lock-v1",
    "cargo/large",
    "npm/small",
    "npm/lock-v1",
    "npm/large",
    "python/uv",
    "python/requirements",
    "deb/bookworm",
    "yarn/classic",
    "pnpm/small",
    "python/pipenv",
    "python/poetry",
    "yarn/berry",
    "pnpm/lock-v6",
    "ruby/bundler",
    "php/composer",
    "go/module",
];

fn load(fixture: &str) -> Sbom {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    read_dir(&dir, &Limits::default()).unwrap()
}

fn meta() -> Metadata {
    Metadata::new("2026-03-01T12:00:00Z".parse().unwrap())
}

#[test]
fn same_graph_same_bytes() {
    for f in FIXTURES {
        let (a, b) = (load(f), load(f));
        assert_eq!(
            to_cyclonedx(&a, CycloneDxVersion::V1_6, &meta()),
            to_cyclonedx(&b, CycloneDxVersion::V1_6, &meta()),
            "{f}"
        );
        assert_eq!(to_spdx(&a, &meta()), to_spdx(&b, &meta()), "{f}");
    }
}

#[test]
fn different_time_different_serial_number() {
    let s = load("cargo/small");
    let later = Metadata::new("2026-03-02T12:00:00Z".parse().unwrap());
    let serial = |m: &Metadata| {
        let v: serde_json::Value =
            serde_json::from_str(&to_cyclonedx(&s, CycloneDxVersion::V1_6, m)).unwrap();
        v["serialNumber"].as_str().unwrap().to_owned()
    };
    assert_ne!(serial(&meta()), serial(&later));
}

#[test]
fn cyclonedx_round_trip_is_lossless() {
    for f in FIXTURES {
        let s = load(f);
        for v in [CycloneDxVersion::V1_6, CycloneDxVersion::V1_5] {
            let json = to_cyclonedx(&s, v, &meta());
            let back = parse_sbom("sbom.cdx.json", json.as_bytes(), &Limits::default()).unwrap();
            assert_eq!(back, s, "{f} {v:?}");
        }
    }
}

/// SPDX identifiers are not our component ids, so compare what a consumer sees.
fn view(s: &Sbom) -> (BTreeSet<String>, usize, Option<String>) {
    let comps = s
        .components()
        .map(|c| {
            format!(
                "{} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                c.name, c.version, c.purl, c.scope, c.hashes, c.source, c.license, c.authors
            )
        })
        .collect();
    (
        comps,
        s.dependencies().count(),
        s.primary().map(|p| p.name.clone()),
    )
}

#[test]
fn spdx_round_trip_keeps_what_consumers_see() {
    for f in FIXTURES {
        let s = load(f);
        let json = to_spdx(&s, &meta());
        let back = parse_sbom("sbom.spdx.json", json.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(view(&back), view(&s), "{f}");
    }
}

#[test]
fn cyclonedx_shape() {
    let s = load("cargo/small");
    let v: serde_json::Value =
        serde_json::from_str(&to_cyclonedx(&s, CycloneDxVersion::V1_6, &meta())).unwrap();
    assert_eq!(v["specVersion"], "1.6");
    assert_eq!(v["metadata"]["timestamp"], "2026-03-01T12:00:00Z");
    assert_eq!(v["metadata"]["component"]["name"], "fixture-app");
    assert_eq!(v["metadata"]["tools"]["components"][0]["name"], "custody");
    let comps = v["components"].as_array().unwrap();
    // The product is metadata.component, not also a component.
    assert!(comps.iter().all(|c| c["name"] != "fixture-app"));
    let scope_of = |n: &str| {
        comps.iter().find(|c| c["name"] == n).unwrap()["scope"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(scope_of("itoa"), "required");
    assert_eq!(scope_of("memchr"), "optional");
    assert_eq!(scope_of("cc"), "excluded");
    assert_eq!(scope_of("diff"), "excluded");
    // Every component, the product included, has a dependencies entry.
    assert_eq!(v["dependencies"].as_array().unwrap().len(), comps.len() + 1);

    let v15: serde_json::Value =
        serde_json::from_str(&to_cyclonedx(&s, CycloneDxVersion::V1_5, &meta())).unwrap();
    assert_eq!(v15["specVersion"], "1.5");
    assert_eq!(
        v15["metadata"]["component"]["author"],
        "Fixture Team <team@example.com>"
    );
    assert!(v15["metadata"]["component"].get("authors").is_none());
}

#[test]
fn spdx_shape() {
    let s = load("npm/small");
    let v: serde_json::Value = serde_json::from_str(&to_spdx(&s, &meta())).unwrap();
    assert_eq!(v["spdxVersion"], "SPDX-2.3");
    assert_eq!(v["creationInfo"]["created"], "2026-03-01T12:00:00Z");
    let rels = v["relationships"].as_array().unwrap();
    let count = |t: &str| rels.iter().filter(|r| r["relationshipType"] == t).count();
    assert_eq!(count("DESCRIBES"), 1);
    assert_eq!(count("DEPENDS_ON"), s.dependencies().count());
    assert_eq!(count("DEV_DEPENDENCY_OF"), 1);
    assert_eq!(count("OPTIONAL_DEPENDENCY_OF"), 1);
    let slugify = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "@sindresorhus/slugify")
        .unwrap();
    assert_eq!(
        slugify["externalRefs"][0]["referenceLocator"],
        "pkg:npm/%40sindresorhus/slugify@2.2.1"
    );
    assert_eq!(slugify["checksums"][0]["algorithm"], "SHA512");
    assert_eq!(slugify["licenseDeclared"], "MIT");
}

#[test]
fn case_sensitive_names_survive_lowercasing_purls() {
    // The purl lowercases Go module namespaces and npm names; the ecosystems do not.
    let go_mod =
        b"module example.com/app\n\ngo 1.21\n\nrequire github.com/BurntSushi/toml v1.3.2\n";
    let sbom = custody_sbom::parse_go_mod_file("go.mod", go_mod, None, &Limits::default()).unwrap();
    let toml = sbom
        .components()
        .find(|c| c.name == "github.com/BurntSushi/toml")
        .unwrap();
    assert_eq!(
        toml.purl.as_ref().unwrap().0,
        "pkg:golang/github.com/burntsushi/toml@v1.3.2"
    );
    for doc in [
        to_cyclonedx(&sbom, CycloneDxVersion::V1_6, &meta()),
        to_spdx(&sbom, &meta()),
    ] {
        let back = parse_sbom("x.json", doc.as_bytes(), &Limits::default()).unwrap();
        assert!(
            back.components()
                .any(|c| c.name == "github.com/BurntSushi/toml"),
            "{doc}"
        );
    }
}
