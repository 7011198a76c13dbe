//! Truncated, garbage, duplicate, cyclic, deeply nested and oversized inputs of every kind the
//! crate reads: each gives a clear error or a correct graph, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

// The fuzz targets' shared body: what they assert on every accepted input, this test asserts
// on every mutation of the real fixtures.
#[path = "../fuzz/fuzz_targets/common.rs"]
mod fuzz_body;

use custody_sbom::{
    CargoManifest, ComponentId, CycloneDxVersion, Error, Limits, Metadata, PackageJson, Sbom,
    parse_cargo_lock, parse_package_lock, parse_sbom, read_lockfile, to_cyclonedx, to_spdx,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn bytes(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap()
}

type Parser = fn(&[u8]) -> Result<Sbom, Error>;

fn cargo(b: &[u8]) -> Result<Sbom, Error> {
    let manifest = bytes("cargo/small/Cargo.toml");
    let m = CargoManifest {
        file: "Cargo.toml",
        bytes: &manifest,
    };
    parse_cargo_lock("Cargo.lock", b, Some(m), &Limits::default())
}

fn npm(b: &[u8]) -> Result<Sbom, Error> {
    let pj = bytes("npm/small/package.json");
    let pj = PackageJson {
        file: "package.json",
        bytes: &pj,
    };
    parse_package_lock("package-lock.json", b, Some(pj), &Limits::default())
}

fn yarn(b: &[u8]) -> Result<Sbom, Error> {
    let pj = bytes("yarn/classic/package.json");
    let pj = PackageJson {
        file: "package.json",
        bytes: &pj,
    };
    custody_sbom::parse_yarn_lock("yarn.lock", b, Some(pj), &Limits::default())
}

fn pnpm(b: &[u8]) -> Result<Sbom, Error> {
    custody_sbom::parse_pnpm_lock("pnpm-lock.yaml", b, None, &Limits::default())
}

fn pipenv(b: &[u8]) -> Result<Sbom, Error> {
    custody_sbom::parse_pipfile_lock("Pipfile.lock", b, &Limits::default())
}

fn uv(b: &[u8]) -> Result<Sbom, Error> {
    custody_sbom::parse_uv_lock("uv.lock", b, &Limits::default())
}

fn requirements(b: &[u8]) -> Result<Sbom, Error> {
    custody_sbom::parse_requirements(
        "requirements.txt",
        b,
        custody_sbom::Scope::Required,
        &Limits::default(),
    )
}

fn poetry(b: &[u8]) -> Result<Sbom, Error> {
    let pp = bytes("python/poetry/pyproject.toml");
    let pp = custody_sbom::PyProject {
        file: "pyproject.toml",
        bytes: &pp,
    };
    custody_sbom::parse_poetry_lock("poetry.lock", b, Some(pp), &Limits::default())
}

fn berry(b: &[u8]) -> Result<Sbom, Error> {
    let pj = bytes("yarn/berry/package.json");
    let pj = PackageJson {
        file: "package.json",
        bytes: &pj,
    };
    custody_sbom::parse_yarn_lock("yarn.lock", b, Some(pj), &Limits::default())
}

fn gem(b: &[u8]) -> Result<Sbom, Error> {
    let g = bytes("ruby/bundler/Gemfile");
    let g = custody_sbom::Gemfile {
        file: "Gemfile",
        bytes: &g,
    };
    custody_sbom::parse_gemfile_lock("Gemfile.lock", b, Some(g), &Limits::default())
}

fn composer(b: &[u8]) -> Result<Sbom, Error> {
    let c = bytes("php/composer/composer.json");
    let c = custody_sbom::ComposerJson {
        file: "composer.json",
        bytes: &c,
    };
    custody_sbom::parse_composer_lock("composer.lock", b, Some(c), &Limits::default())
}

fn go_mod(b: &[u8]) -> Result<Sbom, Error> {
    let s = bytes("go/module/go.sum");
    let s = custody_sbom::GoSum {
        file: "go.sum",
        bytes: &s,
    };
    custody_sbom::parse_go_mod_file("go.mod", b, Some(s), &Limits::default())
}

fn binary(b: &[u8]) -> Result<Sbom, Error> {
    custody_sbom::parse_binary("program", b, &Limits::default())
}

fn sbom(b: &[u8]) -> Result<Sbom, Error> {
    parse_sbom("sbom.json", b, &Limits::default())
}

/// Line-based formats and programs: a cut is often itself valid, so they are mutated but not
/// held to the truncation test's "most cuts fail".
fn mutation_only_inputs() -> Vec<(&'static str, Vec<u8>, Parser)> {
    vec![
        ("go.mod", bytes("go/module/go.mod"), go_mod as Parser),
        ("go binary", bytes("binary/fixture-go"), binary),
        (
            "cargo auditable binary",
            bytes("binary/fixture-app-auditable"),
            binary,
        ),
    ]
}

fn all_inputs() -> Vec<(&'static str, Vec<u8>, Parser)> {
    let small = custody_sbom::read_dir(&fixture("npm/small"), &Limits::default()).unwrap();
    let meta = Metadata::new("2026-03-01T12:00:00Z".parse().unwrap());
    vec![
        (
            "Cargo.lock v4",
            bytes("cargo/small/Cargo.lock"),
            cargo as Parser,
        ),
        ("Cargo.lock v3", bytes("cargo/lock-v3/Cargo.lock"), cargo),
        ("Cargo.lock v2", bytes("cargo/lock-v2/Cargo.lock"), cargo),
        ("Cargo.lock v1", bytes("cargo/lock-v1/Cargo.lock"), cargo),
        ("package-lock v3", bytes("npm/small/package-lock.json"), npm),
        (
            "package-lock v2",
            bytes("npm/lock-v2/package-lock.json"),
            npm,
        ),
        (
            "package-lock v1",
            bytes("npm/lock-v1/package-lock.json"),
            npm,
        ),
        ("uv.lock", bytes("python/uv/uv.lock"), uv),
        ("Pipfile.lock", bytes("python/pipenv/Pipfile.lock"), pipenv),
        ("yarn.lock", bytes("yarn/classic/yarn.lock"), yarn),
        ("pnpm-lock.yaml", bytes("pnpm/small/pnpm-lock.yaml"), pnpm),
        (
            "pnpm-lock.yaml v6",
            bytes("pnpm/lock-v6/pnpm-lock.yaml"),
            pnpm,
        ),
        ("poetry.lock", bytes("python/poetry/poetry.lock"), poetry),
        ("yarn.lock berry", bytes("yarn/berry/yarn.lock"), berry),
        ("Gemfile.lock", bytes("ruby/bundler/Gemfile.lock"), gem),
        (
            "composer.lock",
            bytes("php/composer/composer.lock"),
            composer,
        ),
        (
            "CycloneDX",
            to_cyclonedx(&small, CycloneDxVersion::V1_6, &meta).into_bytes(),
            sbom,
        ),
        ("SPDX", to_spdx(&small, &meta).into_bytes(), sbom),
    ]
}

#[test]
fn truncated_inputs_never_panic_and_mostly_fail() {
    for (what, full, parse) in all_inputs() {
        assert!(parse(&full).is_ok(), "{what} untruncated");
        let step = (full.len() / 300).max(1);
        let mut errors = 0;
        let mut cuts = 0;
        for cut in (0..full.len()).step_by(step) {
            cuts += 1;
            if parse(&full[..cut]).is_err() {
                errors += 1;
            }
        }
        // A Cargo.lock cut between packages is itself a valid lockfile; most cuts are not.
        assert!(
            errors * 2 > cuts,
            "{what}: only {errors} of {cuts} cuts rejected"
        );
    }
}

#[test]
fn garbage_never_panics() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (what, full, parse) in all_inputs().into_iter().chain(mutation_only_inputs()) {
        for _ in 0..200 {
            // Flip a few bytes of a real input, so the parser gets past the first line.
            let mut b = full.clone();
            for _ in 0..1 + next() % 8 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            // What a reader accepts, however odd, must survive the writers and the SBOM reader:
            // the fuzz targets' own check, here on every run.
            if let Ok(sbom) = parse(&b)
                && !matches!(what, "CycloneDX" | "SPDX")
            {
                fuzz_body::check_round_trip(&sbom);
            }
        }
        for junk in [
            &b""[..],
            b"\0\0\0\xff\xfe",
            b"{}",
            b"[]",
            b"null",
            b"version = 4",
            b"[[package]]",
            b"{\"lockfileVersion\":3}",
            b"{\"lockfileVersion\":1,\"dependencies\":{}}",
            b"{\"bomFormat\":\"CycloneDX\"}",
            b"{\"spdxVersion\":\"SPDX-2.3\"}",
        ] {
            let _ = parse(junk);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 100_000;
    let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(npm(json.as_bytes()).is_err());
    assert!(sbom(json.as_bytes()).is_err());
    let toml = format!("x = {}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(cargo(toml.as_bytes()).is_err());
}

#[test]
fn duplicate_cargo_package_names_both_lines() {
    let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n";
    let err = cargo(lock.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cargo.lock:7: package a 1.0.0 is listed twice (first at line 3)"
    );
}

#[test]
fn duplicate_npm_package_key_is_an_error_with_its_line() {
    let lock = "{\"lockfileVersion\":3,\"packages\":{\n\"node_modules/a\":{\"version\":\"1.0.0\"},\n\"node_modules/a\":{\"version\":\"2.0.0\"}\n}}";
    let err = npm(lock.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "package-lock.json:3: key `node_modules/a` is repeated (first at line 2)"
    );
}

#[test]
fn cyclic_graphs_are_read_and_written() {
    let lock = r#"{"lockfileVersion":3,"packages":{
        "":{"name":"app","version":"1.0.0","dependencies":{"a":"1"}},
        "node_modules/a":{"version":"1.0.0","dependencies":{"b":"1"}},
        "node_modules/b":{"version":"1.0.0","dependencies":{"a":"1"}}}}"#;
    let s = parse_package_lock(
        "package-lock.json",
        lock.as_bytes(),
        None,
        &Limits::default(),
    )
    .unwrap();
    let a = ComponentId("npm/a@1.0.0".into());
    let b = ComponentId("npm/b@1.0.0".into());
    assert!(s.dependencies_of(&a).any(|d| d == &b));
    assert!(s.dependencies_of(&b).any(|d| d == &a));
    let meta = Metadata::new("2026-03-01T12:00:00Z".parse().unwrap());
    let back = parse_sbom(
        "x.cdx.json",
        to_cyclonedx(&s, CycloneDxVersion::V1_6, &meta).as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(back, s);
}

#[test]
fn oversized_inputs_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Cargo.lock");
    // Sparse: 200 MB on paper, nothing on disk.
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(200 * 1024 * 1024).unwrap();
    match read_lockfile(&path, &Limits::default()) {
        Err(Error::TooLarge { size, limit, .. }) => {
            assert_eq!(size, 200 * 1024 * 1024);
            assert!(limit < size);
        }
        other => panic!("{other:?}"),
    }
    let small = Limits {
        max_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        parse_sbom("x", b"{\"bomFormat\":\"CycloneDX\"}", &small),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn sbom_reader_rejects_dangling_and_duplicate_references() {
    let dangling = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","bom-ref":"a","name":"a"}],"dependencies":[{"ref":"a","dependsOn":["ghost"]}]}"#;
    assert!(matches!(
        sbom(dangling.as_bytes()),
        Err(Error::DanglingReference { reference, .. }) if reference == "ghost"
    ));
    let dup = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","bom-ref":"a","name":"a"},{"type":"library","bom-ref":"a","name":"b"}]}"#;
    assert!(matches!(
        sbom(dup.as_bytes()),
        Err(Error::DuplicateReference { .. })
    ));
    let future = r#"{"bomFormat":"CycloneDX","specVersion":"2.0"}"#;
    assert!(matches!(
        sbom(future.as_bytes()),
        Err(Error::UnsupportedSbomVersion { .. })
    ));
    let spdx_dangling = r#"{"spdxVersion":"SPDX-2.3","packages":[{"SPDXID":"SPDXRef-a","name":"a"}],"relationships":[{"spdxElementId":"SPDXRef-a","relationshipType":"DEPENDS_ON","relatedSpdxElement":"SPDXRef-b"}]}"#;
    assert!(matches!(
        sbom(spdx_dangling.as_bytes()),
        Err(Error::DanglingReference { .. })
    ));
}

#[test]
fn errors_name_the_file_and_line() {
    let err = npm(b"{\"lockfileVersion\":3,\n\"packages\":{\n}").unwrap_err();
    assert!(err.to_string().starts_with("package-lock.json:3:"), "{err}");
    let err =
        cargo(b"version = 4\n[[package]]\nname = \"a\"\nversion = \"1\"\nchecksum = \"zz\"\n")
            .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Cargo.lock:2: package a 1: checksum"),
        "{err}"
    );
}

#[test]
fn requirements_truncated_or_garbled_never_panic() {
    // A line format: a cut between lines is a valid shorter file, so only "no panic" holds.
    let full = bytes("python/requirements/requirements.txt");
    assert!(requirements(&full).is_ok());
    for cut in (0..full.len()).step_by(97) {
        let _ = requirements(&full[..cut]);
    }
    // A cut inside a hash is caught.
    let text = String::from_utf8(full.clone()).unwrap();
    let in_hash = text.find("--hash=sha256:").unwrap() + 30;
    assert!(matches!(
        requirements(&full[..in_hash]),
        Err(Error::InvalidChecksum { line: 3, .. })
    ));
    for junk in [
        &b"\xff\xfe"[..],
        b"==",
        b"[",
        b"a[",
        b"a @",
        b"-",
        b"\\",
        b"a==1 \\",
    ] {
        let _ = requirements(junk);
    }
}

#[test]
fn dpkg_status_truncated_or_garbled_never_panics() {
    // Paragraphs: a cut between them is a valid shorter database, so only "no panic" holds.
    let full = bytes("deb/bookworm/var/lib/dpkg/status");
    let parse = |b: &[u8]| custody_sbom::parse_dpkg_status("status", b, None, &Limits::default());
    assert!(parse(&full).is_ok());
    for cut in (0..full.len()).step_by(full.len() / 200) {
        let _ = parse(&full[..cut]);
    }
    for junk in [
        &b"\xff"[..],
        b":",
        b" x",
        b"Package: a\nStatus: installed\n",
        b"\n\n\n",
    ] {
        let _ = parse(junk);
    }
    // A package listed twice is an error naming both paragraphs.
    let twice = b"Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: a\nStatus: install ok installed\nVersion: 1\n";
    assert!(matches!(
        parse(twice),
        Err(Error::DuplicatePackage {
            line: 5,
            first_line: 1,
            ..
        })
    ));
}

#[test]
fn go_mod_truncated_or_garbled_never_panics() {
    // Lines again: a cut between directives is a valid shorter go.mod.
    let full = bytes("go/module/go.mod");
    assert!(go_mod(&full).is_ok());
    for cut in 0..full.len() {
        let _ = go_mod(&full[..cut]);
    }
    // A cut inside the require block leaves it unclosed.
    let text = String::from_utf8(full.clone()).unwrap();
    let in_block = text.find("github.com/pkg").unwrap();
    assert!(matches!(
        go_mod(&full[..in_block]),
        Err(Error::InvalidGoMod { .. })
    ));
    for junk in [
        &b"\xff"[..],
        b"module",
        b"module \"unterminated",
        b"require (",
        b")",
        b"replace a =>",
        b"module m\nreplace => b\n",
        b"module m\nrequire a v1 v2\n",
    ] {
        let _ = go_mod(junk);
    }
}

#[test]
fn binaries_truncated_or_garbled_never_panic() {
    for (name, full) in [
        ("fixture-go", bytes("binary/fixture-go")),
        (
            "fixture-app-auditable",
            bytes("binary/fixture-app-auditable"),
        ),
    ] {
        assert!(binary(&full).is_ok(), "{name}");
        let step = full.len() / 150;
        for cut in (0..full.len()).step_by(step) {
            let _ = binary(&full[..cut]);
        }
        // Garble the bytes around the dependency data, where the parsers look.
        let at = full
            .windows(14)
            .position(|w| w == b"\xff Go buildinf:")
            .unwrap_or(full.len() / 2);
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..200 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b = full.clone();
            let i = at + (seed as usize) % 256;
            if i < b.len() {
                b[i] = (seed >> 32) as u8;
            }
            let _ = binary(&b);
        }
    }
    for junk in [&b"\x7fELF"[..], b"MZ", b"\0asm", b"\xff Go buildinf:"] {
        assert!(binary(junk).is_err());
    }
}

/// libFuzzer, `go_mod`: a module path with a non-ASCII capital (`Џ`) came back from our own
/// CycloneDX in lower case, because the purl lowercases it with Unicode's rules and the reader
/// restored the document's spelling only for ASCII case differences.
#[test]
fn fuzz_regression_go_mod_non_ascii_capital_in_module_path() {
    let go_mod =
        "module example.com/m\n\ngo 1.19\n\nrequire github.co\u{712}\u{40f}kg/errors v0.9.1\n";
    let sbom =
        custody_sbom::parse_go_mod_file("go.mod", go_mod.as_bytes(), None, &Limits::default())
            .unwrap();
    assert!(
        sbom.components()
            .any(|c| c.name == "github.co\u{712}\u{40f}kg/errors"),
        "{sbom:?}"
    );
    fuzz_body::check_round_trip(&sbom);
}

/// libFuzzer, `go_mod` (10-minute campaign): `module ``` (an empty raw string) was taken as a
/// module with an empty path, which custody's CycloneDX wrote as a component without a name,
/// which its own reader refuses. A quoted module or required path that is empty is now an
/// invalid go.mod line.
#[test]
fn fuzz_regression_go_mod_empty_module_path() {
    for go_mod in [
        "module ``\n",
        "module \"\"\n",
        "module example.com/m\nrequire `` v1.0.0\n",
    ] {
        match custody_sbom::parse_go_mod_file("go.mod", go_mod.as_bytes(), None, &Limits::default())
        {
            Ok(sbom) => panic!("accepted {go_mod:?}: {sbom:?}"),
            Err(e) => assert!(e.to_string().contains("go.mod"), "{e}"),
        }
    }
    let sbom = custody_sbom::parse_go_mod_file(
        "go.mod",
        b"module `example.com/m`\nrequire \"github.com/pkg/errors\" v0.9.1\n",
        None,
        &Limits::default(),
    )
    .unwrap();
    fuzz_body::check_round_trip(&sbom);
}

/// libFuzzer, `pnpm_lock`: the key `/@s@a/b/c@1.0.0` split into the npm name `@s` and the
/// version `a/b/c@1.0.0`, whose purl reads back as another package, so the CycloneDX custody
/// wrote did not read back into the same graph. A purl that does not split back into the parts
/// it was built from is now refused at the lockfile.
#[test]
fn fuzz_regression_pnpm_lock_scope_without_name() {
    let lock = "lockfileVersion: '6.0'\n\npackages:\n\n  /@s@a/b/c@1.0.0:\n    resolution: {integrity: sha512-MkngSCRZ8JdSOCHRaYd+D01XhvU3Hjy6MGl06zhOk614hp9EOAp5gIkBeQg7wtmxpitU6eAL4kdiRMcJa2dlrw==}\n    dev: false\n";
    match pnpm(lock.as_bytes()) {
        Ok(sbom) => panic!("accepted: {sbom:?}"),
        Err(e) => assert!(e.to_string().contains("@s"), "{e}"),
    }
}

/// libFuzzer, `composer_lock`: a package with several authors came back from our CycloneDX 1.5
/// as one author, their names joined with ", ", because 1.5 has only the one `author` string.
/// The 1.5 writer now also writes each author as a `custody:author` property, which the reader
/// prefers; the joined string stays for other consumers. The second author's own ", " shows
/// why splitting the joined string could not have been the fix.
#[test]
fn fuzz_regression_composer_authors_round_trip_cyclonedx_1_5() {
    let lock = r#"{"content-hash": "0", "packages": [{"name": "psr/log", "version": "1.1.4",
        "authors": [{"name": "Ann"}, {"name": "Bob, Jr."}]}], "packages-dev": []}"#;
    let sbom = composer(lock.as_bytes()).unwrap();
    let authors = |s: &Sbom| -> Vec<Vec<String>> {
        s.components()
            .filter(|c| c.name == "psr/log")
            .map(|c| c.authors.clone())
            .collect()
    };
    assert_eq!(authors(&sbom), [["Ann", "Bob, Jr."]]);

    let meta = Metadata::new(jiff::Timestamp::UNIX_EPOCH);
    let cdx = to_cyclonedx(&sbom, CycloneDxVersion::V1_5, &meta);
    let doc: serde_json::Value = serde_json::from_str(&cdx).unwrap();
    let log = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "psr/log")
        .unwrap();
    assert_eq!(log["author"], "Ann, Bob, Jr.");
    assert!(log.get("authors").is_none(), "1.5 has no `authors`: {log}");
    let back = parse_sbom("sbom.cdx.json", cdx.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(authors(&back), [["Ann", "Bob, Jr."]]);

    // Another tool's 1.5 document, with the string alone, still gives its one author.
    let foreign = r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
        {"type": "library", "name": "psr/log", "author": "Ann, Bob"}]}"#;
    let foreign = parse_sbom("sbom.cdx.json", foreign.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(authors(&foreign), [["Ann, Bob"]]);

    fuzz_body::check_round_trip(&sbom);
}

/// libFuzzer, `package_lock`: the root entry `""` flagged `"optional": true` made the product
/// itself an optional component. The writers leave the primary component's scope out (it says
/// why a dependency is there, which means nothing for the product), so it read back as
/// required. The npm reader now ignores `dev` and `optional` on the root, which npm never sets.
#[test]
fn fuzz_regression_package_lock_optional_root() {
    for flag in ["optional", "dev", "devOptional"] {
        let lock = format!(
            r#"{{"lockfileVersion": 3, "packages": {{
                "": {{"name": "app/x", "{flag}": true, "dependencies": {{"ms": "^2"}}}},
                "node_modules/ms": {{"version": "2.1.3"}}}}}}"#
        );
        let sbom = parse_package_lock(
            "package-lock.json",
            lock.as_bytes(),
            None,
            &Limits::default(),
        )
        .unwrap();
        let primary = sbom.primary().unwrap();
        assert_eq!(primary.name, "app/x");
        assert_eq!(primary.scope, custody_sbom::Scope::Required, "{flag}");
        fuzz_body::check_round_trip(&sbom);
    }
}

/// libFuzzer, `dpkg_status`: a package named `dbus-deb/dbus-session-bus-common@1.14?a` was
/// carried into the graph, and its purl (`pkg:deb/debian/dbus-deb/…`) read back with
/// `dbus-deb` in the namespace, the vendor, so the name changed on the way back. dpkg refuses
/// such a name itself (and stores names in lower case); the reader now refuses it too, naming
/// the character.
#[test]
fn fuzz_regression_dpkg_status_package_name_with_slash() {
    let status = |name: &str| {
        format!(
            "Package: {name}\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: all\n"
        )
    };
    let read = |text: &str| {
        custody_sbom::parse_dpkg_status("status", text.as_bytes(), None, &Limits::default())
    };
    for (name, bad) in [
        ("dbus-deb/dbus-session-bus-common", '/'),
        ("dbus@1.14", '@'),
        ("dbus?arch=all", '?'),
        ("libc6:amd64", ':'),
        ("-dbus", '-'),
        (".dbus", '.'),
        // dpkg stores names in lower case, and a purl lowercases a deb name.
        ("Dbus", 'D'),
        ("dbus-X11", 'X'),
    ] {
        match read(&format!(
            "Package: ok\nStatus: install ok installed\nVersion: 1\n\n{}",
            status(name)
        )) {
            Err(Error::InvalidDebianPackageName {
                line,
                name: n,
                character,
                ..
            }) => {
                assert_eq!((line, n.as_str(), character), (5, name, bad));
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // What dpkg installs, its deprecated `_` included, is still read, and round-trips.
    for name in [
        "dbus-session-bus-common",
        "libstdc++6",
        "g++-12",
        "libfoo_bar",
        "0ad",
        "python3.11",
    ] {
        let sbom = read(&status(name)).unwrap();
        assert_eq!(
            sbom.components().next().map(|c| c.name.as_str()),
            Some(name)
        );
        fuzz_body::check_round_trip(&sbom);
    }
}
