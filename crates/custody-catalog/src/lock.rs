//! One writer among frontends on separate hosts: a PostgreSQL session-level advisory lock.
//!
//! Frontends that share one PostgreSQL catalog serialise their log appends and TUF edits on it,
//! whatever their filesystems share: a `flock` on a network filesystem may be local to each
//! host. The lock belongs to a connection of its own, so it is held exactly as long as that
//! session lives: [`WriterLock`] is released when dropped, and PostgreSQL releases it when the
//! holder dies (a killed frontend's socket closes). It does not fence: a holder cut off from
//! the database for longer than TCP keepalive notices loses the lock while it may still write,
//! which is why the service keeps its local `flock` beside it.
//!
//! The lock's key is computed by the server from a name (the log's origin), so projects that
//! share a database cluster do not wait for each other. A released lock's session is kept for
//! the next writer of the process (one at a time): connecting costs a server process start,
//! once per batch of releases otherwise.

use std::sync::Mutex;

use crate::backend::{BackendError, redact};
use crate::error::Error;

/// The session of the last lock released, with its URL, for the next one to reuse.
static IDLE: Mutex<Option<(String, postgres::Client)>> = Mutex::new(None);

/// Mixed into the name's hash so the key differs from other advisory locks on the database
/// (the schema migration's is 7395012661).
const SEED: i64 = 0x0063_7573_746f_6479; // "custody" in ASCII

/// A PostgreSQL advisory lock, held until dropped.
pub struct WriterLock {
    /// Always `Some` until dropped, when the session may go back to [`IDLE`].
    client: Option<postgres::Client>,
    url: String,
    location: String,
    /// The lock's name, once taken: what [`Drop`] unlocks.
    name: Option<String>,
}

impl std::fmt::Debug for WriterLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterLock")
            .field("location", &self.location)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl WriterLock {
    /// Takes the lock named `name` on the database at `url`, calling `waiting` once before
    /// blocking if another session holds it.
    pub fn take(url: &str, name: &str, waiting: &mut dyn FnMut()) -> Result<Self, Error> {
        let mut lock = Self::connect(url)?;
        if !lock.query_lock(
            "SELECT pg_try_advisory_lock(hashtextextended($1, $2))",
            name,
        )? {
            waiting();
            lock.query_lock(
                "SELECT true FROM (SELECT pg_advisory_lock(hashtextextended($1, $2))) AS waited",
                name,
            )?;
        }
        lock.name = Some(name.to_owned());
        Ok(lock)
    }

    /// Takes the lock named `name` if no other session holds it.
    pub fn try_take(url: &str, name: &str) -> Result<Option<Self>, Error> {
        let mut lock = Self::connect(url)?;
        if lock.query_lock(
            "SELECT pg_try_advisory_lock(hashtextextended($1, $2))",
            name,
        )? {
            lock.name = Some(name.to_owned());
            Ok(Some(lock))
        } else {
            Ok(None)
        }
    }

    /// Whether the lock's session is still open: a closed one no longer holds it.
    pub fn is_held(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.is_closed())
    }

    fn connect(url: &str) -> Result<Self, Error> {
        let location = redact(url);
        let idle = IDLE.lock().ok().and_then(|mut idle| idle.take());
        let reused = idle.filter(|(was, client)| was == url && !client.is_closed());
        let connected = match reused {
            Some((_, client)) => Ok(client),
            None => crate::tls::connect(url),
        };
        match connected {
            Ok(client) => Ok(Self {
                client: Some(client),
                url: url.to_owned(),
                location,
                name: None,
            }),
            Err(source) => Err(Error::WriterLock { location, source }),
        }
    }

    /// Runs one of the lock functions on `name`; its boolean answer.
    fn query_lock(&mut self, sql: &str, name: &str) -> Result<bool, Error> {
        let failed = |e| Error::WriterLock {
            location: self.location.clone(),
            source: BackendError::from(e),
        };
        let Some(client) = self.client.as_mut() else {
            return Ok(false);
        };
        let row = client.query_one(sql, &[&name, &SEED]).map_err(failed)?;
        row.try_get::<_, bool>(0).map_err(failed)
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        // Unlocked, the session goes back for the next writer; if the unlock fails, dropping
        // the client ends the session, which releases the lock as surely.
        let unlock = "SELECT pg_advisory_unlock(hashtextextended($1, $2))";
        if matches!(self.query_lock(unlock, &name), Ok(true))
            && let (Some(client), Ok(mut idle)) = (self.client.take(), IDLE.lock())
        {
            *idle = Some((std::mem::take(&mut self.url), client));
        }
    }
}
