//! A supplier project in a temp dir, and the `custody` binary run against it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PASS: &str = "correct horse battery staple";
/// `custody release` of `dist/app.tgz` as app 1.0.0, without an SBOM scan.
pub const RELEASE_UNSCANNED: [&str; 7] = [
    "release",
    "dist/app.tgz",
    "--product",
    "app",
    "--version",
    "1.0.0",
    "--no-scan",
];
/// The user PIN of [`SoftHsm`] tokens.
pub const PKCS11_PIN: &str = "4711";

/// A `Cargo.lock` pinning smallvec 0.6.13 (RUSTSEC-2021-0003, critical), regex 1.5.4
/// (RUSTSEC-2022-0013, high) and time 0.1.43 (RUSTSEC-2020-0071, medium), all in the shared
/// crates.io snapshot.
pub const VULNERABLE_LOCK: &str = r#"version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["regex", "smallvec", "time"]

[[package]]
name = "regex"
version = "1.5.4"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "smallvec"
version = "0.6.13"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "time"
version = "0.1.43"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

pub fn custody() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custody"));
    c.env_remove("CUSTODY_PASSPHRASE_FILE");
    c.env("CUSTODY_PASSPHRASE", PASS);
    c
}

/// `custody` run in `cwd`, with no advisory database taken from the environment: the user's
/// data directory is `cwd/.xdg-data`, empty unless the test fills it.
pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    custody()
        .current_dir(cwd)
        .env_remove("CUSTODY_DB")
        .env("XDG_DATA_HOME", cwd.join(".xdg-data"))
        .args(args)
        .output()
        .unwrap()
        .into()
}

/// The trimmed real advisory snapshots in the repository (`testdata/advisories`; its README says
/// where each came from and how they were trimmed).
pub fn advisories() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/advisories")
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Project {
    pub tmp: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

impl Project {
    /// A git repo with an `origin`, `custody init` done and committed.
    pub fn new(algorithm: &str) -> Self {
        Self::with_init(&["--algorithm", algorithm], |_| {})
    }

    /// [`Project::new`] with `init_args` for `custody init`, run as `prepare` sets it up (a
    /// token's environment, say).
    pub fn with_init(init_args: &[&str], prepare: impl FnOnce(&mut Command)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let dir = dir.as_path();
        git(dir, &["init", "-q", "-b", "main"]);
        git(
            dir,
            &[
                "remote",
                "add",
                "origin",
                "https://example.com/acme/app.git",
            ],
        );
        std::fs::create_dir_all(dir.join("dist")).unwrap();
        std::fs::write(dir.join(".gitignore"), "dist/\n").unwrap();
        let p = Self { tmp };
        let mut init = custody();
        prepare(&mut init);
        let r: Run = init
            .current_dir(p.dir())
            .args(
                [
                    &["init", "--builder-id", "https://example.com/ci@v1"][..],
                    init_args,
                ]
                .concat(),
            )
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 0, "{}", r.stderr);
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "init"]);
        p
    }

    /// Write [`VULNERABLE_LOCK`] as `app/Cargo.lock`, not yet committed.
    pub fn write_vulnerable_app(&self) {
        std::fs::create_dir_all(self.dir().join("app")).unwrap();
        std::fs::write(self.dir().join("app/Cargo.lock"), VULNERABLE_LOCK).unwrap();
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn run(&self, args: &[&str]) -> Run {
        custody()
            .current_dir(self.dir())
            .args(args)
            .output()
            .unwrap()
            .into()
    }

    pub fn artifact(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.dir().join("dist").join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    pub fn site(&self) -> PathBuf {
        self.dir().join("site")
    }

    pub fn release_dir(&self, product: &str, version: &str) -> PathBuf {
        self.site().join("releases").join(product).join(version)
    }

    /// Release two artifacts as app 1.4.2.
    pub fn release(&self) -> PathBuf {
        self.artifact("app-1.4.2.tar.gz", b"tarball bytes");
        self.artifact("app-1.4.2.zip", b"zip bytes");
        let r = self.run(&[
            "release",
            "dist/app-1.4.2.tar.gz",
            "dist/app-1.4.2.zip",
            "--product",
            "app",
            "--version",
            "1.4.2",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        self.release_dir("app", "1.4.2")
    }

    /// `custody verify` with the site's trust files and extra args.
    pub fn verify(&self, artifact: &Path, extra: &[&str]) -> Run {
        let trust = self.site().join("trusted_root.json");
        let policy = self.site().join("custody-policy.json");
        let mut args: Vec<&str> = vec!["verify"];
        args.push(artifact.to_str().unwrap());
        args.extend([
            "--trust",
            trust.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ]);
        args.extend(extra);
        self.run(&args)
    }

    pub fn public_key_pem(&self) -> PathBuf {
        self.dir().join(".custody/release.key.pub")
    }
}

/// The in-toto Statement inside a bundle file's DSSE envelope.
pub fn statement(bundle: &Path) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    serde_json::from_slice(&payload(&v)).unwrap()
}

/// The decoded DSSE payload of a parsed bundle.
pub fn payload(bundle: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap()
}

/// The interop directory: third-party checkers and their installed packages.
pub fn interop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

pub fn python() -> String {
    std::env::var("CUSTODY_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// A directory served by `python3 -m http.server` on a loopback port, stopped on drop.
pub struct Server {
    child: Child,
    port: u16,
}

impl Server {
    pub fn start(dir: &Path) -> Self {
        // The port is free when asked for but could be taken before the server binds it; a
        // server that exits at once gets another port.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(python())
                .args(["-m", "http.server", "--bind", "127.0.0.1"])
                .arg(port.to_string())
                .arg("--directory")
                .arg(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {} -m http.server: {e}", python()));
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self { child, port };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("http.server did not start for {}", dir.display());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory of advisories outside any project, fed real crates.io advisories from
/// `testdata/` one at a time and imported into a project as the source `osv`.
pub struct AdvisoryFeed {
    tmp: tempfile::TempDir,
}

impl AdvisoryFeed {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// Adds the crates.io advisory `id` (RUSTSEC-...).
    pub fn add(&self, id: &str) {
        std::fs::copy(
            advisories().join("crates.io").join(format!("{id}.json")),
            self.dir().join(format!("{id}.json")),
        )
        .unwrap();
    }

    /// `custody db import` of everything added so far.
    pub fn import(&self, p: &Project) {
        let r = p.run(&[
            "db",
            "import",
            self.dir().to_str().unwrap(),
            "--name",
            "osv",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
}

impl Project {
    /// A bundle about `artifact` (as `dist/tool.bin`) signed with the project's release key
    /// and not logged: `dist/tool.bin.sigstore.json`.
    pub fn unlogged_bundle(&self, artifact: &[u8]) -> PathBuf {
        let pem = std::fs::read_to_string(self.dir().join(".custody/release.key")).unwrap();
        let key =
            custody_crypto::SigningKey::from_pkcs8_pem(&pem, Some(PASS.as_bytes()), false).unwrap();
        let path = self.dir().join("dist/tool.bin.sigstore.json");
        std::fs::write(&path, signed_statement(&key, artifact)).unwrap();
        path
    }

    /// The release key's hint, as `custody key public` prints it.
    pub fn release_key_hint(&self) -> String {
        self.run(&["key", "public", ".custody/release.key", "--json"])
            .json()["hint"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Points `[monitor] catalog` at `location`: a SQLite file or a PostgreSQL URL.
    pub fn use_catalog(&self, location: &str) {
        self.set_config("[monitor]", "catalog", location);
    }

    /// Points `[log] key` at `location`, and commits the change.
    pub fn use_log_key(&self, location: &str) {
        self.set_config("[log]", "key", location);
        git(self.dir(), &["commit", "-qam", "log key"]);
    }

    /// Sets `name = "value"` in `section` of custody.toml, where custody init wrote it.
    fn set_config(&self, section: &str, name: &str, value: &str) {
        let config = self.dir().join("custody.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let (mut found, mut inside) = (false, false);
        let mut out = String::with_capacity(text.len());
        for line in text.lines() {
            if line.starts_with('[') {
                inside = line == section;
            }
            if inside && line.starts_with(&format!("{name} = ")) {
                found = true;
                out.push_str(&format!("{name} = \"{value}\""));
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        assert!(found, "custody init writes {section} {name}:\n{text}");
        std::fs::write(&config, out).unwrap();
    }

    /// `custody token create --json ARGS`: the token's id and secret.
    pub fn token(&self, args: &[&str]) -> (String, String) {
        let r = self.run(&[&["token", "create", "--json"][..], args].concat());
        assert_eq!(r.code, 0, "{}", r.stderr);
        let j = r.json();
        (
            j["id"].as_str().unwrap().to_owned(),
            j["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// `custody vex add ID --product app --status not_affected`.
    pub fn vex_not_affected(&self, id: &str) {
        let r = self.run(&[
            "vex",
            "add",
            id,
            "--product",
            "app",
            "--status",
            "not_affected",
            "--justification",
            "vulnerable_code_not_in_execute_path",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }

    /// Releases `dist/app.tgz` as app `version` with the SBOM of `app/Cargo.lock`.
    pub fn release_app(&self, version: &str) {
        let r = self.run(&[
            "release",
            "dist/app.tgz",
            "--product",
            "app",
            "--version",
            version,
            "--sbom",
            "app/Cargo.lock",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
}

/// Each request the loopback server received: (headers, body).
pub type Requests = Arc<Mutex<Vec<(Vec<String>, Vec<u8>)>>>;

/// A one-thread HTTP server on 127.0.0.1 that answers every POST 200 and keeps what it got.
pub fn hook_server() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Requests = Arc::default();
    let keep = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end().to_owned();
                if line.is_empty() {
                    break;
                }
                headers.push(line);
            }
            let len = headers
                .iter()
                .find_map(|h| {
                    let (k, v) = h.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            keep.lock().unwrap().push((headers, body));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

pub fn header<'a>(headers: &'a [String], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A child process killed when dropped, also when the test panics.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `custody serve --listen 127.0.0.1:0` in `p` with `extra` flags: the process and its URL
/// (the last word of the first line it prints).
pub fn serve_custody(p: &Project, extra: &[&str]) -> (Killed, String) {
    serve_custody_with(p, extra, |_| {})
}

/// [`serve_custody`], the command set up by `prepare` first (a token's environment, say).
pub fn serve_custody_with(
    p: &Project,
    extra: &[&str],
    prepare: impl FnOnce(&mut Command),
) -> (Killed, String) {
    let mut command = custody();
    prepare(&mut command);
    let mut child = command
        .current_dir(p.dir())
        .args([&["serve", "--listen", "127.0.0.1:0"][..], extra].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let url = line.rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (Killed(child), url)
}

/// A bundle (JSON) of an in-toto statement about `artifact` as `tool.bin`, signed by `key`.
pub fn signed_statement(key: &custody_crypto::SigningKey, artifact: &[u8]) -> String {
    let sha = custody_crypto::Sha256Digest::of(artifact).to_hex();
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "tool.bin", "digest": { "sha256": sha } }],
        "predicateType": "https://example.com/attestation/v1",
        "predicate": {},
    });
    let bundle = custody_attest::bundle::sign(
        key,
        custody_attest::bundle::IN_TOTO_PAYLOAD_TYPE,
        &serde_json::to_vec(&statement).unwrap(),
    )
    .unwrap();
    custody_attest::bundle::to_json(&bundle).unwrap()
}

pub use custody_pkcs11::softhsm::MODULE;

/// A SoftHSM token labelled `custody` in a temporary directory.
pub struct SoftHsm {
    dir: tempfile::TempDir,
}

impl SoftHsm {
    pub fn new() -> Option<Self> {
        if !custody_pkcs11::softhsm::installed() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI: SoftHSM (Debian softhsm2) is missing: {MODULE}"
            );
            eprintln!("skipped: no SoftHSM at {MODULE}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        custody_pkcs11::softhsm::init_token(dir.path(), "custody", "0000", PKCS11_PIN).unwrap();
        Some(Self { dir })
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    pub fn uri(&self, object: &str) -> String {
        format!("pkcs11:token=custody;object={object}?module-path={MODULE}")
    }

    /// Points `c` at this token, with `pin`.
    pub fn point(&self, c: &mut Command, pin: &str) {
        c.env("SOFTHSM2_CONF", self.conf())
            .env("CUSTODY_PKCS11_PIN", pin)
            .env_remove("CUSTODY_PKCS11_PIN_FILE");
    }

    /// `custody ARGS` in `dir` with this token and `pin`.
    pub fn run(&self, dir: &Path, pin: &str, args: &[&str]) -> Run {
        let mut c = custody();
        self.point(&mut c, pin);
        c.current_dir(dir).args(args).output().unwrap().into()
    }
}
