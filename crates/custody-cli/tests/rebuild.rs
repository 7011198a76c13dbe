//! `custody rebuild-check` on real archives (GNU tar + gzip, Python's zipfile) built twice, with
//! a difference injected each time: a timestamp, a file order, one changed byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Project, Run, git, python, statement};
use serde_json::Value;

/// Builds `$1/app.tar.gz` and `$1/app.zip` from `src/`: reproducibly, unless the environment
/// says otherwise (MTIME, FILES: the tar's timestamp and entry order; ZIP_YEAR).
const BUILD: &str = r#"#!/bin/sh
set -e
out=$1
mkdir -p "$out"
cd src
tar --mtime="${MTIME:-@0}" --owner=0 --group=0 --numeric-owner -cf - ${FILES:-a.txt b.txt} | gzip -n > "../$out/app.tar.gz"
cd ..
"$PYTHON" - "$out/app.zip" <<'PY'
import os, sys, zipfile
year = int(os.environ.get("ZIP_YEAR", "2026"))
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for name in ("a.txt", "b.txt"):
        info = zipfile.ZipInfo(name, date_time=(year, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        with open(os.path.join("src", name), "rb") as f:
            z.writestr(info, f.read())
PY
"#;

fn project() -> Project {
    let p = Project::new("ed25519");
    std::fs::create_dir_all(p.dir().join("src")).unwrap();
    std::fs::write(p.dir().join("src/a.txt"), "alpha\n".repeat(50)).unwrap();
    std::fs::write(p.dir().join("src/b.txt"), "bravo\n".repeat(50)).unwrap();
    std::fs::write(p.dir().join("build.sh"), BUILD).unwrap();
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "sources"]);
    let r = build(&p, "dist", &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = p.run(&[
        "release",
        "dist/app.tar.gz",
        "dist/app.zip",
        "--product",
        "app",
        "--version",
        "1.0.0",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    p
}

fn build(p: &Project, out: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new("sh");
    c.arg("build.sh")
        .arg(out)
        .current_dir(p.dir())
        .env("PYTHON", python());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// `custody rebuild-check` of app 1.0.0 against `out/`, built by custody with `env`.
fn rebuild_check(p: &Project, out: &str, env: &[(&str, &str)]) -> (Run, Value) {
    let release = p.release_dir("app", "1.0.0");
    let mut c = common::custody();
    c.current_dir(p.dir()).env("PYTHON", python()).args([
        "rebuild-check",
        "--json",
        "--release",
        release.to_str().unwrap(),
        "--artifacts",
        out,
        "--",
        "sh",
        "build.sh",
        out,
    ]);
    for (k, v) in env {
        c.env(k, v);
    }
    let r: Run = c.output().unwrap().into();
    let json = r.json();
    (r, json)
}

fn differences<'a>(report: &'a Value, artifact: &str) -> &'a [Value] {
    report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == artifact)
        .and_then(|a| a["explanation"]["differences"].as_array())
        .map_or(&[], Vec::as_slice)
}

#[test]
fn the_same_sources_rebuild_to_the_same_bytes_and_the_outcome_is_attested() {
    let p = project();
    let (r, report) = rebuild_check(&p, "dist/again", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(report["reproduced"], true, "{report}");
    // The outcome is signed, logged and kept on the site.
    let attestation = p.dir().join(report["attestation"].as_str().unwrap());
    assert!(attestation.starts_with(p.site().join("rebuilds/app/1.0.0")));
    let bundle: Value = serde_json::from_slice(&std::fs::read(&attestation).unwrap()).unwrap();
    assert!(
        bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"].is_string(),
        "{bundle}"
    );
    let stmt = statement(&attestation);
    assert_eq!(
        stmt["predicateType"],
        "https://custody.dev/reproducibility/v1"
    );
    assert_eq!(stmt["predicate"]["reproduced"], true);
    assert_eq!(stmt["predicate"]["command"][0], "sh");
    let released_sha = std::fs::read(p.release_dir("app", "1.0.0").join("app.tar.gz")).unwrap();
    let sha = custody_crypto::Sha256Digest::of(&released_sha).to_hex();
    assert!(
        stmt["subject"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "app.tar.gz" && s["digest"]["sha256"] == sha.as_str()),
        "{stmt}"
    );
}

#[test]
fn a_timestamp_is_found_in_the_tar_entries_and_a_zip_entrys_time() {
    let p = project();
    let (r, report) = rebuild_check(
        &p,
        "dist/later",
        &[("MTIME", "@1700000000"), ("ZIP_YEAR", "2027")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(report["reproduced"], false);
    let tar = differences(&report, "app.tar.gz");
    for entry in ["a.txt", "b.txt"] {
        assert!(
            tar.iter().any(|d| d["kind"] == "metadata"
                && d["path"] == entry
                && d["field"] == "mtime"
                && d["released"] == "0"
                && d["rebuilt"] == "1700000000"),
            "{report}"
        );
    }
    let zip = differences(&report, "app.zip");
    assert!(
        zip.iter()
            .any(|d| d["field"] == "mtime" && d["rebuilt"] == "2027-01-01T00:00:00"),
        "{report}"
    );
    // The outcome is attested as a failure, and the human text names the field.
    let stmt = statement(&p.dir().join(report["attestation"].as_str().unwrap()));
    assert_eq!(stmt["predicate"]["reproduced"], false);
    let r = common::custody()
        .current_dir(p.dir())
        .env("PYTHON", python())
        .env("MTIME", "@1700000000")
        .args([
            "rebuild-check",
            "--release",
            p.release_dir("app", "1.0.0").to_str().unwrap(),
            "--artifacts",
            "dist/later2",
            "--",
            "sh",
            "build.sh",
            "dist/later2",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("a.txt: mtime 0 -> 1700000000"), "{text}");
    assert!(text.contains("is NOT reproduced"), "{text}");
}

#[test]
fn a_file_order_and_one_changed_byte_are_located() {
    let p = project();
    let (r, report) = rebuild_check(&p, "dist/reordered", &[("FILES", "b.txt a.txt")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let tar = differences(&report, "app.tar.gz");
    assert!(
        tar.iter().any(|d| d["kind"] == "order"
            && d["position"] == 0
            && d["released"] == "a.txt"
            && d["rebuilt"] == "b.txt"),
        "{report}"
    );
    assert_eq!(
        report["artifacts"][1]["reproduced"], true,
        "the zip does not depend on FILES: {report}"
    );

    // One byte of one source file.
    let mut b = std::fs::read(p.dir().join("src/b.txt")).unwrap();
    b[100] = b'X';
    std::fs::write(p.dir().join("src/b.txt"), &b).unwrap();
    let (r, report) = rebuild_check(&p, "dist/changed", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for artifact in ["app.tar.gz", "app.zip"] {
        let content = differences(&report, artifact)
            .iter()
            .find(|d| d["kind"] == "content")
            .unwrap_or_else(|| panic!("{artifact}: {report}"));
        assert_eq!(content["path"], "b.txt", "{report}");
        assert_eq!(content["offset"], 100, "{report}");
        assert!(
            content["rebuilt_bytes"].as_str().unwrap().starts_with("58"),
            "{report}"
        );
    }
}

#[test]
fn a_missing_output_and_a_failing_build_are_clear() {
    let p = project();
    // A build that makes nothing where it is looked for.
    let release = p.release_dir("app", "1.0.0");
    std::fs::create_dir_all(p.dir().join("dist/empty")).unwrap();
    let r = p.run(&[
        "rebuild-check",
        "--json",
        "--release",
        release.to_str().unwrap(),
        "--artifacts",
        "dist/empty",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = r.json();
    assert!(
        report["artifacts"][0]["unexplained"]
            .as_str()
            .unwrap()
            .contains("made no app.tar.gz"),
        "{report}"
    );
    // A build command that fails: nothing compared, nothing attested.
    let r = p.run(&[
        "rebuild-check",
        "--release",
        release.to_str().unwrap(),
        "--artifacts",
        "dist/x",
        "--",
        "false",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("the build command failed"),
        "{}",
        r.stderr
    );
    let attested = std::fs::read_dir(p.site().join("rebuilds/app/1.0.0"))
        .unwrap()
        .count();
    assert_eq!(
        attested, 2,
        "only the missing-output check was attested (a document and its bundle)"
    );
    // Not a release directory.
    let r = p.run(&[
        "rebuild-check",
        "--release",
        "nowhere",
        "--artifacts",
        "dist",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
