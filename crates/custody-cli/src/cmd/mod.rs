pub mod db;
pub mod digest;
pub mod init;
pub mod key;
pub mod log;
pub mod monitor;
pub mod release;
pub mod repo;
pub mod sbom;
pub mod scan;
pub mod serve;
pub mod token;
pub mod update;
pub mod verify;
pub mod vex;

/// The HTTP agent commands reach witnesses, feeds and servers through.
pub fn transport() -> std::sync::Arc<dyn custody_service::transport::Transport> {
    std::sync::Arc::new(custody_service::transport::HttpTransport::new())
}
