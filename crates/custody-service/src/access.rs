//! Who may do what through `custody serve`: bearer tokens scoped to a product and to actions,
//! with expiry and revocation, and the audit log of every write and every refusal.
//!
//! A token is 256 random bits, shown once when it is made (`custody_` and 43 base64url
//! characters) and stored only as its SHA-256, so a copy of the catalog lets no one act. Its
//! public id (`tok_` and 12 hex digits) names it in lists, revocations and the audit log.

use std::fmt;

use base64::Engine as _;
pub use custody_catalog::{AuditRecord, Catalog, StoredToken};
use custody_catalog::{NewAuditRecord, NewToken};
use jiff::Timestamp;
use sha2::{Digest as _, Sha256};

use crate::Error;
use crate::env::Clock;

/// The prefix of every token secret, so a leaked one is recognisable (secret scanners).
pub const SECRET_PREFIX: &str = "custody_";

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Publish releases.
    Publish,
    /// Add VEX statements.
    Vex,
    /// Import advisories.
    Advisories,
    /// Register webhooks.
    Webhooks,
    /// Everything, tokens and the audit log included.
    Admin,
    /// Read releases, findings, notices.
    Read,
}

impl Action {
    /// Every action, in the order help text lists them.
    pub const ALL: [Self; 6] = [
        Self::Publish,
        Self::Vex,
        Self::Advisories,
        Self::Webhooks,
        Self::Admin,
        Self::Read,
    ];

    /// Its name, as scopes are written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Vex => "vex",
            Self::Advisories => "advisories",
            Self::Webhooks => "webhooks",
            Self::Admin => "admin",
            Self::Read => "read",
        }
    }

    /// The action named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token to make.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The product it may act on; `None` for every product.
    pub product: Option<String>,
    /// What it may do; at least one.
    pub actions: Vec<Action>,
    /// How long it lives; `None` for until revoked.
    pub lifetime: Option<jiff::SignedDuration>,
    /// What it is for (a pipeline's name).
    pub description: String,
}

/// A token just made: the only time its secret exists outside the caller.
pub struct Issued {
    /// The record kept.
    pub token: StoredToken,
    /// The bearer secret.
    pub secret: zeroize::Zeroizing<String>,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Why a request's token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No token came with the request.
    #[error("no token: send one as `Authorization: Bearer custody_...`")]
    Missing,
    /// The secret matches no token.
    #[error("unknown token")]
    Unknown,
    /// The token's lifetime is over.
    #[error("token {id} expired at {expired}")]
    Expired {
        /// The token.
        id: String,
        /// When.
        expired: String,
    },
    /// The token was revoked.
    #[error("token {id} was revoked at {revoked}")]
    Revoked {
        /// The token.
        id: String,
        /// When.
        revoked: String,
    },
    /// The token may not take this action.
    #[error("token {id} may not {action} (its scopes: {scopes})")]
    Scope {
        /// The token.
        id: String,
        /// What was asked.
        action: Action,
        /// What it may do.
        scopes: String,
    },
    /// The token is for another product.
    #[error("token {id} is for product {allowed}, not {wanted}")]
    Product {
        /// The token.
        id: String,
        /// Its product.
        allowed: String,
        /// The product asked about.
        wanted: String,
    },
}

impl Refusal {
    /// Whether the caller is unknown (no valid token: HTTP 401), rather than known and not
    /// allowed (HTTP 403).
    pub fn is_unauthenticated(&self) -> bool {
        matches!(
            self,
            Self::Missing | Self::Unknown | Self::Expired { .. } | Self::Revoked { .. }
        )
    }

    /// The token this refusal is about, when it was recognised.
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::Missing | Self::Unknown => None,
            Self::Expired { id, .. }
            | Self::Revoked { id, .. }
            | Self::Scope { id, .. }
            | Self::Product { id, .. } => Some(id),
        }
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The value a signed-in page's forms carry, derived from the session's token secret, so a
/// form another site makes the browser post (which cannot read the page) lacks it.
pub fn form_token(secret: &str) -> String {
    hash(&format!("custody dashboard form\n{secret}"))
}

/// Whether `offered` is the form value of `secret`, compared in constant time.
pub fn form_token_matches(secret: &str, offered: &str) -> bool {
    let expected = form_token(secret);
    expected.len() == offered.len()
        && expected
            .bytes()
            .zip(offered.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Makes a token and records its hash.
pub fn create(
    catalog: &mut Catalog,
    request: &TokenRequest,
    clock: &dyn Clock,
) -> Result<Issued, Error> {
    if request.actions.is_empty() {
        return Err(Error::TokenWithoutScope);
    }
    if let Some(product) = &request.product {
        // The rule release names follow: the product a token is for must be one it can publish.
        custody_site::site::check_name("product", product)
            .map_err(|e| Error::Input(Box::new(e)))?;
    }
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    let mut id = [0u8; 6];
    getrandom::fill(bytes.as_mut())
        .and_then(|()| getrandom::fill(&mut id))
        .map_err(|_| Error::Randomness)?;
    let secret = zeroize::Zeroizing::new(format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
    ));
    let id = format!("tok_{}", hex::encode(id));
    // Whole seconds: lists and the audit log read better, and nothing needs finer.
    let now = clock.now();
    let now = now.round(jiff::Unit::Second).unwrap_or(now);
    let expires = request
        .lifetime
        .map(|d| now.checked_add(d))
        .transpose()
        .map_err(|_| Error::TokenLifetime)?
        .map(|t| t.to_string());
    let mut actions = request.actions.clone();
    actions.sort_unstable();
    actions.dedup();
    let scopes: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
    let created = now.to_string();
    let record = NewToken {
        id: &id,
        hash: &hash(&secret),
        product: request.product.as_deref(),
        scopes: &scopes,
        description: &request.description,
        created: &created,
        expires: expires.as_deref(),
    };
    catalog
        .add_token(&record)
        .map_err(|e| Error::catalog(catalog, e))?;
    Ok(Issued {
        token: StoredToken {
            id,
            product: request.product.clone(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            description: request.description.clone(),
            created,
            expires,
            revoked: None,
        },
        secret,
    })
}

/// Every token, oldest first (never a secret: none is kept).
pub fn list(catalog: &mut Catalog) -> Result<Vec<StoredToken>, Error> {
    catalog.tokens().map_err(|e| Error::catalog(catalog, e))
}

/// Revokes the token `id` from now on.
pub fn revoke(catalog: &mut Catalog, id: &str, clock: &dyn Clock) -> Result<(), Error> {
    let found = catalog
        .revoke_token(id, &clock.now().to_string())
        .map_err(|e| Error::catalog(catalog, e))?;
    if found {
        Ok(())
    } else {
        Err(Error::UnknownToken { id: id.to_owned() })
    }
}

/// Whether `secret` may take `action` (on `product`, when the action concerns one) at `now`;
/// the token when it may. Admin tokens may do everything.
pub fn authorize(
    catalog: &mut Catalog,
    secret: Option<&str>,
    action: Action,
    product: Option<&str>,
    now: Timestamp,
) -> Result<Result<StoredToken, Refusal>, Error> {
    let Some(secret) = secret else {
        return Ok(Err(Refusal::Missing));
    };
    let found = catalog
        .token_by_hash(&hash(secret))
        .map_err(|e| Error::catalog(catalog, e))?;
    Ok(decide(found, action, product, now))
}

/// Whether `token`'s lifetime is over at `now`. A stored time that does not parse counts as
/// past: fail closed.
pub fn is_expired(token: &StoredToken, now: Timestamp) -> bool {
    token
        .expires
        .as_ref()
        .is_some_and(|e| e.parse::<Timestamp>().map_or(true, |t| t <= now))
}

/// The decision itself, on the stored token.
fn decide(
    token: Option<StoredToken>,
    action: Action,
    product: Option<&str>,
    now: Timestamp,
) -> Result<StoredToken, Refusal> {
    let Some(token) = token else {
        return Err(Refusal::Unknown);
    };
    if let Some(revoked) = &token.revoked {
        return Err(Refusal::Revoked {
            id: token.id,
            revoked: revoked.clone(),
        });
    }
    if let Some(expires) = token.expires.as_ref().filter(|_| is_expired(&token, now)) {
        return Err(Refusal::Expired {
            id: token.id.clone(),
            expired: expires.clone(),
        });
    }
    let admin = token.scopes.iter().any(|s| s == Action::Admin.as_str());
    if !admin && !token.scopes.iter().any(|s| s == action.as_str()) {
        return Err(Refusal::Scope {
            scopes: token.scopes.join(" "),
            id: token.id,
            action,
        });
    }
    // A token for one product acts on that product only; what concerns no single product
    // (advisory imports, tokens, listing everything) needs a token for every product.
    match (&token.product, product) {
        (Some(allowed), wanted) if Some(allowed.as_str()) != wanted => Err(Refusal::Product {
            id: token.id.clone(),
            allowed: allowed.clone(),
            wanted: wanted.unwrap_or("every product").to_owned(),
        }),
        _ => Ok(token),
    }
}

/// One audit record: who asked what, of what, from where, and how it ended.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    /// The token used, when recognised.
    pub token: Option<&'a str>,
    /// What was asked (`publish`, `token.create`...).
    pub action: &'a str,
    /// What of (`app/1.4.2`, a token id).
    pub target: &'a str,
    /// The client's address.
    pub client: &'a str,
    /// `ok`, or the refusal.
    pub outcome: &'a str,
}

/// Appends to the audit log; its position.
pub fn audit(catalog: &mut Catalog, record: &Audit<'_>, clock: &dyn Clock) -> Result<i64, Error> {
    let time = clock.now().to_string();
    catalog
        .append_audit(&NewAuditRecord {
            time: &time,
            token: record.token,
            action: record.action,
            target: record.target,
            client: record.client,
            outcome: record.outcome,
        })
        .map_err(|e| Error::catalog(catalog, e))
}

/// Up to `limit` audit records after position `after`.
pub fn audit_log(catalog: &mut Catalog, after: i64, limit: i64) -> Result<Vec<AuditRecord>, Error> {
    catalog
        .audit_log(after, limit)
        .map_err(|e| Error::catalog(catalog, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn token(product: Option<&str>, scopes: &[&str]) -> StoredToken {
        StoredToken {
            id: "tok_1".into(),
            product: product.map(str::to_owned),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            description: String::new(),
            created: "2026-01-01T00:00:00Z".into(),
            expires: Some("2026-04-01T00:00:00Z".into()),
            revoked: None,
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn scope_product_expiry_and_revocation_decide() {
        let now = at("2026-02-01T00:00:00Z");
        let app = Some("app");
        let publish = token(app, &["publish"]);
        assert!(decide(Some(publish.clone()), Action::Publish, app, now).is_ok());
        assert!(matches!(
            decide(Some(publish.clone()), Action::Vex, app, now),
            Err(Refusal::Scope {
                action: Action::Vex,
                ..
            })
        ));
        assert!(matches!(
            decide(Some(publish.clone()), Action::Publish, Some("other"), now),
            Err(Refusal::Product { .. })
        ));
        let expired = decide(
            Some(publish.clone()),
            Action::Publish,
            app,
            at("2026-04-01T00:00:00Z"),
        )
        .unwrap_err();
        assert!(matches!(expired, Refusal::Expired { .. }));
        assert!(expired.is_unauthenticated());
        let revoked = StoredToken {
            revoked: Some("2026-01-15T00:00:00Z".into()),
            ..publish.clone()
        };
        assert!(matches!(
            decide(Some(revoked), Action::Publish, app, now),
            Err(Refusal::Revoked { .. })
        ));
        let garbled = StoredToken {
            expires: Some("soon".into()),
            ..publish
        };
        assert!(matches!(
            decide(Some(garbled), Action::Publish, app, now),
            Err(Refusal::Expired { .. })
        ));
        assert_eq!(decide(None, Action::Read, None, now), Err(Refusal::Unknown));
    }

    #[test]
    fn admin_may_do_everything_and_product_tokens_only_their_product() {
        let now = at("2026-02-01T00:00:00Z");
        let admin = token(None, &["admin"]);
        for action in Action::ALL {
            assert!(decide(Some(admin.clone()), action, Some("x"), now).is_ok());
            assert!(decide(Some(admin.clone()), action, None, now).is_ok());
        }
        let app_admin = token(Some("app"), &["admin"]);
        assert!(decide(Some(app_admin.clone()), Action::Vex, Some("app"), now).is_ok());
        assert!(decide(Some(app_admin), Action::Admin, None, now).is_err());
        let reader = token(Some("app"), &["read"]);
        assert!(decide(Some(reader.clone()), Action::Read, Some("app"), now).is_ok());
        let everything = decide(Some(reader), Action::Read, None, now).unwrap_err();
        assert!(matches!(everything, Refusal::Product { .. }));
        assert!(!everything.is_unauthenticated());
    }

    #[test]
    fn actions_round_trip_by_name() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("root"), None);
    }
}
