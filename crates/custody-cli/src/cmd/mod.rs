pub mod digest;
pub mod init;
pub mod key;
pub mod release;
pub mod sbom;
pub mod verify;
