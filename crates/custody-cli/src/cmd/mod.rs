pub mod db;
pub mod digest;
pub mod doctor;
pub mod evidence;
pub mod init;
pub mod key;
pub mod log;
pub mod monitor;
pub mod rebuild;
pub mod release;
pub mod repo;
pub mod sbom;
pub mod scan;
pub mod serve;
pub mod token;
pub mod tutorial;
pub mod update;
pub mod verify;
pub mod vex;

/// The HTTP agent commands reach witnesses, feeds and servers through.
pub fn transport() -> std::sync::Arc<dyn custody_service::transport::Transport> {
    std::sync::Arc::new(custody_service::transport::HttpTransport::new())
}

/// A TUF role's key rotation, as `custody repo rotate` and `custody key rotate` report it.
pub fn rotate_tuf_key(
    loaded: &custody_site::config::Loaded,
    rotation: &custody_service::repo::Rotation,
    keys: &dyn custody_service::env::KeySource,
    out: &crate::output::Output,
) -> crate::output::CmdResult {
    let report =
        custody_service::repo::rotate(loaded, rotation, keys, &custody_service::env::SystemClock)?;
    out.result(&report, || match &report.staged {
        None => format!(
            "Rotated the {} key: root version {} is published",
            report.role, report.root_version
        ),
        Some(path) => format!(
            "Staged root version {} at {} ({} signature(s) so far).\n\
             Each root key holder signs it offline:  custody repo sign-root {} --key ROOT_KEY\n\
             then publish it:                        custody repo publish-root {}",
            report.root_version,
            path.display(),
            report.signatures,
            path.display(),
            path.display()
        ),
    });
    Ok(std::process::ExitCode::SUCCESS)
}
