//! A few catalog connections shared by the requests of one process.
//!
//! `custody serve` answers requests on many threads, and each one that touches the catalog
//! (a token check, an audit record, a release catalogued after publishing) needs a connection.
//! One connection taken in turn makes every request wait for every other's round trip and,
//! on PostgreSQL, for every other's commit to reach the disk; a connection opened per use pays
//! for the connection, its authentication and the schema check each time. A pool keeps up to
//! `size` connections, opens them as they are first needed, and lends each to one caller at a
//! time: concurrent commits then reach PostgreSQL together, which flushes them together.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use custody_catalog::Catalog;

use crate::Error;

/// Opens another connection to the pool's catalog.
type Open = Box<dyn Fn() -> Result<Catalog, Error> + Send + Sync>;

/// Up to `size` catalog connections, lent one caller at a time.
pub struct CatalogPool {
    open: Open,
    size: usize,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    idle: Vec<Catalog>,
    lent: usize,
}

impl std::fmt::Debug for CatalogPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogPool")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A connection lent by a [`CatalogPool`]; it goes back when dropped.
#[derive(Debug)]
pub struct Pooled<'a> {
    pool: &'a CatalogPool,
    catalog: Option<Catalog>,
}

impl CatalogPool {
    /// A pool of at most `size` (at least one) connections, starting with `first`, that opens
    /// more with `open`.
    pub fn new(
        first: Catalog,
        size: usize,
        open: impl Fn() -> Result<Catalog, Error> + Send + Sync + 'static,
    ) -> Self {
        Self {
            open: Box::new(open),
            size: size.max(1),
            state: Mutex::new(State {
                idle: vec![first],
                lent: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// A connection: an idle one, a new one while fewer than `size` are open, or else the
    /// first one returned.
    pub fn get(&self) -> Result<Pooled<'_>, Error> {
        let mut state = self.lock();
        loop {
            if let Some(catalog) = state.idle.pop() {
                state.lent += 1;
                return Ok(Pooled {
                    pool: self,
                    catalog: Some(catalog),
                });
            }
            if state.lent < self.size {
                state.lent += 1;
                drop(state);
                return match (self.open)() {
                    Ok(catalog) => Ok(Pooled {
                        pool: self,
                        catalog: Some(catalog),
                    }),
                    Err(e) => {
                        self.lock().lent -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is one statement: a panic elsewhere leaves it whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        // Present from construction until drop.
        self.catalog.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Catalog {
        self.catalog.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        state.lent -= 1;
        if let Some(catalog) = self.catalog.take().filter(|c| !c.is_closed()) {
            state.idle.push(catalog);
        }
        drop(state);
        self.pool.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn pool(size: usize) -> (CatalogPool, Arc<AtomicUsize>) {
        let opened = Arc::new(AtomicUsize::new(0));
        let counter = opened.clone();
        let pool = CatalogPool::new(Catalog::in_memory().unwrap(), size, move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Catalog::in_memory().map_err(|source| Error::Catalog {
                location: ":memory:".into(),
                source: Box::new(source),
            })
        });
        (pool, opened)
    }

    #[test]
    fn connections_are_reused_and_opened_only_up_to_the_size() {
        let (pool, opened) = pool(2);
        drop(pool.get().unwrap());
        drop(pool.get().unwrap());
        assert_eq!(opened.load(Ordering::SeqCst), 0, "the first is reused");
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        assert_eq!(opened.load(Ordering::SeqCst), 1);
        // A third caller waits for one of the two.
        std::thread::scope(|s| {
            let waiting = s.spawn(|| pool.get().map(|_| ()).is_ok());
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiting.is_finished(), "a third connection was lent");
            drop(a);
            assert!(waiting.join().unwrap());
        });
        drop(b);
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_open_frees_its_place() {
        let pool = CatalogPool::new(Catalog::in_memory().unwrap(), 2, || {
            Err(Error::Catalog {
                location: "nowhere".into(),
                source: Box::new(custody_catalog::Error::SchemaTooNew {
                    found: 99,
                    supported: 1,
                }),
            })
        });
        let first = pool.get().unwrap();
        assert!(pool.get().is_err());
        assert!(
            pool.get().is_err(),
            "the failed open did not keep its place"
        );
        drop(first);
        assert!(pool.get().is_ok());
    }
}
