//! custody-server: custody's HTTP side.
//!
//! - [`site`]: serves a release site as static files, saying in `Cache-Control` which files
//!   never change (log tiles, published releases, TUF targets and versioned metadata) and
//!   which do (the log checkpoint, TUF timestamp, root), so a CDN can cache the first for a
//!   year and must revalidate the second.
//! - [`api`]: the publishing service's JSON API, with bearer tokens and the audit log, over
//!   `custody-service`.
//! - [`witness`]: a c2sp.org/tlog-witness `add-checkpoint` endpoint, around the pure decision
//!   in [`custody_tlog::WitnessedLog`], with its state made durable before it answers.
//!
//! Design: handlers parse, call the libraries and map errors to statuses; everything that
//! decides is in `custody-tlog`. The CLI runs a router with [`serve`], which blocks.
//!
//! ```no_run
//! let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
//! custody_server::serve(listener, custody_server::site::router("site".into()))?;
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod api;
mod dashboard;
pub mod pages;
pub mod report;
pub mod site;
pub mod witness;

pub use custody_tlog::WitnessState;

/// The publishing service of a project: the JSON API under `/api/v1` and the dashboard under
/// `/ui`, on one catalog, with `clock` for token expiry and the audit log, and `publisher` (or
/// why there is none) for uploads and releases.
pub fn service(
    project: api::Project,
    clock: std::sync::Arc<dyn custody_service::env::Clock>,
    publisher: Result<api::Publisher, String>,
) -> axum::Router {
    api::routes()
        .merge(dashboard::routes())
        .with_state(api::state(project, clock, publisher))
}
pub use witness::Witness;

/// Serves `router` on `listener` until the process ends, on a runtime of its own so that
/// callers stay synchronous.
///
/// One worker thread per core: a current-thread runtime left the second core idle under load.
/// Every accepted connection gets `TCP_NODELAY`: with Nagle's algorithm on, a response whose
/// headers and body leave in two writes waits for the client's delayed ACK (about 40 ms on
/// Linux), which capped a single keep-alive connection near 25-35 requests/s.
pub fn serve(listener: std::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    listener.set_nonblocking(true)?;
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .enable_time()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(|tcp| {
            // Best effort: a socket that refuses the option still serves, only slower.
            let _ = tcp.set_nodelay(true);
        });
        // Handlers that audit read the client's address from ConnectInfo.
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    })
}
