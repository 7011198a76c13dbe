//! `custody tutorial` runs a release and its verification end to end in a sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Run;

fn tutorial(cwd: &std::path::Path, args: &[&str]) -> Run {
    common::custody()
        .current_dir(cwd)
        .env_remove("CUSTODY_PASSPHRASE")
        .args([&["tutorial", "--yes"][..], args].concat())
        .output()
        .unwrap()
        .into()
}

#[test]
fn the_tutorial_releases_verifies_refuses_a_tampered_copy_and_installs() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tutorial(tmp.path(), &["--dir", "sandbox", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let walk = r.json();
    assert_eq!(walk["ok"], true, "{walk}");
    let steps = walk["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 9, "{walk}");
    assert!(steps.iter().all(|s| s["ok"] == true), "{walk}");
    let tampered = steps
        .iter()
        .find(|s| s["title"] == "A tampered copy is refused")
        .unwrap();
    assert_eq!(tampered["exit_code"], 1, "{walk}");
    let sandbox = tmp.path().join("sandbox");
    assert!(
        sandbox
            .join("site/releases/hello/1.0.0/hello.txt")
            .is_file()
    );
    assert_eq!(
        std::fs::read_link(sandbox.join("installed/current")).unwrap(),
        std::path::Path::new("1.0.0")
    );
    // The children's output went to stderr: stdout is the one JSON document.
    assert!(r.stderr.contains("VERIFIED"), "{}", r.stderr);

    // A sandbox that is not empty is refused; the human text explains each step.
    let r = tutorial(tmp.path(), &["--dir", "sandbox"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
    let r = tutorial(tmp.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("== 7/9: A tampered copy is refused"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("refused, as it should be"),
        "{}",
        r.stdout
    );
    assert!(
        tmp.path()
            .join("custody-tutorial-1/site/releases/hello/1.0.0")
            .is_dir()
    );
}
