//! The dashboard's pages as `custody serve` renders them (issue 12), on a SQLite catalog and on
//! a PostgreSQL one, against the issue's limits: a release page with 2,000 components and 200
//! findings under 50 ms, and the products page with 500 products and 20,000 releases under
//! 100 ms (medians).
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo bench -p custody-cli --bench dashboard
//! ```
//!
//! The release page: a project releases app 1.0.0 with a CycloneDX SBOM of 2,000 crates.io
//! components (licences cycling through five expressions); then 200 OSV advisories, each hitting
//! one of them, are imported and `custody monitor` records the 200 findings and sends a notice.
//! Each request verifies the artifact's bundle, checks its log entry against the published
//! tiles, reads the TUF target and renders every component and finding.
//!
//! The products page: 20,000 releases of 500 products (40 each, three packages apiece) are
//! added to the catalog directly, an advisory hitting one package version in two thirds of them
//! is imported, and `custody monitor` records those findings; the page aggregates the latest
//! release of every product with its open findings by severity.
//!
//! Each page is fetched `DASHBOARD_BENCH_REQUESTS` times (default 50) after 3 warm-ups, one
//! request at a time over a kept-alive loopback connection: the time is the client's, from the
//! request to the last byte, so it includes the server's whole work and the transfer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../custody-catalog/tests/support/postgres.rs"]
mod postgres;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Project, serve_custody};

const COMPONENTS: usize = 2_000;
const FINDINGS: usize = 200;
const PRODUCTS: usize = 500;
const RELEASES_PER_PRODUCT: usize = 40;
const LICENCES: [&str; 5] = [
    "MIT",
    "Apache-2.0",
    "MIT OR Apache-2.0",
    "BSD-3-Clause",
    "MPL-2.0",
];

fn requests() -> usize {
    std::env::var("DASHBOARD_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// The median time of fetching `url`, and the page's size.
fn median_fetch(url: &str) -> (Duration, usize) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let fetch = || {
        let started = Instant::now();
        let mut res = agent.get(url).call().unwrap();
        assert_eq!(res.status().as_u16(), 200, "{url}");
        let body = res
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap();
        (started.elapsed(), body.len())
    };
    for _ in 0..3 {
        fetch();
    }
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..requests() {
        let (t, n) = fetch();
        times.push(t);
        size = n;
    }
    times.sort();
    (times[times.len() / 2], size)
}

fn import(p: &Project, dir: &Path) {
    let r = p.run(&["db", "import", dir.to_str().unwrap(), "--name", "bench"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn advisory(id: &str, name: &str, fixed: &str, cvss: &str) -> String {
    serde_json::json!({
        "schema_version": "1.4.0",
        "id": id,
        "modified": "2026-12-01T00:00:00Z",
        "summary": format!("benchmark advisory for {name}"),
        "severity": [{"type": "CVSS_V3", "score": cvss}],
        "affected": [{
            "package": {"ecosystem": "crates.io", "name": name},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }]
    })
    .to_string()
}

fn release_page(label: &str, catalog: Option<&str>) {
    let p = Project::new("ed25519");
    if let Some(url) = catalog {
        p.use_catalog(url);
        // A release is made from a clean tree.
        common::git(p.dir(), &["commit", "-qam", "catalog on PostgreSQL"]);
    }
    let r = p.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let feed = tempfile::tempdir().unwrap();
    // The gate needs a database; the first advisory hits nothing.
    std::fs::write(
        feed.path().join("BENCH-NONE.json"),
        advisory(
            "BENCH-NONE",
            "not-shipped",
            "1.0.0",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
        ),
    )
    .unwrap();
    import(&p, feed.path());
    let components: Vec<serde_json::Value> = (0..COMPONENTS)
        .map(|i| {
            let purl = format!("pkg:cargo/bench-crate-{i}@1.0.0");
            serde_json::json!({
                "type": "library", "bom-ref": purl, "name": format!("bench-crate-{i}"),
                "version": "1.0.0", "purl": purl,
                "licenses": [{"expression": LICENCES[i % LICENCES.len()]}]
            })
        })
        .collect();
    let sbom = serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "metadata": {"component": {"type": "application", "bom-ref": "app", "name": "app", "version": "1.0.0"}},
        "components": components,
    });
    // dist/ is ignored by git: the tree stays clean.
    let sbom_path = p.dir().join("dist/app.cdx.json");
    std::fs::write(&sbom_path, sbom.to_string()).unwrap();
    p.artifact("app.tgz", b"the release page benchmark's artifact");
    let r = p.run(&[
        "release",
        "dist/app.tgz",
        "--product",
        "app",
        "--version",
        "1.0.0",
        "--sbom",
        sbom_path.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for i in 0..FINDINGS {
        let id = format!("BENCH-{i:04}");
        let cvss = if i % 2 == 0 {
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        } else {
            "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N"
        };
        std::fs::write(
            feed.path().join(format!("{id}.json")),
            advisory(&id, &format!("bench-crate-{}", i * 10), "1.0.1", cvss),
        )
        .unwrap();
    }
    import(&p, feed.path());
    let r = p.run(&["monitor", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let found = r.json()["new_findings"].as_array().map_or(0, Vec::len);
    assert_eq!(found, FINDINGS, "{}", r.stdout);

    let (_server, url) = serve_custody(&p, &[]);
    let (median, size) = median_fetch(&format!("{url}/ui/releases/app/1.0.0"));
    let ms = median.as_secs_f64() * 1000.0;
    println!(
        "release page  {label:<10} {COMPONENTS} components, {FINDINGS} findings: median {ms:.1} ms \
         ({:.0}% of the 50 ms limit), {} KiB",
        ms / 50.0 * 100.0,
        size / 1024
    );
}

fn products_page(label: &str, catalog: Option<&str>) {
    let p = Project::new("ed25519");
    if let Some(url) = catalog {
        p.use_catalog(url);
    }
    let location = catalog.map_or_else(
        || {
            p.dir()
                .join(".custody/catalog.sqlite")
                .display()
                .to_string()
        },
        str::to_owned,
    );
    let mut c = custody_catalog::Catalog::at(&location).unwrap();
    let started = Instant::now();
    let none = std::collections::BTreeMap::new();
    for product in 0..PRODUCTS {
        for release in 0..RELEASES_PER_PRODUCT {
            let name = format!("product-{product:03}");
            let version = format!("1.{release}.0");
            let packages = [
                custody_vuln::PackageRef::new(
                    custody_vuln::Ecosystem::CratesIo,
                    "shared-dep",
                    format!("1.0.{}", release % 3),
                )
                .with_purl(format!("pkg:cargo/shared-dep@1.0.{}", release % 3)),
                custody_vuln::PackageRef::new(
                    custody_vuln::Ecosystem::CratesIo,
                    format!("own-{product}"),
                    version.clone(),
                ),
                custody_vuln::PackageRef::new(custody_vuln::Ecosystem::CratesIo, "serde", "1.0.0"),
            ];
            let added = format!("2026-01-01T00:{:02}:{:02}Z", release, product % 60);
            c.add_release(
                &custody_catalog::NewRelease {
                    product: &name,
                    version: &version,
                    dir: p.dir(),
                    sbom: None,
                    artifacts: &[format!("{name}.tgz")],
                    packages: &packages,
                    licenses: &none,
                    known: &[],
                },
                &added,
            )
            .unwrap();
        }
    }
    drop(c);
    let filled = started.elapsed();
    let feed = tempfile::tempdir().unwrap();
    std::fs::write(
        feed.path().join("BENCH-SHARED.json"),
        advisory(
            "BENCH-SHARED",
            "shared-dep",
            "1.0.2",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        ),
    )
    .unwrap();
    import(&p, feed.path());
    // The findings only: nothing in these releases is on the site to write notices about.
    let mut c = custody_catalog::Catalog::at(&location).unwrap();
    let packs = custody_vuln::open_current(&p.dir().join(".custody/advisories")).unwrap();
    let no_vex = |_: &str| Vec::new();
    let report = custody_catalog::monitor(
        &mut c,
        &packs,
        &custody_catalog::MonitorOptions {
            now: "2026-12-01T00:00:00Z",
            vex: &no_vex,
        },
    )
    .unwrap();
    let findings: usize = report.new.iter().map(|n| n.findings.len()).sum();
    drop(c);

    let (_server, url) = serve_custody(&p, &[]);
    let (median, size) = median_fetch(&format!("{url}/ui"));
    let ms = median.as_secs_f64() * 1000.0;
    println!(
        "products page {label:<10} {PRODUCTS} products, {} releases, {findings} findings \
         (catalog filled in {:.0} s): median {ms:.1} ms ({:.0}% of the 100 ms limit), {} KiB",
        PRODUCTS * RELEASES_PER_PRODUCT,
        filled.as_secs_f64(),
        ms / 100.0 * 100.0,
        size / 1024
    );
}

fn main() {
    release_page("sqlite", None);
    products_page("sqlite", None);
    match postgres::Postgres::start() {
        Some(cluster) => {
            release_page("postgresql", Some(&cluster.database("release_page")));
            products_page("postgresql", Some(&cluster.database("products_page")));
        }
        None => println!("postgresql: skipped (no PostgreSQL here)"),
    }
}
