//! The publishing service's JSON API under `/api/v1`: bearer tokens checked on every route,
//! every write and every refusal in the audit log.
//!
//! Routes (each needs `Authorization: Bearer custody_...`):
//! - `GET /api/v1/tokens`, `POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`: admin.
//! - `GET /api/v1/audit?after=N&limit=M`: admin.
//! - `GET /api/v1/releases/{product}/{version}/findings`: read, for that product.
//!
//! Handlers only parse, call one `custody_service` function and answer; the catalog is used
//! from tokio's blocking pool, since both backends are blocking clients.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use custody_service::access::{self, Action, Audit, Catalog, TokenRequest};
use custody_service::env::Clock;
use custody_service::{Error, ErrorKind};
use serde::{Deserialize, Serialize};

/// Largest request body the API takes: its requests are small JSON documents.
pub const MAX_BODY: usize = 64 << 10;

/// What every handler shares.
#[derive(Clone)]
struct Api {
    catalog: Arc<Mutex<Catalog>>,
    clock: Arc<dyn Clock>,
}

/// The API's routes over `catalog`, with `clock` for token expiry and the audit log.
pub fn router(catalog: Catalog, clock: Arc<dyn Clock>) -> Router {
    let api = Api {
        catalog: Arc::new(Mutex::new(catalog)),
        clock,
    };
    Router::new()
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/audit", get(audit_log))
        .route(
            "/api/v1/releases/{product}/{version}/findings",
            get(findings),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(api)
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
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[derive(Serialize)]
struct ErrorBody {
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
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
        Ok(Self {
            secret: bearer(&parts.headers),
            client,
        })
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// One request as the audit log records it.
struct Asked {
    secret: Option<String>,
    client: String,
    action: Action,
    product: Option<String>,
    /// `token.create`, `audit.read`...
    name: &'static str,
    target: String,
    /// Writes are audited when they succeed too; reads only when refused.
    write: bool,
}

impl Api {
    /// Checks the token, runs `op` on the catalog, audits, and answers.
    async fn call<T: Serialize + Send + 'static>(
        &self,
        asked: Asked,
        ok: StatusCode,
        op: impl FnOnce(&mut Catalog, &dyn Clock) -> Result<T, Error> + Send + 'static,
    ) -> Response {
        let api = self.clone();
        let done = tokio::task::spawn_blocking(move || {
            // A panic in another request poisoned the lock; the catalog itself is a connection
            // whose transactions roll back, so it is still sound to use.
            let mut catalog = api
                .catalog
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let clock = api.clock.as_ref();
            let decision = access::authorize(
                &mut catalog,
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
                        &mut catalog,
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
            let result = op(&mut catalog, clock);
            if asked.write || result.is_err() {
                let outcome = match &result {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => format!("failed: {e}"),
                };
                access::audit(
                    &mut catalog,
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
        })
        .await;
        match done {
            Ok(Ok(value)) => json(ok, &value),
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

#[derive(Serialize)]
struct Tokens {
    tokens: Vec<access::StoredToken>,
}

async fn list_tokens(State(api): State<Api>, caller: Caller) -> Response {
    let asked = caller.asks(Action::Admin, None, "token.list", "tokens", false);
    api.call(asked, StatusCode::OK, |catalog, _| {
        Ok(Tokens {
            tokens: access::list(catalog)?,
        })
    })
    .await
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Deserialize)]
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

#[derive(Serialize)]
struct CreatedToken {
    #[serde(flatten)]
    token: access::StoredToken,
    secret: String,
}

async fn create_token(State(api): State<Api>, caller: Caller, body: Bytes) -> Response {
    let asked = caller.asks(Action::Admin, None, "token.create", "tokens", true);
    api.call(asked, StatusCode::CREATED, move |catalog, clock| {
        let request: CreateToken =
            serde_json::from_slice(&body).map_err(|source| Error::RequestJson {
                what: "a token request",
                source,
            })?;
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
            catalog,
            &TokenRequest {
                product: request.product,
                actions,
                lifetime,
                description: request.description,
            },
            clock,
        )?;
        Ok(CreatedToken {
            secret: issued.secret.to_string(),
            token: issued.token,
        })
    })
    .await
}

async fn revoke_token(State(api): State<Api>, caller: Caller, Path(id): Path<String>) -> Response {
    let asked = caller.asks(Action::Admin, None, "token.revoke", &id, true);
    api.call(asked, StatusCode::OK, move |catalog, clock| {
        access::revoke(catalog, &id, clock)?;
        Ok(serde_json::json!({ "revoked": id }))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct AuditPage {
    records: Vec<access::AuditRecord>,
}

async fn audit_log(State(api): State<Api>, caller: Caller, Query(page): Query<Page>) -> Response {
    let asked = caller.asks(Action::Admin, None, "audit.read", "audit", false);
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    api.call(asked, StatusCode::OK, move |catalog, _| {
        Ok(AuditPage {
            records: access::audit_log(catalog, page.after, limit)?,
        })
    })
    .await
}

#[derive(Serialize)]
struct Findings {
    product: String,
    version: String,
    findings: Vec<custody_service::monitor::StoredFinding>,
}

async fn findings(
    State(api): State<Api>,
    caller: Caller,
    Path((product, version)): Path<(String, String)>,
) -> Response {
    let target = format!("{product}/{version}");
    let asked = caller.asks(Action::Read, Some(&product), "findings.read", target, false);
    api.call(asked, StatusCode::OK, move |catalog, _| {
        let findings = custody_service::monitor::release_findings(catalog, &product, &version)?;
        Ok(Findings {
            product,
            version,
            findings,
        })
    })
    .await
}
