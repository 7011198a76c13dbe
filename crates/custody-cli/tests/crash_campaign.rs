//! Crash and fault campaigns (issue 15): `custody release`, `custody repo refresh`,
//! `custody monitor` and `custody db import` are killed with SIGKILL at random points, and after
//! every kill the site and the database are whole: a release is there completely or not at all,
//! the log verifies (our checkpoint check every time, Go's `sumdb/tlog` checker on the whole log
//! regularly), python-tuf refreshes, and the next run succeeds with no manual repair. A full
//! disk (a small tmpfs) during a release and an import gives a clear error and breaks nothing.
//!
//! Kill delays are drawn from a seeded xorshift (`CUSTODY_CRASH_SEED` replays a run) over the
//! measured length of one uninterrupted run, so kills land anywhere in it. The release campaign
//! runs `CUSTODY_CRASH_ITERATIONS` kills (default 30, to keep the suite quick; the 100
//! is `CUSTODY_CRASH_ITERATIONS=100`).
//!
//! Publishing through `custody serve` is tested the same way: concurrent pipelines through one
//! server, and 20 pipelines through two frontends on one PostgreSQL catalog, one frontend
//! SIGKILLed midway, its pipelines retrying against the other.
//!
//! Needs python-tuf and the Go toolchain (as `tuf_interop.rs` and custody-tlog's
//! `go_tlogcheck.rs` do), and root for the tmpfs; without root the full-disk tests skip, except
//! under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../custody-catalog/tests/support/postgres.rs"]
mod postgres;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Project, Run, Server, git, interop, python};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Randomness and killing

struct Rng(u64);

impl Rng {
    fn seeded(salt: u64) -> Self {
        let seed = std::env::var("CUSTODY_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_c0ff_ee15_0015);
        eprintln!("crash campaign seed {seed} (CUSTODY_CRASH_SEED replays it)");
        Self((seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*: no dependency, and enough to spread kill times.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A delay in `0..span`.
    fn delay(&mut self, span: Duration) -> Duration {
        let micros = span.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % micros)
    }
}

fn iterations(default: usize) -> usize {
    std::env::var("CUSTODY_CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Run `custody args` in `dir` and SIGKILL it after `delay`; whether it finished first.
fn run_and_kill(dir: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = common::custody()
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + delay;
    loop {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(2)));
    }
    // Child::kill is SIGKILL on Unix: no destructor, no cleanup.
    let _ = child.kill();
    let status = child.wait().unwrap();
    status.success()
}

/// How long `f` takes, run once to completion.
fn timed(f: impl FnOnce() -> Run) -> Duration {
    let start = Instant::now();
    let r = f();
    assert_eq!(r.code, 0, "{}", r.stderr);
    start.elapsed()
}

// ---------------------------------------------------------------------------------------------
// Third-party checkers

/// python-tuf's ngclient refreshes from the site's `tuf/` (a fresh client trusting
/// `1.root.json`, as a new customer would) and downloads `targets`.
fn python_tuf_refreshes(p: &Project, server: &Server, targets: &[String]) {
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(interop().join("tuf_client.py"))
        .arg(p.site().join("tuf/metadata/1.root.json"))
        .arg(server.url("tuf/metadata/"))
        .arg(server.url("tuf/targets/"))
        .arg(work.path())
        .args(targets)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python-tuf: {e}; .ci/run installs it"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "python-tuf did not run properly (install interop/requirements.txt): {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success(),
        "python-tuf refused the repository: {json}"
    );
}

/// Go's `sumdb/tlog` checker, built once per test binary (see custody-tlog's go_tlogcheck.rs).
fn tlogcheck() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = match std::env::var_os("CUSTODY_CHECKERS_DIR") {
            Some(d) => PathBuf::from(d),
            None => interop(),
        }
        .join("tlogcheck");
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let bin = tmp.join("crash-campaign-tlogcheck");
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(&src)
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOPROXY", "off")
            .env("GOCACHE", tmp.join("gocache"))
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "the Go toolchain is required: apt-get install -y golang-go \
                     golang-golang-x-mod-dev ({e})"
                )
            });
        assert!(
            out.status.success(),
            "building tlogcheck failed (is golang-golang-x-mod-dev installed?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

fn go_checker_verifies_log(site: &Path) {
    let out = Command::new(tlogcheck())
        .arg("-dir")
        .arg(site.join("log"))
        .arg("-vkey")
        .arg(site.join("log/vkey"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "Go tlogcheck rejected the log:\n{text}"
    );
    assert!(text.contains("OK root hash recomputed"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Site invariants

/// Every file under `dir` whose name (or a parent's, below `dir`) starts with a dot: staging
/// directories and temporary files a crash left where a web server would serve them.
fn hidden_leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let e = e.unwrap();
            let path = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                found.push(path);
            } else if e.file_type().unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    found
}

fn versions(p: &Project) -> BTreeSet<String> {
    let dir = p.site().join("releases/app");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return BTreeSet::new();
    };
    rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn artifact_name(version: &str) -> String {
    format!("app-{version}.tar.gz")
}

/// A published version has every file a release writes, and verifies.
fn release_is_complete(p: &Project, version: &str) {
    let dir = p.release_dir("app", version);
    let art = artifact_name(version);
    let want: BTreeSet<String> = [
        art.clone(),
        format!("{art}.sigstore.json"),
        "manifest.json".to_owned(),
        "provenance.sigstore.json".to_owned(),
    ]
    .into();
    let have: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(have, want, "{version}");
    let r = p.verify(&dir.join(&art), &[]);
    assert_eq!(r.code, 0, "custody verify of {version}: {}", r.stderr);
}

/// The targets of the `app` role the repository's current timestamp leads to.
fn tuf_targets(p: &Project) -> BTreeSet<String> {
    let meta = p.site().join("tuf/metadata");
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(meta.join(name)).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let ts = read("timestamp.json");
    let sv = ts["signed"]["meta"]["snapshot.json"]["version"]
        .as_u64()
        .unwrap();
    let snap = read(&format!("{sv}.snapshot.json"));
    let Some(av) = snap["signed"]["meta"]["app.json"]["version"].as_u64() else {
        return BTreeSet::new();
    };
    let app = read(&format!("{av}.app.json"));
    app["signed"]["targets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// What must hold after any kill: only whole releases and log files in the site, a checkpoint
/// that verifies, and TUF metadata that parses and leads somewhere.
fn site_is_whole(p: &Project) {
    // The temporary file of an atomic write (rename into place) killed before its rename is
    // never named by any metadata or index, so clients cannot see it; anything else hidden (a
    // staging directory above all) is a half-made release where the site is served from.
    let leftovers: Vec<PathBuf> = hidden_leftovers(&p.site())
        .into_iter()
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let temp_file = path.is_file() && (name.starts_with(".tmp") || name.contains(".tmp-"));
            if temp_file {
                eprintln!("temporary file left by a kill: {}", path.display());
            }
            !temp_file
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "a crash left these in the published site: {leftovers:?}"
    );
    let r = p.run(&["log", "checkpoint"]);
    assert_eq!(r.code, 0, "log checkpoint: {}", r.stderr);
    tuf_targets(p);
}

fn start_release(version: &str) -> Vec<String> {
    let art = artifact_name(version);
    vec![
        "release".into(),
        format!("dist/{art}"),
        "--product".into(),
        "app".into(),
        "--version".into(),
        version.into(),
    ]
}

fn release_args(p: &Project, version: &str) -> Vec<String> {
    p.artifact(
        &artifact_name(version),
        format!("app {version} {}", "x".repeat(4096)).as_bytes(),
    );
    start_release(version)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn with_repo() -> Project {
    let p = Project::new("ed25519");
    let r = p.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    p
}

// ---------------------------------------------------------------------------------------------
// release

#[test]
fn release_killed_anywhere_is_all_or_nothing() {
    let n = iterations(30);
    let started = Instant::now();
    let mut rng = Rng::seeded(1);
    let p = with_repo();
    let server = Server::start(&p.site());

    let mut next = 0u32;
    let mut version = || {
        next += 1;
        format!("1.0.{next}")
    };
    let first = version();
    let args = release_args(&p, &first);
    let span = timed(|| p.run(&strs(&args)));
    eprintln!("one uninterrupted release: {span:?}");
    let mut finished_early = 0;
    let mut v = version();
    for i in 0..n {
        let args = release_args(&p, &v);
        if run_and_kill(p.dir(), &strs(&args), rng.delay(span)) {
            finished_early += 1;
        }
        site_is_whole(&p);
        let published = versions(&p);
        if published.contains(&v) {
            release_is_complete(&p, &v);
            v = version();
        }
        // The retry (or the next version, when the killed one got out) succeeds unaided.
        let args = release_args(&p, &v);
        let r = p.run(&strs(&args));
        assert_eq!(r.code, 0, "release after kill {i}: {}", r.stderr);
        release_is_complete(&p, &v);
        site_is_whole(&p);
        // Every published release is in TUF, the one a kill left half-announced included.
        let targets = tuf_targets(&p);
        for pv in versions(&p) {
            let t = format!("app/{pv}/{}", artifact_name(&pv));
            assert!(targets.contains(&t), "{t} missing from TUF after kill {i}");
        }
        if i % 20 == 19 {
            go_checker_verifies_log(&p.site());
            python_tuf_refreshes(&p, &server, &[format!("app/{v}/{}", artifact_name(&v))]);
        }
        v = version();
    }
    go_checker_verifies_log(&p.site());
    let all: Vec<String> = versions(&p)
        .iter()
        .map(|v| format!("app/{v}/{}", artifact_name(v)))
        .collect();
    python_tuf_refreshes(&p, &server, &all);
    eprintln!(
        "release campaign: {n} kills ({finished_early} finished before the kill), {} releases, \
         {:?}",
        all.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// repo refresh

#[test]
fn repo_refresh_killed_anywhere_leaves_metadata_clients_accept() {
    let n = iterations(30).min(15);
    let mut rng = Rng::seeded(2);
    let p = with_repo();
    let args = release_args(&p, "1.0.0");
    let r = p.run(&strs(&args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let server = Server::start(&p.site());
    let target = vec![format!("app/1.0.0/{}", artifact_name("1.0.0"))];
    let refresh = ["repo", "refresh", "--force"];
    let span = timed(|| p.run(&refresh));
    for i in 0..n {
        run_and_kill(p.dir(), &refresh, rng.delay(span));
        site_is_whole(&p);
        python_tuf_refreshes(&p, &server, &target);
        let r = p.run(&refresh);
        assert_eq!(r.code, 0, "refresh after kill {i}: {}", r.stderr);
    }
    python_tuf_refreshes(&p, &server, &target);
    // A release after all that still goes out.
    let args = release_args(&p, "1.0.1");
    let r = p.run(&strs(&args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    python_tuf_refreshes(
        &p,
        &server,
        &[format!("app/1.0.1/{}", artifact_name("1.0.1"))],
    );
}

// ---------------------------------------------------------------------------------------------
// monitor

fn monitor(p: &Project) -> Value {
    let r = p.run(&["monitor", "--json"]);
    assert_eq!(r.code, 0, "monitor: {}", r.stderr);
    r.json()
}

fn notices(p: &Project) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(p.site().join("advisories")) else {
        return Vec::new();
    };
    // A hidden file is the temporary file of a killed atomic write, which no reader lists.
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    v.sort();
    v
}

#[test]
fn monitor_killed_anywhere_reports_consistently_on_rerun() {
    monitor_campaign(true);
}

fn monitor_campaign(check_nothing_lost: bool) {
    let n = iterations(30).min(15);
    let mut rng = Rng::seeded(3);
    let p = Project::new("ed25519");
    p.write_vulnerable_app();
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "app"]);
    let feed = common::AdvisoryFeed::new();
    feed.add("RUSTSEC-2021-0003");
    feed.import(&p);
    p.vex_not_affected("RUSTSEC-2021-0003");
    p.artifact("app.tgz", b"app");
    for version in ["1.0.0", "1.1.0"] {
        p.release_app(version);
    }
    monitor(&p);
    // Measured on a run with work to do: the regex advisory arrives, both releases have it.
    feed.add("RUSTSEC-2022-0013");
    feed.import(&p);
    let span = timed(|| p.run(&["monitor", "--json"]));
    for i in 0..n {
        // Alternately withdraw and re-add the regex advisory, so every run has news.
        let adding = i % 2 == 1;
        if adding {
            feed.add("RUSTSEC-2022-0013");
        } else {
            std::fs::remove_file(feed.dir().join("RUSTSEC-2022-0013.json")).unwrap();
        }
        feed.import(&p);
        let before: BTreeSet<PathBuf> = notices(&p).into_iter().collect();
        run_and_kill(p.dir(), &["monitor", "--json"], rng.delay(span));
        let rerun = monitor(&p);
        // Whatever the killed run got out, plus the rerun, reports the news for every release
        // at least once: nothing is lost between the catalog and the notices.
        if adding && check_nothing_lost {
            let mut reported: BTreeSet<String> = BTreeSet::new();
            for path in notices(&p).iter().filter(|n| !before.contains(*n)) {
                if path.to_string_lossy().ends_with(".sigstore.json") {
                    continue;
                }
                let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap())
                    .unwrap_or_else(|e| panic!("notice {} after kill {i}: {e}", path.display()));
                for f in v["findings"].as_array().unwrap() {
                    if f["id"] == "RUSTSEC-2022-0013" {
                        reported.insert(v["version"].as_str().unwrap().to_owned());
                    }
                }
            }
            assert_eq!(
                reported,
                ["1.0.0".to_owned(), "1.1.0".to_owned()].into(),
                "after kill {i} and a rerun ({rerun})"
            );
        }
        let again = monitor(&p);
        assert_eq!(again["rescanned_releases"], 0, "kill {i}: {again}");
        assert_eq!(again["new_findings"], serde_json::json!([]), "kill {i}");
        assert_eq!(again["releases"], 2, "kill {i}: {again}");
    }
}

// ---------------------------------------------------------------------------------------------
// db import

fn db_status(dir: &Path, db: &Path) -> Value {
    let r = common::run_in(
        dir,
        &["db", "status", "--db", db.to_str().unwrap(), "--json"],
    );
    assert_eq!(r.code, 0, "db status: {}", r.stderr);
    r.json()
}

fn advisory_count(status: &Value) -> u64 {
    status["advisories"]
        .as_u64()
        .unwrap_or_else(|| panic!("no advisory count in {status}"))
}

#[test]
fn db_import_killed_anywhere_leaves_a_readable_database() {
    let n = iterations(30).min(15);
    let mut rng = Rng::seeded(4);
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let src = common::advisories().join("rustsec-advisory-db");
    let import = [
        "db",
        "import",
        src.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ];
    let fresh = tmp.path().join("fresh");
    let span = timed(|| {
        common::run_in(
            tmp.path(),
            &[
                "db",
                "import",
                src.to_str().unwrap(),
                "--db",
                fresh.to_str().unwrap(),
            ],
        )
    });
    let want = advisory_count(&db_status(tmp.path(), &fresh));
    assert!(want > 300, "{want}");
    for i in 0..n {
        // Odd kills hit an import into an existing database, even ones a first import.
        if i % 2 == 0 {
            let _ = std::fs::remove_dir_all(&db);
        }
        run_and_kill(tmp.path(), &import, rng.delay(span));
        if db.exists() {
            let r = common::run_in(tmp.path(), &["db", "status", "--db", db.to_str().unwrap()]);
            assert!(
                r.code == 0 || r.stderr.contains("no advisories imported"),
                "db status after kill {i}: {}",
                r.stderr
            );
        }
        let r = common::run_in(tmp.path(), &import);
        assert_eq!(r.code, 0, "import after kill {i}: {}", r.stderr);
        assert_eq!(
            advisory_count(&db_status(tmp.path(), &db)),
            want,
            "kill {i}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Full disk

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with a message) when it cannot be mounted outside CI; a failure under CI.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { dir }),
            other => {
                let why = format!(
                    "cannot mount a tmpfs (needs root): {:?}",
                    other.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                );
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
                eprintln!("SKIPPED: {why}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A project like [`Project::new`], but in `dir`.
fn project_in(dir: &Path) -> Project {
    let p = Project {
        tmp: tempfile::tempdir_in(dir).unwrap(),
    };
    git(p.dir(), &["init", "-q", "-b", "main"]);
    git(
        p.dir(),
        &[
            "remote",
            "add",
            "origin",
            "https://example.com/acme/app.git",
        ],
    );
    std::fs::create_dir_all(p.dir().join("dist")).unwrap();
    std::fs::write(p.dir().join(".gitignore"), "dist/\n").unwrap();
    let r = p.run(&[
        "init",
        "--algorithm",
        "ed25519",
        "--builder-id",
        "https://example.com/ci@v1",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    git(p.dir(), &["add", "-A"]);
    git(p.dir(), &["commit", "-q", "-m", "init"]);
    let r = p.run(&["repo", "init", "--root-keys", "1", "--root-threshold", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    p
}

#[test]
fn release_on_a_full_disk_fails_clearly_and_corrupts_nothing() {
    let Some(fs) = Tmpfs::mount("4m") else {
        return;
    };
    let p = project_in(fs.path());
    let args = release_args(&p, "1.0.0");
    let r = p.run(&strs(&args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The artifact lives outside the small file system; its copy into the site cannot fit.
    let outside = tempfile::tempdir().unwrap();
    let big = outside.path().join(artifact_name("1.0.1"));
    std::fs::write(&big, vec![7u8; 8 << 20]).unwrap();
    let r = p.run(&[
        "release",
        big.to_str().unwrap(),
        "--product",
        "app",
        "--version",
        "1.0.1",
    ]);
    assert_ne!(r.code, 0, "a release that cannot fit succeeded");
    assert!(
        r.stderr.contains("No space left on device"),
        "unclear error: {}",
        r.stderr
    );
    // Named: the file that could not be written, not the artifact being read.
    assert!(
        r.stderr.contains("release-staging") && !r.stderr.contains(&big.display().to_string()),
        "the error does not name where it was writing: {}",
        r.stderr
    );
    assert!(!p.release_dir("app", "1.0.1").exists());
    site_is_whole(&p);
    release_is_complete(&p, "1.0.0");
    go_checker_verifies_log(&p.site());
    // With the space back (a smaller artifact), the next release goes out unaided.
    let args = release_args(&p, "1.0.1");
    let r = p.run(&strs(&args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    release_is_complete(&p, "1.0.1");
    let server = Server::start(&p.site());
    python_tuf_refreshes(
        &p,
        &server,
        &["1.0.0", "1.0.1"].map(|v| format!("app/{v}/{}", artifact_name(v))),
    );
}

#[test]
fn db_import_on_a_full_disk_fails_clearly_and_keeps_the_old_database() {
    let Some(fs) = Tmpfs::mount("512k") else {
        return;
    };
    let db = fs.path().join("db");
    let feed = tempfile::tempdir().unwrap();
    let small = feed.path().to_path_buf();
    for id in [
        "RUSTSEC-2021-0003",
        "RUSTSEC-2022-0013",
        "RUSTSEC-2020-0071",
    ] {
        let name = format!("{id}.json");
        std::fs::copy(
            common::advisories().join("crates.io").join(&name),
            small.join(&name),
        )
        .unwrap();
    }
    let big = common::advisories().join("rustsec-advisory-db");
    let cwd = tempfile::tempdir().unwrap();
    let import = |src: &Path| {
        common::run_in(
            cwd.path(),
            &[
                "db",
                "import",
                src.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
                "--name",
                "feed",
            ],
        )
    };
    let r = import(&small);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = db_status(cwd.path(), &db);
    let r = import(&big);
    assert_ne!(r.code, 0, "an import that cannot fit succeeded");
    assert!(
        r.stderr.contains("No space left on device"),
        "unclear error: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&db.display().to_string()),
        "the error does not name the database: {}",
        r.stderr
    );
    let after = db_status(cwd.path(), &db);
    assert_eq!(advisory_count(&after), advisory_count(&before));
}

// ---------------------------------------------------------------------------------------------
// Regressions for what the campaign found

#[test]
fn a_killed_release_leaves_no_staging_directory_in_the_site() {
    let p = with_repo();
    let args = release_args(&p, "1.0.0");
    let r = p.run(&strs(&args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // What a release killed mid-way used to leave (in the product directory), and what it
    // leaves now (outside the site): both are swept by the next release.
    let old_style = p.site().join("releases/app/.staging-1.0.1-999999");
    let new_style = p
        .dir()
        .join(".custody/log-state/release-staging/.staging-app-1.0.1-999999");
    for dir in [&old_style, &new_style] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(artifact_name("1.0.1")), b"half").unwrap();
    }
    let args = release_args(&p, "1.0.1");
    let r = p.run(&strs(&args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!old_style.exists() && !new_style.exists());
    site_is_whole(&p);
    release_is_complete(&p, "1.0.1");
}

#[test]
fn a_release_killed_before_its_tuf_commit_is_announced_by_the_next() {
    let p = with_repo();
    let args = release_args(&p, "1.0.0");
    assert_eq!(p.run(&strs(&args)).code, 0);
    // 1.0.1 reaches the site, but the repository is as it was before it: the kill came after
    // the rename, before the commit.
    let meta = p.site().join("tuf/metadata");
    let saved = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&meta).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), saved.path().join(e.file_name())).unwrap();
    }
    let args = release_args(&p, "1.0.1");
    assert_eq!(p.run(&strs(&args)).code, 0);
    std::fs::remove_dir_all(&meta).unwrap();
    std::fs::create_dir_all(&meta).unwrap();
    for e in std::fs::read_dir(saved.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), meta.join(e.file_name())).unwrap();
    }
    let pending = p.dir().join(".custody/log-state/tuf-pending");
    std::fs::create_dir_all(&pending).unwrap();
    std::fs::write(pending.join("app@1.0.1"), b"").unwrap();
    assert!(!tuf_targets(&p).contains("app/1.0.1/app-1.0.1.tar.gz"));

    let args = release_args(&p, "1.0.2");
    let r = p.run(&strs(&args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("app 1.0.1 was published by a release that did not finish")
    );
    let targets = tuf_targets(&p);
    for v in ["1.0.0", "1.0.1", "1.0.2"] {
        let art = artifact_name(v);
        assert!(
            targets.contains(&format!("app/{v}/{art}")),
            "{v}: {targets:?}"
        );
        assert!(targets.contains(&format!("app/{v}/{art}.sigstore.json")));
    }
    assert_eq!(std::fs::read_dir(&pending).unwrap().count(), 0);
    let server = Server::start(&p.site());
    python_tuf_refreshes(&p, &server, &["app/1.0.1/app-1.0.1.tar.gz".to_owned()]);
}

// ---------------------------------------------------------------------------------------------
// One writer at a time

#[test]
fn writers_of_one_project_take_turns() {
    let p = with_repo();
    // Another run holds the project's writer lock (as `custody serve` publishing would).
    let lock_path = p.dir().join(".custody/log-state/writer.lock");
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let held = std::fs::File::create(&lock_path).unwrap();
    held.lock().unwrap();

    let args = release_args(&p, "1.0.0");
    let mut release = common::custody()
        .current_dir(p.dir())
        .args(strs(&args))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let refresh = common::custody()
        .current_dir(p.dir())
        .args(["repo", "refresh", "--force"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The release prepares (gate, staging, signing) without the lock, then says it waits.
    let (said, waits) = std::sync::mpsc::channel();
    let stderr = release.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let line = line.unwrap_or_default();
            if line.contains("waiting for another custody run") {
                let _ = said.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let waited = waits.recv_timeout(Duration::from_secs(120)).is_ok();
    assert!(
        !p.site().join("releases/app/1.0.0").exists(),
        "the release waited for the lock"
    );
    drop(held);
    let status = release.wait().unwrap();
    let stderr = reader.join().unwrap();
    let refresh = refresh.wait_with_output().unwrap();
    assert!(status.success(), "{stderr}");
    assert!(waited, "the release never said it waits: {stderr}");
    assert!(
        refresh.status.success(),
        "{}",
        String::from_utf8_lossy(&refresh.stderr)
    );
    // Neither lost the other's commit: the release is a TUF target, whichever ran second.
    release_is_complete(&p, "1.0.0");
    assert!(
        tuf_targets(&p).iter().any(|t| t.contains("1.0.0")),
        "{:?}",
        tuf_targets(&p)
    );
    let r = p.run(&["repo", "status", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn concurrent_publishes_through_the_server_each_land_once() {
    const CLIENTS: usize = 6;
    const EACH: usize = 3;
    let p = with_repo();
    let (_, token) = p.token(&["--product", "app", "--scope", "publish"]);
    let (server, url) = common::serve_custody(&p, &[]);

    let pipeline = Project::new("ed25519");
    let mut wanted: Vec<String> = (0..CLIENTS * EACH).map(|i| format!("2.0.{i}")).collect();
    for v in &wanted {
        pipeline.artifact(&artifact_name(v), format!("app {v}").as_bytes());
    }
    // Two clients also race to publish one more version with the same artifact: one publishes
    // it, the other is answered with it.
    let shared = "3.0.0".to_owned();
    pipeline.artifact(&artifact_name(&shared), b"app 3.0.0");
    let publish = |version: &str| -> Run {
        common::custody()
            .current_dir(pipeline.dir())
            .env("CUSTODY_TOKEN", &token)
            .args([
                "release",
                &format!("dist/{}", artifact_name(version)),
                "--product",
                "app",
                "--version",
                version,
                "--publish",
                &url,
                "--json",
            ])
            .output()
            .unwrap()
            .into()
    };
    let fresh: Vec<bool> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for client in 0..CLIENTS {
            let mine: Vec<String> = wanted[client * EACH..(client + 1) * EACH].to_vec();
            let publish = &publish;
            let shared = &shared;
            handles.push(s.spawn(move || {
                let mut fresh = Vec::new();
                for v in &mine {
                    let r = publish(v);
                    assert_eq!(r.code, 0, "{v}: {}", r.stderr);
                    assert_eq!(r.json()["fresh"], true, "{v}");
                }
                if client < 2 {
                    let r = publish(shared);
                    assert_eq!(r.code, 0, "{shared}: {}", r.stderr);
                    fresh.push(r.json()["fresh"].as_bool().unwrap());
                }
                fresh
            }));
        }
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(
        fresh.iter().filter(|f| **f).count(),
        1,
        "the shared version was published once: {fresh:?}"
    );
    drop(server);

    wanted.push(shared);
    assert_eq!(versions(&p), wanted.iter().cloned().collect());
    for v in &wanted {
        release_is_complete(&p, v);
    }
    let targets = tuf_targets(&p);
    for v in &wanted {
        assert!(
            targets.iter().any(|t| t.contains(&artifact_name(v))),
            "{v} is not a TUF target"
        );
    }
    go_checker_verifies_log(&p.site());
    let site = Server::start(&p.site());
    let names: Vec<String> = wanted
        .iter()
        .map(|v| format!("app/{v}/{}", artifact_name(v)))
        .collect();
    python_tuf_refreshes(&p, &site, &names);
}

#[test]
fn two_frontends_on_one_postgresql_catalog_one_killed_midway() {
    const CLIENTS: usize = 20;
    const EACH: usize = 10;
    let Some(cluster) = postgres::Postgres::start() else {
        return;
    };
    let catalog = cluster.database("custody");
    let p = with_repo();
    p.use_catalog(&catalog);
    let (_, token) = p.token(&["--product", "app", "--scope", "publish"]);
    let (first, url_a) = common::serve_custody(&p, &[]);
    let (_second, url_b) = common::serve_custody(&p, &[]);
    let first = std::sync::Mutex::new(Some(first));

    let pipeline = Project::new("ed25519");
    let wanted: Vec<String> = (0..CLIENTS * EACH).map(|i| format!("4.0.{i}")).collect();
    for v in &wanted {
        pipeline.artifact(&artifact_name(v), format!("app {v}").as_bytes());
    }
    let publish = |version: &str, url: &str| -> Run {
        common::custody()
            .current_dir(pipeline.dir())
            .env("CUSTODY_TOKEN", &token)
            .args([
                "release",
                &format!("dist/{}", artifact_name(version)),
                "--product",
                "app",
                "--version",
                version,
                "--publish",
                url,
                "--json",
            ])
            .output()
            .unwrap()
            .into()
    };
    let acked = std::sync::atomic::AtomicUsize::new(0);
    let retried = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        // The first frontend is killed once a third of the releases are acknowledged.
        s.spawn(|| {
            while acked.load(std::sync::atomic::Ordering::SeqCst) < wanted.len() / 3 {
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(first.lock().unwrap().take());
        });
        for client in 0..CLIENTS {
            let mine = &wanted[client * EACH..(client + 1) * EACH];
            let (publish, acked, retried) = (&publish, &acked, &retried);
            let (url_a, url_b) = (&url_a, &url_b);
            s.spawn(move || {
                for v in mine {
                    // Half the clients go to the frontend that dies; a pipeline whose request
                    // fails runs the same command against the other one.
                    let url = if client % 2 == 0 { url_a } else { url_b };
                    let mut r = publish(v, url);
                    if r.code != 0 {
                        retried.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        r = publish(v, url_b);
                    }
                    assert_eq!(r.code, 0, "{v}: {}", r.stderr);
                    acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    assert!(
        retried.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the kill interrupted no request"
    );
    // One more release through the survivor, as the next pipeline would: it needs no repair,
    // and announces in TUF any release the killed frontend renamed into place but had not
    // committed.
    let last = "5.0.0".to_owned();
    pipeline.artifact(&artifact_name(&last), b"app 5.0.0");
    let r = publish(&last, &url_b);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut all = wanted.clone();
    all.push(last);
    assert_eq!(versions(&p), all.iter().cloned().collect());
    site_is_whole(&p);
    for v in &all {
        release_is_complete(&p, v);
    }
    let targets = tuf_targets(&p);
    for v in &all {
        let name = artifact_name(v);
        assert_eq!(
            targets.iter().filter(|t| t.ends_with(&name)).count(),
            1,
            "{v} is one TUF target"
        );
    }
    go_checker_verifies_log(&p.site());
    let site = Server::start(&p.site());
    let some: Vec<String> = all
        .iter()
        .step_by(50)
        .map(|v| format!("app/{v}/{}", artifact_name(v)))
        .collect();
    python_tuf_refreshes(&p, &site, &some);
}
