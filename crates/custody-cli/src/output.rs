//! Human text on stdout, progress on stderr, or one JSON document on stdout.

use std::process::ExitCode;

use custody_service::{Error as ServiceError, ErrorKind};
use serde::Serialize;

/// Exit code for bad usage or unreadable input.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for "not verified" or "refused".
pub const EXIT_FAILED: u8 = 1;

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
    /// What to do about it, in this command line's terms.
    pub hint: Option<&'static str>,
}

/// The one place a service error becomes an exit code: the caller's input at fault is 2,
/// anything refused or failed is 1.
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Input => EXIT_USAGE,
        _ => EXIT_FAILED,
    }
}

/// What a user of this command line can do about a service error. The service's messages say
/// what is wrong without naming flags; the flags are the CLI's.
fn hint(e: &ServiceError) -> Option<&'static str> {
    match e {
        ServiceError::LookupIndexLost { .. } => Some(
            "run `custody log reindex`: it rebuilds the index from the site's release and notice \
             bundles",
        ),
        ServiceError::NoAdvisories { .. } => Some(
            "run `custody db import PATH` first (PATH: a directory of OSV files, an osv.dev \
             zip, or the RustSec database); outside a project pass --db DIR or set CUSTODY_DB",
        ),
        ServiceError::GateNeedsDatabase { .. } => Some(
            "import one with `custody db import`, or pass --no-scan to release unscanned \
             (recorded in the release)",
        ),
        ServiceError::GateRefused { .. } => Some(
            "to record why the product is not affected: custody vex add ID --product PRODUCT \
             --status not_affected --justification ...",
        ),
        ServiceError::UnnamedSource { .. } => Some("give the source a name with --name"),
        ServiceError::NoRepository { .. } => Some("create one with `custody repo init`"),
        ServiceError::RootThreshold { .. } => {
            Some("--root-threshold must be between 1 and --root-keys")
        }
        ServiceError::RotationStaged { .. } => Some(
            "publish the staged root with `custody repo publish-root FILE`, or delete the \
             .next key to start over",
        ),
        ServiceError::OnlineRoleKeys { .. } => {
            Some("give one --new-key (a private key file), or none to generate one")
        }
        ServiceError::RootRotationWithoutKeys => {
            Some("give --new-key for each new root public key")
        }
        ServiceError::NoTrustedRoot { .. } => Some("give --root (the supplier's 1.root.json)"),
        ServiceError::OnlyPrereleases { .. } => Some("pass --pre to take one"),
        ServiceError::ProductNotAFileName { .. } => Some("name the file with --file"),
        ServiceError::NoWitnesses => Some("name them under [[log.witnesses]] in custody.toml"),
        ServiceError::InsecureHttp { .. } => {
            Some("pass --allow-insecure-http to accept plain HTTP anyway (unsafe)")
        }
        ServiceError::Site(site) if matches!(**site, custody_site::Error::DirtyTree { .. }) => {
            Some("commit the changes, or pass --allow-dirty (recorded in the provenance)")
        }
        _ => None,
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        let error = e.into();
        let service = error.downcast_ref::<ServiceError>();
        Self {
            code: service.map_or(EXIT_FAILED, |s| exit_code(s.kind())),
            hint: service.and_then(hint),
            error,
        }
    }
}

/// Mark an error as bad usage or unreadable input.
pub fn usage(e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        ..Failure::from(e)
    }
}

pub type CmdResult = Result<ExitCode, Failure>;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
}

impl Output {
    pub fn new(json: bool, quiet: bool) -> Self {
        Self { json, quiet }
    }

    /// A progress or diagnostic line on stderr (never in JSON mode's stdout).
    pub fn progress(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// A warning on stderr, shown even with --quiet.
    pub fn warn(&self, msg: impl AsRef<str>) {
        eprintln!("warning: {}", msg.as_ref());
    }

    /// The command's result: JSON on stdout, or the human text.
    pub fn result<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot serialise output: {e}"),
            }
        } else {
            let text = human();
            if !text.is_empty() {
                println!("{}", text.trim_end());
            }
        }
    }

    /// Report a failure and give its exit code.
    pub fn error(&self, failure: &Failure) -> ExitCode {
        let chain = said_once(&failure.error);
        if self.json {
            let v = serde_json::json!({
                "ok": false,
                "error": chain.join(": "),
                "hint": failure.hint,
                "exitCode": failure.code,
            });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        eprintln!("error: {}", chain.join(": "));
        if let Some(hint) = failure.hint {
            eprintln!("hint: {hint}");
        }
        ExitCode::from(failure.code)
    }
}

/// Progress and warnings from the service, on standard error.
impl custody_service::env::Events for Output {
    fn progress(&self, message: &str) {
        Output::progress(self, message);
    }
    fn warn(&self, message: &str) {
        Output::warn(self, message);
    }
}

/// The messages of `error` and its sources, each part once: many errors print their source in
/// their own message too, and the chain would repeat it.
fn said_once(error: &anyhow::Error) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !chain.iter().any(|said| said.contains(&text)) {
            chain.push(text);
        }
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints its source in its own message, as many do.
    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot take the writer lock: {}", self.0)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_its_error_already_printed_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = anyhow::Error::new(Outer(io)).context("the catalog db");
        assert_eq!(
            said_once(&error),
            ["the catalog db", "cannot take the writer lock: refused"]
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(said_once(&plain), ["outer", "inner"]);
    }
}
