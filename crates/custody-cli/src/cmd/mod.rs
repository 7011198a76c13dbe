pub mod digest;
pub mod init;
pub mod key;
pub mod log;
pub mod release;
pub mod sbom;
pub mod verify;
