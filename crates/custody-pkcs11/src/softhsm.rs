//! SoftHSM 2 (Debian `softhsm2`), a software token: what the tests, the benchmarks and a
//! try-out use where no hardware token is at hand. A token lives in a directory of its own,
//! found through the configuration file that `SOFTHSM2_CONF` names when the module loads.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's SoftHSM 2 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Whether SoftHSM is installed here.
pub fn installed() -> bool {
    Path::new(MODULE).is_file()
}

/// Makes a token labelled `label` with user `pin` in `dir` (security officer PIN `so_pin`) and
/// returns the configuration file to point `SOFTHSM2_CONF` at.
pub fn init_token(dir: &Path, label: &str, so_pin: &str, pin: &str) -> std::io::Result<PathBuf> {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens)?;
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )?;
    let out = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", label])
        .args(["--so-pin", so_pin, "--pin", pin])
        .env("SOFTHSM2_CONF", &conf)
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "softhsm2-util --init-token: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(conf)
}
