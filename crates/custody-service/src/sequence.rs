//! One writer at a time for a project's transparency log and TUF repository.
//!
//! Releasing, refreshing or rotating TUF metadata, appending to the log and re-witnessing it
//! each read the current state and write the next; two at once would lose one's commit (a TUF
//! refresh racing a release), or fail on the log's own single-writer lock. Each therefore holds
//! the project's writer lock for its whole run: an advisory `flock` on
//! `<log-state>/writer.lock`, which waits for the holder rather than failing, so the CLI and
//! `custody serve` (and the server's concurrent publishes) take turns. The kernel drops the lock
//! when its holder dies, so a killed run never leaves it held.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use custody_site::config::Loaded;

use crate::Error;
use crate::env::Events;

/// The lock file, in the log's state directory.
pub const WRITER_LOCK: &str = "writer.lock";

/// The project's writer lock, held until dropped.
#[derive(Debug)]
pub struct Writer {
    _file: File,
}

/// Takes the project's writer lock, waiting (and saying so) while another run holds it.
pub fn writer(loaded: &Loaded, events: &dyn Events) -> Result<Writer, Error> {
    let dir = loaded.log_state_dir();
    let path: PathBuf = dir.join(WRITER_LOCK);
    let failed = |source| Error::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(failed)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            events.progress(&format!(
                "waiting for another custody run writing this project (holding {})",
                path.display()
            ));
            file.lock().map_err(failed)?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
    }
    Ok(Writer { _file: file })
}
