//! Human text on stdout, progress on stderr, or one JSON document on stdout.

use std::process::ExitCode;

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
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self {
            code: EXIT_FAILED,
            error: e.into(),
        }
    }
}

/// Mark an error as bad usage or unreadable input.
pub fn usage(e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        error: e.into(),
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
        let chain: Vec<String> = failure.error.chain().map(ToString::to_string).collect();
        if self.json {
            let v = serde_json::json!({
                "ok": false,
                "error": chain.join(": "),
                "exitCode": failure.code,
            });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        eprintln!("error: {}", chain.join(": "));
        ExitCode::from(failure.code)
    }
}
