//! One writer at a time for a project's transparency log and TUF repository.
//!
//! Releasing, refreshing or rotating TUF metadata, appending to the log and re-witnessing it
//! each read the current state and write the next; two at once would lose one's commit (a TUF
//! refresh racing a release), or fail on the log's own single-writer lock. Each therefore holds
//! the project's writer lock for its whole run: an advisory `flock` on
//! `<log-state>/writer.lock`, which waits for the holder rather than failing, so the CLI and
//! `custody serve` (and the server's concurrent publishes) take turns. The kernel drops the lock
//! when its holder dies, so a killed run never leaves it held.
//!
//! When the catalog is PostgreSQL, frontends may run on separate hosts whose filesystems do not
//! share `flock`, so the writer first takes an advisory lock in the database, named by the
//! log's origin ([`custody_catalog::WriterLock`]), then the local `flock`: always in that
//! order, so two writers never hold one each and wait for the other.

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
    _database: Option<custody_catalog::WriterLock>,
}

/// Takes the project's writer lock, waiting (and saying so) while another run holds it.
pub fn writer(loaded: &Loaded, events: &dyn Events) -> Result<Writer, Error> {
    let database = database_lock(loaded, events)?;
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
    Ok(Writer {
        _file: file,
        _database: database,
    })
}

/// The database's writer lock, when the catalog is a PostgreSQL URL.
fn database_lock(
    loaded: &Loaded,
    events: &dyn Events,
) -> Result<Option<custody_catalog::WriterLock>, Error> {
    let catalog = loaded.config.monitor.catalog.to_string_lossy();
    if !custody_catalog::is_url(&catalog) {
        return Ok(None);
    }
    let origin = &loaded.config.log.origin;
    let location = custody_catalog::backend::redact(&catalog);
    let mut waiting = || {
        events.progress(&format!(
            "waiting for another frontend writing this project (holding the writer lock for \
             {origin} in {location})"
        ));
    };
    custody_catalog::WriterLock::take(&catalog, origin, &mut waiting)
        .map(Some)
        .map_err(|source| Error::Catalog {
            location,
            source: Box::new(source),
        })
}
