//! The dashboard under `/ui`: server-rendered pages ([`crate::pages`]) over the same service
//! calls as the API, readable without JavaScript.
//!
//! - Public, for customers too: products, a product, a release, an advisory, the log.
//! - Admin (tokens, the audit log, webhooks): only with a session made from a token with the
//!   `admin` scope. The session cookie holds the token itself (`HttpOnly`, `SameSite=Strict`,
//!   scoped to `/ui`), so revoking or expiring the token ends every session made from it; each
//!   form carries a value derived from it ([`access::form_token`]) that a cross-site form
//!   cannot know. Sign-ins, refusals and admin writes go to the audit log like API calls.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use custody_service::access::{self, Action, TokenRequest};
use custody_service::dashboard::{self, ComponentQuery};
use custody_service::{Error, webhooks};
use maud::Markup;
use serde::Deserialize;

use crate::api::{Api, Asked, client_address, status};
use crate::pages::{self, ROOT, Viewer};

/// The session cookie's name.
const COOKIE: &str = "custody_session";

/// How many audit records and deliveries an admin page shows.
const PAGE_ROWS: i64 = 500;

/// The dashboard's routes, on the API's state.
pub(crate) fn routes() -> Router<Api> {
    Router::new()
        .route(ROOT, get(products))
        .route("/ui/", get(products))
        .route("/ui/assets/dashboard.css", get(css))
        .route("/ui/products/{product}", get(product))
        .route("/ui/releases/{product}/{version}", get(release))
        .route("/ui/advisories/{id}", get(advisory))
        .route("/ui/log", get(log))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/admin", get(admin_tokens))
        .route("/ui/admin/tokens", post(create_token))
        .route("/ui/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/ui/admin/audit", get(admin_audit))
        .route("/ui/admin/webhooks", get(admin_webhooks))
        // Its forms are a few fields.
        .layer(DefaultBodyLimit::max(crate::api::MAX_BODY))
}

/// Who asks: the session's token secret, if any, and the client's address.
struct Visitor {
    session: Option<String>,
    client: String,
    /// Whether the session cookie must be `Secure`: the page was asked for over HTTPS (a proxy
    /// in front says so), or by a name other than loopback, where plain HTTP would carry an
    /// admin token in the clear and browsers should refuse to.
    secure: bool,
}

fn needs_secure_cookie(headers: &HeaderMap) -> bool {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    https || !loopback
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            session: session(&parts.headers),
            client: client_address(parts),
            secure: needs_secure_cookie(&parts.headers),
        })
    }
}

fn session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
}

impl Visitor {
    /// How the page frame shows this visitor. Only a display: every admin request is
    /// authorised anew.
    fn viewer(&self) -> Viewer {
        Viewer {
            form_token: self.session.as_deref().map(access::form_token),
        }
    }

    fn asks(&self, name: &'static str, target: impl Into<String>, write: bool) -> Asked {
        Asked {
            secret: self.session.clone(),
            client: self.client.clone(),
            action: Action::Admin,
            product: None,
            name,
            target: target.into(),
            write,
        }
    }
}

fn html_response(code: StatusCode, markup: Markup) -> Response {
    let mut res = (code, markup.into_string()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Nothing on these pages loads from elsewhere or runs a script.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Runs `op` on the blocking pool (the catalog and the site are blocking) and answers with
/// its page, or the error's.
async fn page(
    api: Api,
    viewer: Viewer,
    op: impl FnOnce(&Api, &Viewer) -> Result<Markup, Error> + Send + 'static,
) -> Response {
    let done = tokio::task::spawn_blocking(move || {
        let result = op(&api, &viewer);
        (result, viewer)
    })
    .await;
    match done {
        Ok((Ok(markup), _)) => html_response(StatusCode::OK, markup),
        Ok((Err(e), viewer)) => error_page(&e, &viewer),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn error_page(e: &Error, viewer: &Viewer) -> Response {
    let code = status(e.kind());
    html_response(code, pages::error(code.as_u16(), &e.to_string(), viewer))
}

async fn css() -> Response {
    let mut res = include_str!("../assets/dashboard.css").into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

async fn products(State(api): State<Api>, visitor: Visitor) -> Response {
    page(api, visitor.viewer(), |api, viewer| {
        let rows = dashboard::products(&api.loaded, &mut *api.catalog()?)?;
        Ok(pages::products(
            &rows,
            &api.loaded.config.vulndb.fail_on,
            viewer,
        ))
    })
    .await
}

async fn product(
    State(api): State<Api>,
    visitor: Visitor,
    Path(product): Path<String>,
) -> Response {
    page(api, visitor.viewer(), move |api, viewer| {
        let found = dashboard::product(&mut *api.catalog()?, &product)?;
        Ok(pages::product(&found, viewer))
    })
    .await
}

/// The component filter, as the release page's form sends it.
#[derive(Debug, Default, Deserialize)]
struct ComponentFilter {
    q: Option<String>,
    ecosystem: Option<String>,
    license: Option<String>,
}

async fn release(
    State(api): State<Api>,
    visitor: Visitor,
    Path((product, version)): Path<(String, String)>,
    Query(filter): Query<ComponentFilter>,
) -> Response {
    page(api, visitor.viewer(), move |api, viewer| {
        let query = ComponentQuery {
            text: filter.q,
            ecosystem: filter.ecosystem,
            license: filter.license,
        };
        let found = dashboard::release(
            &api.loaded,
            &mut *api.catalog()?,
            &product,
            &version,
            &query,
            api.clock.now(),
        )?;
        Ok(pages::release(&found, &query, viewer))
    })
    .await
}

async fn advisory(State(api): State<Api>, visitor: Visitor, Path(id): Path<String>) -> Response {
    page(api, visitor.viewer(), move |api, viewer| {
        let found = dashboard::advisory(&api.loaded, &mut *api.catalog()?, &id)?;
        Ok(pages::advisory(&found, viewer))
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
struct Lookup {
    digest: Option<String>,
}

async fn log(State(api): State<Api>, visitor: Visitor, Query(lookup): Query<Lookup>) -> Response {
    page(api, visitor.viewer(), move |api, viewer| {
        let found = dashboard::log(&api.loaded, lookup.digest.as_deref())?;
        Ok(pages::log(&found, viewer))
    })
    .await
}

async fn login_form(visitor: Visitor) -> Response {
    html_response(StatusCode::OK, pages::login(None, &visitor.viewer()))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

fn cookie(value: &str, max_age: Option<u32>, secure: bool) -> HeaderValue {
    let age = max_age.map_or_else(String::new, |s| format!("; Max-Age={s}"));
    let secure = if secure { "; Secure" } else { "" };
    // A token is base64url text: nothing in it needs quoting in a cookie.
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path={ROOT}; HttpOnly; SameSite=Strict{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("custody_session=; Path=/ui; Max-Age=0"))
}

fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

async fn login(State(api): State<Api>, visitor: Visitor, Form(form): Form<LoginForm>) -> Response {
    let secret = form.token.trim().to_owned();
    let secure = visitor.secure;
    let asked = Asked {
        secret: Some(secret.clone()),
        ..visitor.asks("dashboard.login", "dashboard", true)
    };
    let done = tokio::task::spawn_blocking(move || api.authorized(asked, |_| Ok(()))).await;
    match done {
        Ok(Ok(())) => {
            let mut res = see_other(&format!("{ROOT}/admin"));
            res.headers_mut()
                .insert(header::SET_COOKIE, cookie(&secret, None, secure));
            res
        }
        Ok(Err(e)) => {
            let code = status(e.kind());
            html_response(code, pages::login(Some(&e.to_string()), &Viewer::default()))
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Deserialize)]
struct PlainForm {
    #[serde(default)]
    form_token: String,
}

async fn logout(visitor: Visitor, Form(form): Form<PlainForm>) -> Response {
    // Signing out needs the form value too, or another site could sign a visitor out.
    if let Some(secret) = &visitor.session
        && !access::form_token_matches(secret, &form.form_token)
    {
        return error_page(&Error::FormTokenMismatch, &visitor.viewer());
    }
    let mut res = see_other(ROOT);
    res.headers_mut()
        .insert(header::SET_COOKIE, cookie("", Some(0), visitor.secure));
    res
}

/// Runs an admin page's `op` once the session's token is authorised (and, for a form,
/// its form value checked); refusals and writes are audited.
async fn admin(
    api: Api,
    visitor: Visitor,
    asked: Asked,
    form_token: Option<String>,
    op: impl FnOnce(&Api, &Viewer, &str) -> Result<Markup, Error> + Send + 'static,
) -> Response {
    let viewer = visitor.viewer();
    page(api, viewer, move |api, viewer| {
        api.authorized(asked, |api| {
            let secret = visitor.session.as_deref().unwrap_or_default();
            if let Some(offered) = &form_token
                && !access::form_token_matches(secret, offered)
            {
                return Err(Error::FormTokenMismatch);
            }
            op(api, viewer, &access::form_token(secret))
        })
    })
    .await
}

async fn admin_tokens(State(api): State<Api>, visitor: Visitor) -> Response {
    let asked = visitor.asks("token.list", "tokens", false);
    admin(api, visitor, asked, None, |api, viewer, form| {
        let listed = access::list(&mut *api.catalog()?)?;
        Ok(pages::tokens(&listed, api.clock.now(), None, form, viewer))
    })
    .await
}

/// The value of form field `name`; empty when absent.
fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

// The form arrives as pairs: its checkboxes repeat `scope`, which a struct cannot hold.
async fn create_token(
    State(api): State<Api>,
    visitor: Visitor,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let scopes: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let (product, expires_days, description) = (
        field(&pairs, "product"),
        field(&pairs, "expires_days"),
        field(&pairs, "description"),
    );
    let asked = visitor.asks("token.create", "tokens", true);
    admin(
        api,
        visitor,
        asked,
        Some(field(&pairs, "form_token")),
        move |api, viewer, form_token| {
            let actions = scopes
                .iter()
                .map(|s| Action::parse(s).ok_or_else(|| Error::UnknownScope { scope: s.clone() }))
                .collect::<Result<Vec<_>, _>>()?;
            let lifetime = match expires_days.trim() {
                "" => None,
                days => match days.parse::<i64>() {
                    Ok(d) if d > 0 => Some(jiff::SignedDuration::from_hours(d.saturating_mul(24))),
                    _ => return Err(Error::TokenLifetime),
                },
            };
            let product = Some(product.trim().to_owned()).filter(|p| !p.is_empty());
            let issued = access::create(
                &mut *api.catalog()?,
                &TokenRequest {
                    product,
                    actions,
                    lifetime,
                    description,
                },
                api.clock.as_ref(),
            )?;
            let listed = access::list(&mut *api.catalog()?)?;
            let secret = issued.secret.to_string();
            Ok(pages::tokens(
                &listed,
                api.clock.now(),
                Some((&issued.token, &secret)),
                form_token,
                viewer,
            ))
        },
    )
    .await
}

async fn revoke_token(
    State(api): State<Api>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<PlainForm>,
) -> Response {
    let asked = visitor.asks("token.revoke", &id, true);
    admin(
        api,
        visitor,
        asked,
        Some(form.form_token),
        move |api, viewer, form_token| {
            access::revoke(&mut *api.catalog()?, &id, api.clock.as_ref())?;
            let listed = access::list(&mut *api.catalog()?)?;
            Ok(pages::tokens(
                &listed,
                api.clock.now(),
                None,
                form_token,
                viewer,
            ))
        },
    )
    .await
}

async fn admin_audit(State(api): State<Api>, visitor: Visitor) -> Response {
    let asked = visitor.asks("audit.read", "audit", false);
    admin(api, visitor, asked, None, |api, viewer, _| {
        let records = access::audit_log(&mut *api.catalog()?, 0, PAGE_ROWS)?;
        Ok(pages::audit(&records, viewer))
    })
    .await
}

async fn admin_webhooks(State(api): State<Api>, visitor: Visitor) -> Response {
    let asked = visitor.asks("webhook.list", "webhooks", false);
    admin(api, visitor, asked, None, |api, viewer, _| {
        let hooks = webhooks::list(&mut *api.catalog()?)?;
        let deliveries = webhooks::deliveries(&mut *api.catalog()?, PAGE_ROWS)?;
        Ok(pages::webhooks(&hooks, &deliveries, viewer))
    })
    .await
}
