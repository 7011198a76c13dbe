//! The publishing service's JSON API under `/api/v1`: bearer tokens checked on every route,
//! every write and every refusal in the audit log.
//!
//! Routes (each needs `Authorization: Bearer custody_...`):
//! - `PUT /api/v1/releases/{product}/uploads/{sha256}`: publish, for that product. The body is
//!   streamed to disk and kept only if its SHA-256 is the one in the path.
//! - `POST /api/v1/releases/{product}/{version}`: publish, for that product; a JSON
//!   [`PublishRequest`] naming the uploads, the SBOM and the pipeline's source. 201 when
//!   published, 200 when it was already, with the same artifacts.
//! - `GET /api/v1/tokens`, `POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`: admin.
//! - `GET /api/v1/audit?after=N&limit=M`: admin.
//! - `GET /api/v1/releases/{product}/{version}/findings`: read, for that product.
//!
//! The OpenAPI 3.1 document at `/openapi.json` ([`ApiDoc`]) is derived from these handlers and
//! their types.
//!
//! Handlers only parse, call one `custody_service` function and answer; the catalog is used
//! from tokio's blocking pool, since both backends are blocking clients.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use custody_service::access::{self, Action, Audit, Catalog, TokenRequest};
use custody_service::env::{Clock, Events, MemoryKeys};
use custody_service::pool::{CatalogPool, Pooled};
use custody_service::publish::{PublishOutcome, PublishRequest, Uploaded};
use custody_service::release::ReleaseEnv;
use custody_service::transport::Transport;
use custody_service::{Error, ErrorKind};
use custody_site::config::Loaded;
use futures_util::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// Catalog connections a server keeps: enough that concurrent requests' commits reach
/// PostgreSQL together, few enough to stay well inside its connection limit with several
/// frontends.
pub const CATALOG_CONNECTIONS: usize = 8;

/// Largest request body the API takes: its requests are small JSON documents.
pub const MAX_BODY: usize = 64 << 10;

/// What publishing needs: the project, its signing keys (unlocked once, when the server
/// started), and the way to the log's witnesses.
#[derive(Debug)]
pub struct Publisher {
    /// The project.
    pub loaded: Loaded,
    /// The release, log and online TUF keys.
    pub keys: MemoryKeys,
    /// To the witnesses.
    pub transport: Arc<dyn Transport>,
    /// The largest upload taken, in bytes.
    pub upload_limit: u64,
    /// How long an upload may send nothing before it is dropped (a slow or stalled client).
    pub read_timeout: std::time::Duration,
    /// Commits the publishes that arrive together as one batch.
    pub committer: custody_service::commit::Committer,
}

/// The project the API serves.
#[derive(Debug)]
pub struct Project {
    /// Its configuration.
    pub loaded: Loaded,
    /// Its catalog.
    pub catalog: Catalog,
    /// Let webhooks point at loopback and private addresses (a server on a private network
    /// whose receivers are too).
    pub allow_internal_webhooks: bool,
}

/// What every handler shares, the dashboard's too.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) loaded: Arc<Loaded>,
    /// Whether webhooks may point at loopback and private addresses.
    allow_internal_webhooks: bool,
    catalog: Arc<CatalogPool>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Why publishing is off, when it is.
    publisher: Result<Arc<Publisher>, Arc<str>>,
}

/// Progress of releases and deliveries, to the server's standard error.
#[derive(Debug)]
pub struct ServerLog;

impl Events for ServerLog {
    fn progress(&self, message: &str) {
        eprintln!("{message}");
    }
    fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}

/// How often the server sends the webhook events waiting in the outbox.
pub const RELAY_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Sends what the outbox of `loaded`'s catalog holds every [`RELAY_EVERY`], for as long as the
/// process runs: events a receiver refused are retried on their schedule, and those of a
/// `custody monitor` that died before sending are sent.
pub fn spawn_relay(loaded: Loaded) {
    std::thread::spawn(move || {
        let transport = custody_service::transport::HttpTransport::new();
        loop {
            std::thread::sleep(RELAY_EVERY);
            let sent = custody_service::monitor::open_catalog(&loaded).and_then(|mut catalog| {
                custody_service::monitor::relay(
                    &mut catalog,
                    &transport,
                    &custody_service::env::EnvSecrets,
                    &custody_service::env::SystemClock,
                    &ServerLog,
                )
            });
            if let Err(e) = sent {
                ServerLog.warn(&format!("webhook relay: {e}"));
            }
        }
    });
}

/// What the API's and the dashboard's handlers share: the project, its catalog, `clock` for
/// token expiry and the audit log, and `publisher` (or why there is none) for uploads and
/// releases.
pub(crate) fn state(
    project: Project,
    clock: Arc<dyn Clock>,
    publisher: Result<Publisher, String>,
) -> Api {
    let reopen = project.loaded.clone();
    let catalog = CatalogPool::new(project.catalog, CATALOG_CONNECTIONS, move || {
        custody_service::monitor::open_catalog(&reopen)
    });
    Api {
        loaded: Arc::new(project.loaded),
        allow_internal_webhooks: project.allow_internal_webhooks,
        catalog: Arc::new(catalog),
        clock,
        publisher: publisher.map(Arc::new).map_err(Arc::from),
    }
}

/// The API's routes, on the shared state.
pub(crate) fn routes() -> Router<Api> {
    Router::new()
        .route(
            "/api/v1/releases/{product}/uploads/{sha256}",
            // Streamed to disk with its own limit (the publisher's), not held in memory.
            put(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/releases/{product}/{version}", post(publish))
        .route(
            "/api/v1/releases/{product}/{version}/approvals",
            get(held_release).post(add_approval),
        )
        .route(
            "/api/v1/releases/{product}/{version}/publish",
            post(publish_held),
        )
        .route("/api/v1/products/{product}/vex", post(add_vex))
        .route("/api/v1/releases", get(list_releases))
        .route(
            "/api/v1/releases/{product}/{version}/components",
            get(components),
        )
        .route("/api/v1/log/entries", get(log_entries))
        .route(
            "/api/v1/releases/{product}/bundles",
            post(append_bundle).layer(DefaultBodyLimit::max(
                custody_service::log::MAX_UPLOADED_BUNDLE,
            )),
        )
        .route("/api/v1/advisories", post(import_advisories))
        .route(
            "/api/v1/webhooks",
            get(list_webhooks).post(register_webhook),
        )
        .route("/api/v1/webhooks/deliveries", get(webhook_deliveries))
        .route("/api/v1/webhooks/{id}", delete(remove_webhook))
        .route("/openapi.json", get(openapi_json))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/audit", get(audit_log))
        .route(
            "/api/v1/releases/{product}/{version}/findings",
            get(findings),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// The API's OpenAPI 3.1 document, derived from the handlers and their types.
#[derive(OpenApi)]
#[openapi(
    info(title = "custody", description = "The publishing service of custody: releases, tokens, the audit log."),
    paths(
        upload,
        publish,
        held_release,
        add_approval,
        publish_held,
        findings,
        add_vex,
        list_releases,
        components,
        log_entries,
        append_bundle,
        import_advisories,
        register_webhook,
        list_webhooks,
        remove_webhook,
        webhook_deliveries,
        list_tokens,
        create_token,
        revoke_token,
        audit_log
    ),
    modifiers(&BearerAuth)
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("custody_<43 base64url characters>")
                    .build(),
            ),
        );
    }
}

async fn openapi_json() -> Response {
    json(StatusCode::OK, &ApiDoc::openapi())
}

/// The one place a service error becomes an HTTP status.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Input => StatusCode::BAD_REQUEST,
        ErrorKind::Refused => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What every refusal and failure answers.
#[derive(Serialize, ToSchema)]
struct ErrorBody {
    /// What went wrong.
    error: String,
}

fn error_response(e: &Error) -> Response {
    let code = status(e.kind());
    let mut res = (
        code,
        axum::Json(ErrorBody {
            error: e.to_string(),
        }),
    )
        .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if code == StatusCode::UNAUTHORIZED {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

fn json<T: Serialize>(code: StatusCode, value: &T) -> Response {
    let mut res = (code, axum::Json(value)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Who is asking: the bearer secret, if any, and the client's address.
struct Caller {
    secret: Option<String>,
    client: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            secret: bearer(&parts.headers),
            client: client_address(parts),
        })
    }
}

/// The client's address as the audit log records it.
pub(crate) fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// A request body as the JSON `what` should be.
fn request_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &'static str,
) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|source| Error::RequestJson { what, source })
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// One request as the audit log records it.
pub(crate) struct Asked {
    pub(crate) secret: Option<String>,
    pub(crate) client: String,
    pub(crate) action: Action,
    pub(crate) product: Option<String>,
    /// `token.create`, `audit.read`...
    pub(crate) name: &'static str,
    pub(crate) target: String,
    /// Writes are audited when they succeed too; reads only when refused.
    pub(crate) write: bool,
}

impl Api {
    fn publisher(&self) -> Result<&Publisher, Error> {
        self.publisher
            .as_deref()
            .map_err(|reason| Error::PublishingDisabled {
                reason: reason.to_string(),
            })
    }

    pub(crate) fn catalog(&self) -> Result<Pooled<'_>, Error> {
        self.catalog.get()
    }

    /// Checks the token, runs `op` and audits: blocking (the catalog is). The catalog is
    /// locked per step, not across `op`, so a long publish does not hold up other requests.
    pub(crate) fn authorized<T>(
        &self,
        asked: Asked,
        op: impl FnOnce(&Api) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let clock = self.clock.as_ref();
        let decision = access::authorize(
            &mut *self.catalog()?,
            asked.secret.as_deref(),
            asked.action,
            asked.product.as_deref(),
            clock.now(),
        )?;
        let token = match decision {
            Ok(t) => t,
            Err(refusal) => {
                let outcome = format!("refused: {refusal}");
                access::audit(
                    &mut *self.catalog()?,
                    &Audit {
                        token: refusal.token(),
                        action: asked.name,
                        target: &asked.target,
                        client: &asked.client,
                        outcome: &outcome,
                    },
                    clock,
                )?;
                return Err(Error::from(refusal));
            }
        };
        let result = op(self);
        if asked.write || result.is_err() {
            let outcome = match &result {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("failed: {e}"),
            };
            access::audit(
                &mut *self.catalog()?,
                &Audit {
                    token: Some(&token.id),
                    action: asked.name,
                    target: &asked.target,
                    client: &asked.client,
                    outcome: &outcome,
                },
                clock,
            )?;
        }
        result
    }

    /// [`authorized`](Self::authorized) on the blocking pool, answered as JSON.
    async fn call<T: Serialize + Send + 'static>(
        &self,
        asked: Asked,
        ok: impl Fn(&T) -> StatusCode + Send + 'static,
        op: impl FnOnce(&Api) -> Result<T, Error> + Send + 'static,
    ) -> Response {
        let api = self.clone();
        let done = tokio::task::spawn_blocking(move || api.authorized(asked, op)).await;
        match done {
            Ok(Ok(value)) => json(ok(&value), &value),
            Ok(Err(e)) => error_response(&e),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

impl Caller {
    fn asks(
        self,
        action: Action,
        product: Option<&str>,
        name: &'static str,
        target: impl Into<String>,
        write: bool,
    ) -> Asked {
        Asked {
            secret: self.secret,
            client: self.client,
            action,
            product: product.map(str::to_owned),
            name,
            target: target.into(),
            write,
        }
    }
}

/// Every token (never a secret).
#[derive(Serialize, ToSchema)]
struct Tokens {
    tokens: Vec<access::StoredToken>,
}

/// List every token.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Tokens), (status = 401, description = "no valid token", body = ErrorBody), (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn list_tokens(State(api): State<Api>, caller: Caller) -> Response {
    let asked = caller.asks(Action::Admin, None, "token.list", "tokens", false);
    api.call(
        asked,
        |_| StatusCode::OK,
        |api| {
            Ok(Tokens {
                tokens: access::list(&mut *api.catalog()?)?,
            })
        },
    )
    .await
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    /// The product; absent for every product.
    product: Option<String>,
    /// Action names.
    scopes: Vec<String>,
    /// Lifetime in seconds; absent for until revoked.
    expires_in: Option<i64>,
    #[serde(default)]
    description: String,
}

/// A new token, with its secret: shown this once.
#[derive(Serialize, ToSchema)]
struct CreatedToken {
    #[serde(flatten)]
    token: access::StoredToken,
    secret: String,
}

/// Make a token; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, description = "no valid token", body = ErrorBody), (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn create_token(State(api): State<Api>, caller: Caller, body: Bytes) -> Response {
    let asked = caller.asks(Action::Admin, None, "token.create", "tokens", true);
    api.call(
        asked,
        |_| StatusCode::CREATED,
        move |api| {
            let request: CreateToken = request_json(&body, "a token request")?;
            let actions = request
                .scopes
                .iter()
                .map(|s| Action::parse(s).ok_or_else(|| Error::UnknownScope { scope: s.clone() }))
                .collect::<Result<Vec<_>, _>>()?;
            let lifetime = match request.expires_in {
                Some(s) if s <= 0 => return Err(Error::TokenLifetime),
                Some(s) => Some(jiff::SignedDuration::from_secs(s)),
                None => None,
            };
            let issued = access::create(
                &mut *api.catalog()?,
                &TokenRequest {
                    product: request.product,
                    actions,
                    lifetime,
                    description: request.description,
                },
                api.clock.as_ref(),
            )?;
            Ok(CreatedToken {
                secret: issued.secret.to_string(),
                token: issued.token,
            })
        },
    )
    .await
}

/// Revoke a token from now on.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "The token's id, tok_...")),
    responses((status = 200, description = "revoked"), (status = 404, body = ErrorBody), (status = 401, description = "no valid token", body = ErrorBody), (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn revoke_token(State(api): State<Api>, caller: Caller, Path(id): Path<String>) -> Response {
    let asked = caller.asks(Action::Admin, None, "token.revoke", &id, true);
    api.call(
        asked,
        |_| StatusCode::OK,
        move |api| {
            access::revoke(&mut *api.catalog()?, &id, api.clock.as_ref())?;
            Ok(serde_json::json!({ "revoked": id }))
        },
    )
    .await
}

/// A page of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Page {
    /// Records after this position (0: from the start).
    #[serde(default)]
    after: i64,
    /// At most this many records (1 to 1000; 100 by default).
    limit: Option<i64>,
}

/// Audit records, in order.
#[derive(Serialize, ToSchema)]
struct AuditPage {
    records: Vec<access::AuditRecord>,
}

/// Read the audit log: every write and every refused request.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])),
    params(Page),
    responses((status = 200, body = AuditPage), (status = 401, description = "no valid token", body = ErrorBody), (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn audit_log(State(api): State<Api>, caller: Caller, Query(page): Query<Page>) -> Response {
    let asked = caller.asks(Action::Admin, None, "audit.read", "audit", false);
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    api.call(
        asked,
        |_| StatusCode::OK,
        move |api| {
            Ok(AuditPage {
                records: access::audit_log(&mut *api.catalog()?, page.after, limit)?,
            })
        },
    )
    .await
}

/// A release's findings as the monitor last recorded them.
#[derive(Serialize, ToSchema)]
struct Findings {
    product: String,
    version: String,
    findings: Vec<custody_service::monitor::StoredFinding>,
}

/// A release's findings.
#[utoipa::path(get, path = "/api/v1/releases/{product}/{version}/findings", tag = "releases",
    security(("bearer" = [])),
    params(("product" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Findings), (status = 404, body = ErrorBody), (status = 401, description = "no valid token", body = ErrorBody), (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn findings(
    State(api): State<Api>,
    caller: Caller,
    Path((product, version)): Path<(String, String)>,
) -> Response {
    let target = format!("{product}/{version}");
    let asked = caller.asks(Action::Read, Some(&product), "findings.read", target, false);
    api.call(
        asked,
        |_| StatusCode::OK,
        move |api| {
            let findings = custody_service::monitor::release_findings(
                &mut *api.catalog()?,
                &product,
                &version,
            )?;
            Ok(Findings {
                product,
                version,
                findings,
            })
        },
    )
    .await
}

/// Upload one file of a coming release, streamed; kept only if its SHA-256 is the one named.
#[utoipa::path(put, path = "/api/v1/releases/{product}/uploads/{sha256}", tag = "releases",
    security(("bearer" = [])),
    params(("product" = String, Path), ("sha256" = String, Path, description = "hex")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Uploaded), (status = 200, description = "had it already", body = Uploaded),
        (status = 400, description = "digest mismatch, over the limit, interrupted", body = ErrorBody), (status = 401, description = "no valid token", body = ErrorBody), (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn upload(
    State(api): State<Api>,
    caller: Caller,
    Path((product, sha256)): Path<(String, String)>,
    body: Body,
) -> Response {
    let target = format!("{product}/sha256:{sha256}");
    let asked = caller.asks(Action::Publish, Some(&product), "upload", target, true);
    let idle = api
        .publisher
        .as_ref()
        .map_or(std::time::Duration::from_secs(60), |p| p.read_timeout);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(Box::pin(
        idle_timeout(body, idle),
    )));
    let status = |u: &Uploaded| {
        if u.fresh {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    };
    api.call(asked, status, move |api| {
        let p = api.publisher()?;
        custody_service::publish::receive_upload(
            &p.loaded,
            &product,
            &sha256,
            reader,
            p.upload_limit,
        )
    })
    .await
}

/// Publish a release from uploads: gate, sign, log, TUF targets, catalog.
#[utoipa::path(post, path = "/api/v1/releases/{product}/{version}", tag = "releases",
    security(("bearer" = [])),
    params(("product" = String, Path), ("version" = String, Path)),
    request_body = PublishRequest,
    responses((status = 201, body = PublishOutcome), (status = 200, description = "published already, with these artifacts", body = PublishOutcome),
        (status = 404, description = "an upload is missing", body = ErrorBody),
        (status = 409, description = "published already, with other artifacts", body = ErrorBody),
        (status = 422, description = "the gate or the policy refused", body = ErrorBody),
        (status = 503, description = "this server does not publish", body = ErrorBody), (status = 401, description = "no valid token", body = ErrorBody), (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn publish(
    State(api): State<Api>,
    caller: Caller,
    Path((product, version)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let target = format!("{product}/{version}");
    let asked = caller.asks(Action::Publish, Some(&product), "publish", target, true);
    let status = |o: &PublishOutcome| {
        if o.fresh {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    };
    api.call(asked, status, move |api| {
        let request: PublishRequest = request_json(&body, "a publish request")?;
        let p = api.publisher()?;
        let env = ReleaseEnv {
            keys: &p.keys,
            transport: p.transport.clone(),
            clock: api.clock.as_ref(),
            events: &ServerLog,
            catalog: Some(&api.catalog),
        };
        custody_service::publish::publish(
            &p.loaded,
            (&product, &version),
            &request,
            &env,
            &p.committer,
        )
    })
    .await
}

/// A release held for its approvers: the manifest an approval signs, and the approvals so far.
#[utoipa::path(get, path = "/api/v1/releases/{product}/{version}/approvals", tag = "releases",
    security(("bearer" = [])),
    params(("product" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = custody_service::approval::HeldRelease),
        (status = 404, description = "no such held release", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn held_release(
    State(api): State<Api>,
    caller: Caller,
    Path((product, version)): Path<(String, String)>,
) -> Response {
    let target = format!("{product}/{version}");
    let asked = caller.asks(
        Action::Read,
        Some(&product),
        "approvals.read",
        target,
        false,
    );
    api.call(
        asked,
        |_| StatusCode::OK,
        move |api| {
            custody_service::approval::held_release(
                &api.loaded,
                &product,
                &version,
                api.clock.as_ref(),
            )
        },
    )
    .await
}

/// Add an approver's approval (a Sigstore bundle from `custody release approve --server`,
/// signed where the approver's key is) to a held release.
#[utoipa::path(post, path = "/api/v1/releases/{product}/{version}/approvals", tag = "releases",
    security(("bearer" = [])),
    params(("product" = String, Path), ("version" = String, Path)),
    request_body(content = Object, description = "the approval's Sigstore bundle v0.3", content_type = "application/json"),
    responses((status = 201, body = custody_service::approval::Approved),
        (status = 400, description = "not a Sigstore bundle", body = ErrorBody),
        (status = 404, description = "no such held release", body = ErrorBody),
        (status = 409, description = "this approver approved it already", body = ErrorBody),
        (status = 422, description = "not a valid signature of one of the product's approvers over this release", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn add_approval(
    State(api): State<Api>,
    caller: Caller,
    Path((product, version)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let target = format!("{product}/{version}");
    let asked = caller.asks(Action::Publish, Some(&product), "approve", target, true);
    api.call(
        asked,
        |_| StatusCode::CREATED,
        move |api| {
            custody_service::approval::add_approval(
                &api.loaded,
                &product,
                &version,
                &body,
                api.clock.as_ref(),
            )
        },
    )
    .await
}

/// Publish a held release whose approvals meet its product's threshold: onto the site, into
/// the TUF repository and the catalog.
#[utoipa::path(post, path = "/api/v1/releases/{product}/{version}/publish", tag = "releases",
    security(("bearer" = [])),
    params(("product" = String, Path), ("version" = String, Path)),
    responses((status = 201, body = PublishOutcome),
        (status = 404, description = "no such held release", body = ErrorBody),
        (status = 422, description = "short of approvals", body = ErrorBody),
        (status = 503, description = "this server does not publish", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn publish_held(
    State(api): State<Api>,
    caller: Caller,
    Path((product, version)): Path<(String, String)>,
) -> Response {
    let target = format!("{product}/{version}");
    let asked = caller.asks(
        Action::Publish,
        Some(&product),
        "publish.held",
        target,
        true,
    );
    api.call(
        asked,
        |_| StatusCode::CREATED,
        move |api| {
            let p = api.publisher()?;
            let env = ReleaseEnv {
                keys: &p.keys,
                transport: p.transport.clone(),
                clock: api.clock.as_ref(),
                events: &ServerLog,
                catalog: Some(&api.catalog),
            };
            custody_service::approval::publish_held(&p.loaded, &product, &version, &env)
        },
    )
    .await
}

/// The body's chunks, failing with `TimedOut` when none arrives for `idle`: a client that
/// stalls mid-upload does not hold a blocking thread forever.
fn idle_timeout(
    body: Body,
    idle: std::time::Duration,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    use futures_util::StreamExt as _;
    let chunks = body.into_data_stream().map_err(std::io::Error::other);
    futures_util::stream::unfold(Some(chunks), move |state| async move {
        let mut chunks = state?;
        match tokio::time::timeout(idle, chunks.next()).await {
            Ok(Some(item)) => Some((item, Some(chunks))),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("nothing received for {} s", idle.as_secs()),
                )),
                None,
            )),
        }
    })
}

/// `POST /api/v1/products/{product}/vex`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VexRequest {
    /// The vulnerability: an advisory id or any of its aliases.
    id: String,
    /// `not_affected`, `affected`, `fixed` or `under_investigation`.
    status: String,
    /// Why it is not affected (OpenVEX justification).
    #[serde(default)]
    justification: Option<String>,
    /// The impact statement, or for `affected` the action statement.
    #[serde(default)]
    statement: Option<String>,
    /// The author of a new document.
    #[serde(default)]
    author: Option<String>,
}

/// Record what a vulnerability means for a product (OpenVEX); later releases' gates and the
/// monitor honour it.
#[utoipa::path(post, path = "/api/v1/products/{product}/vex", tag = "vex",
    security(("bearer" = [])),
    params(("product" = String, Path)),
    request_body = VexRequest,
    responses((status = 201, body = custody_service::vex::Added),
        (status = 400, description = "not a status or justification; a statement OpenVEX refuses", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn add_vex(
    State(api): State<Api>,
    caller: Caller,
    Path(product): Path<String>,
    body: Bytes,
) -> Response {
    let asked = caller.asks(Action::Vex, Some(&product), "vex.add", &product, true);
    api.call(
        asked,
        |_| StatusCode::CREATED,
        move |api| {
            let request: VexRequest = request_json(&body, "a VEX statement")?;
            let status = custody_service::vex::status(&request.status)?;
            let justification = request
                .justification
                .as_deref()
                .map(custody_service::vex::justification)
                .transpose()?;
            custody_service::vex::add_in_project(
                &api.loaded,
                &product,
                &custody_service::vex::ProductStatement {
                    id: request.id,
                    status,
                    justification,
                    statement: request.statement,
                    author: request.author.unwrap_or_else(|| "custody".to_owned()),
                },
                api.clock.as_ref(),
            )
        },
    )
    .await
}

/// `POST /api/v1/advisories`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    /// An osv.dev-style zip of OSV advisories: `https://`, or `http://` to loopback only.
    url: String,
    /// The source's name in the database [default: from the URL].
    #[serde(default)]
    name: Option<String>,
}

/// Import advisories, then re-scan every shipped release against them at once: what is new
/// goes to customers as signed notices and webhook events.
#[utoipa::path(post, path = "/api/v1/advisories", tag = "advisories",
    security(("bearer" = [])),
    request_body = ImportRequest,
    responses((status = 200, body = custody_service::monitor::ImportedAndMonitored),
        (status = 400, description = "not a zip, plain HTTP to another host, bad JSON", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody),
        (status = 503, description = "this server cannot sign notices", body = ErrorBody)))]
async fn import_advisories(State(api): State<Api>, caller: Caller, body: Bytes) -> Response {
    let asked = caller.asks(
        Action::Advisories,
        None,
        "advisories.import",
        "advisories",
        true,
    );
    api.call(
        asked,
        |_| StatusCode::OK,
        move |api| {
            let request: ImportRequest = request_json(&body, "an advisory import")?;
            let p = api.publisher()?;
            custody_service::monitor::import_and_monitor(
                &api.loaded,
                &custody_service::advisories::ImportFrom::Url {
                    url: request.url,
                    insecure_allow_http: false,
                },
                request.name.as_deref(),
                custody_service::monitor::MonitorEnv {
                    keys: &p.keys,
                    transport: &p.transport,
                    secrets: &custody_service::env::EnvSecrets,
                    clock: api.clock.as_ref(),
                    events: &ServerLog,
                },
            )
        },
    )
    .await
}

/// `POST /api/v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WebhookRequest {
    /// Where every product's new-findings events are posted (`https://` or `http://`).
    url: String,
}

/// Register a webhook for every product's new-findings events; its HMAC secret is in this
/// answer only.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = WebhookRequest,
    responses((status = 201, body = custody_service::webhooks::Registered),
        (status = 400, description = "not http(s), does not resolve, or a loopback, private or link-local address", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn register_webhook(State(api): State<Api>, caller: Caller, body: Bytes) -> Response {
    let asked = caller.asks(Action::Webhooks, None, "webhook.register", "webhooks", true);
    api.call(
        asked,
        |_| StatusCode::CREATED,
        move |api| {
            let request: WebhookRequest = request_json(&body, "a webhook")?;
            custody_service::webhooks::register(
                &mut *api.catalog()?,
                &request.url,
                api.allow_internal_webhooks,
                api.clock.as_ref(),
            )
        },
    )
    .await
}

/// Registered webhooks.
#[derive(Serialize, ToSchema)]
struct Webhooks {
    webhooks: Vec<custody_service::webhooks::Webhook>,
}

/// List the registered webhooks (never their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Webhooks),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn list_webhooks(State(api): State<Api>, caller: Caller) -> Response {
    let asked = caller.asks(Action::Webhooks, None, "webhook.list", "webhooks", false);
    api.call(
        asked,
        |_| StatusCode::OK,
        |api| {
            Ok(Webhooks {
                webhooks: custody_service::webhooks::list(&mut *api.catalog()?)?,
            })
        },
    )
    .await
}

/// Remove a registered webhook.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "The webhook's id, whk_...")),
    responses((status = 200, description = "removed"), (status = 404, body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn remove_webhook(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let asked = caller.asks(Action::Webhooks, None, "webhook.remove", &id, true);
    api.call(
        asked,
        |_| StatusCode::OK,
        move |api| {
            custody_service::webhooks::remove(&mut *api.catalog()?, &id, api.clock.as_ref())?;
            Ok(serde_json::json!({ "removed": id }))
        },
    )
    .await
}

/// The outbox, newest first.
#[derive(Serialize, ToSchema)]
struct Deliveries {
    deliveries: Vec<custody_service::webhooks::DeliveryRecord>,
}

/// The latest webhook deliveries: attempts, acknowledgements, errors, next tries.
#[utoipa::path(get, path = "/api/v1/webhooks/deliveries", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Deliveries),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn webhook_deliveries(State(api): State<Api>, caller: Caller) -> Response {
    let asked = caller.asks(
        Action::Webhooks,
        None,
        "webhook.deliveries",
        "webhooks",
        false,
    );
    api.call(
        asked,
        |_| StatusCode::OK,
        |api| {
            Ok(Deliveries {
                deliveries: custody_service::webhooks::deliveries(&mut *api.catalog()?, 100)?,
            })
        },
    )
    .await
}

/// `GET /api/v1/releases` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReleaseQuery {
    /// Only this product's releases (a token for one product must name it).
    product: Option<String>,
    /// At most this many (1 to 1000; 100 by default).
    limit: Option<i64>,
}

/// Releases, newest first.
#[derive(Serialize, ToSchema)]
struct Releases {
    releases: Vec<custody_service::monitor::ListedRelease>,
}

/// List the catalogued releases, newest first.
#[utoipa::path(get, path = "/api/v1/releases", tag = "releases", security(("bearer" = [])),
    params(ReleaseQuery),
    responses((status = 200, body = Releases),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn list_releases(
    State(api): State<Api>,
    caller: Caller,
    Query(query): Query<ReleaseQuery>,
) -> Response {
    let target = query.product.clone().unwrap_or_else(|| "*".to_owned());
    let asked = caller.asks(
        Action::Read,
        query.product.as_deref(),
        "releases.read",
        target,
        false,
    );
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    api.call(
        asked,
        |_| StatusCode::OK,
        move |api| {
            Ok(Releases {
                releases: custody_service::monitor::releases(
                    &mut *api.catalog()?,
                    query.product.as_deref(),
                    limit,
                )?,
            })
        },
    )
    .await
}

/// A release's components.
#[derive(Serialize, ToSchema)]
struct Components {
    product: String,
    version: String,
    components: Vec<custody_service::monitor::Component>,
}

/// A release's components, as its SBOM named them.
#[utoipa::path(get, path = "/api/v1/releases/{product}/{version}/components", tag = "releases",
    security(("bearer" = [])),
    params(("product" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Components), (status = 404, body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn components(
    State(api): State<Api>,
    caller: Caller,
    Path((product, version)): Path<(String, String)>,
) -> Response {
    let target = format!("{product}/{version}");
    let asked = caller.asks(
        Action::Read,
        Some(&product),
        "components.read",
        target,
        false,
    );
    api.call(
        asked,
        |_| StatusCode::OK,
        move |api| {
            let components =
                custody_service::monitor::components(&mut *api.catalog()?, &product, &version)?;
            Ok(Components {
                product,
                version,
                components,
            })
        },
    )
    .await
}

/// `GET /api/v1/log/entries` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EntryQuery {
    /// The artifact's SHA-256 (`sha256:HEX` or `HEX`); required.
    digest: Option<String>,
}

/// Log entries.
#[derive(Serialize, ToSchema)]
struct Entries {
    entries: Vec<custody_service::log::FoundEntry>,
}

/// The transparency log's entries for an artifact digest.
#[utoipa::path(get, path = "/api/v1/log/entries", tag = "log", security(("bearer" = [])),
    params(EntryQuery),
    responses((status = 200, body = Entries),
        (status = 400, description = "not a SHA-256 digest", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn log_entries(
    State(api): State<Api>,
    caller: Caller,
    Query(query): Query<EntryQuery>,
) -> Response {
    // Optional here so that a request without it is still authenticated and audited first.
    let digest = query.digest.unwrap_or_default();
    let asked = caller.asks(Action::Read, None, "log.read", &digest, false);
    api.call(
        asked,
        |_| StatusCode::OK,
        move |api| {
            Ok(Entries {
                entries: custody_service::log::entries_for(&api.loaded, &digest)?,
            })
        },
    )
    .await
}

/// Record a bundle a pipeline signed with its own key: the server verifies the signature
/// against the site's policy, logs it, and answers with the bundle carrying its log entry.
#[utoipa::path(post, path = "/api/v1/releases/{product}/bundles", tag = "releases",
    security(("bearer" = [])),
    params(("product" = String, Path)),
    request_body(content = Object, description = "A Sigstore bundle v0.3 without a log entry", content_type = "application/json"),
    responses((status = 201, body = custody_service::log::LoggedBundle),
        (status = 400, description = "not a bundle, or too large", body = ErrorBody),
        (status = 409, description = "logged already, or already carries an entry", body = ErrorBody),
        (status = 422, description = "not signed by a key the policy trusts", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token does not allow this", body = ErrorBody)))]
async fn append_bundle(
    State(api): State<Api>,
    caller: Caller,
    Path(product): Path<String>,
    body: Bytes,
) -> Response {
    let asked = caller.asks(
        Action::Publish,
        Some(&product),
        "bundle.append",
        &product,
        true,
    );
    api.call(
        asked,
        |_| StatusCode::CREATED,
        move |api| {
            let p = api.publisher()?;
            custody_service::log::append_uploaded(
                &api.loaded,
                "the uploaded bundle",
                &body,
                &ReleaseEnv {
                    keys: &p.keys,
                    transport: p.transport.clone(),
                    clock: api.clock.as_ref(),
                    events: &ServerLog,
                    catalog: Some(&api.catalog),
                },
            )
        },
    )
    .await
}
