//! The publishing service's access records: API tokens (only their SHA-256 hashes) and the
//! append-only audit log of every write and every refused request.
//!
//! What a token allows, and whether it is still good, is decided by the service layer; this
//! module only keeps the rows.

use crate::Error;
use crate::backend::{Param, Row};
use crate::catalog::{Catalog, int, opt_text, text};

/// A token to record.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    /// Its public id, shown in lists and the audit log.
    pub id: &'a str,
    /// SHA-256 of the secret, lowercase hex.
    pub hash: &'a str,
    /// The product it may act on; `None` for every product.
    pub product: Option<&'a str>,
    /// The actions it may take.
    pub scopes: &'a [&'a str],
    /// What it is for, as its creator said.
    pub description: &'a str,
    /// When it was made (RFC 3339).
    pub created: &'a str,
    /// When it stops working (RFC 3339); `None` for never.
    pub expires: Option<&'a str>,
}

/// A stored token (never its secret).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredToken {
    /// Its public id.
    pub id: String,
    /// The product it may act on; `None` for every product.
    pub product: Option<String>,
    /// The actions it may take.
    pub scopes: Vec<String>,
    /// What it is for.
    pub description: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// When it stops working (RFC 3339).
    pub expires: Option<String>,
    /// When it was revoked (RFC 3339).
    pub revoked: Option<String>,
}

/// One audit record to append.
#[derive(Debug, Clone, Copy)]
pub struct NewAuditRecord<'a> {
    /// When (RFC 3339).
    pub time: &'a str,
    /// The token used, when one was recognised.
    pub token: Option<&'a str>,
    /// What was asked (`publish`, `token.revoke`...).
    pub action: &'a str,
    /// What it was asked of (`app/1.4.2`, a token id...).
    pub target: &'a str,
    /// The client's address.
    pub client: &'a str,
    /// `ok`, or why it was refused.
    pub outcome: &'a str,
}

/// One audit record as stored, with its place in the log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    /// Its position: strictly increasing.
    pub seq: i64,
    /// When (RFC 3339).
    pub time: String,
    /// The token used, when one was recognised.
    pub token: Option<String>,
    /// What was asked.
    pub action: String,
    /// What it was asked of.
    pub target: String,
    /// The client's address.
    pub client: String,
    /// `ok`, or why it was refused.
    pub outcome: String,
}

/// The columns `id, product, scopes, description, created, expires, revoked`.
fn stored_token(row: &Row) -> Result<StoredToken, Error> {
    const WHAT: &str = "token";
    Ok(StoredToken {
        id: text(row, 0, WHAT)?,
        product: opt_text(row, 1, WHAT)?,
        scopes: text(row, 2, WHAT)?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        description: text(row, 3, WHAT)?,
        created: text(row, 4, WHAT)?,
        expires: opt_text(row, 5, WHAT)?,
        revoked: opt_text(row, 6, WHAT)?,
    })
}

impl Catalog {
    /// Records a new token.
    pub fn add_token(&mut self, t: &NewToken<'_>) -> Result<(), Error> {
        let scopes = t.scopes.join(" ");
        self.execute(
            "adding a token",
            "INSERT INTO tokens (id, hash, product, scopes, description, created, expires)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                t.id.into(),
                t.hash.into(),
                t.product.into(),
                (&scopes).into(),
                t.description.into(),
                t.created.into(),
                t.expires.into(),
            ],
        )?;
        Ok(())
    }

    /// The token whose secret hashes to `hash`.
    pub fn token_by_hash(&mut self, hash: &str) -> Result<Option<StoredToken>, Error> {
        self.query(
            "looking up a token",
            "SELECT id, product, scopes, description, created, expires, revoked
             FROM tokens WHERE hash = $1",
            &[hash.into()],
        )?
        .first()
        .map(stored_token)
        .transpose()
    }

    /// Every token, oldest first.
    pub fn tokens(&mut self) -> Result<Vec<StoredToken>, Error> {
        self.query(
            "listing tokens",
            "SELECT id, product, scopes, description, created, expires, revoked
             FROM tokens ORDER BY created, id",
            &[],
        )?
        .iter()
        .map(stored_token)
        .collect()
    }

    /// Revokes the token `id` at `at`; `false` when there is no such token. Revoking twice
    /// keeps the first time.
    pub fn revoke_token(&mut self, id: &str, at: &str) -> Result<bool, Error> {
        self.execute(
            "revoking a token",
            "UPDATE tokens SET revoked = COALESCE(revoked, $2) WHERE id = $1",
            &[id.into(), at.into()],
        )
        .map(|n| n > 0)
    }

    /// Appends to the audit log; the record's position.
    pub fn append_audit(&mut self, r: &NewAuditRecord<'_>) -> Result<i64, Error> {
        let rows = self.query(
            "appending to the audit log",
            "INSERT INTO audit (time, token, action, target, client, outcome)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
            &[
                r.time.into(),
                r.token.into(),
                r.action.into(),
                r.target.into(),
                r.client.into(),
                r.outcome.into(),
            ],
        )?;
        match rows.first() {
            Some(row) => int(row, 0, "audit position"),
            None => Err(Error::Column {
                what: "audit position",
                index: 0,
                expected: "a returned row",
            }),
        }
    }

    /// Up to `limit` audit records after position `after`, in order.
    pub fn audit_log(&mut self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, Error> {
        const WHAT: &str = "audit record";
        self.query(
            "reading the audit log",
            "SELECT seq, time, token, action, target, client, outcome FROM audit
             WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[Param::Int(after), Param::Int(limit)],
        )?
        .iter()
        .map(|r| {
            Ok(AuditRecord {
                seq: int(r, 0, WHAT)?,
                time: text(r, 1, WHAT)?,
                token: opt_text(r, 2, WHAT)?,
                action: text(r, 3, WHAT)?,
                target: text(r, 4, WHAT)?,
                client: text(r, 5, WHAT)?,
                outcome: text(r, 6, WHAT)?,
            })
        })
        .collect()
    }
}

/// A webhook event to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Its id, sent with it so a receiver can drop a repeat.
    pub id: String,
    /// The webhook.
    pub url: String,
    /// Where the HMAC secret is.
    pub secret: SecretRef,
    /// The event (JSON).
    pub body: String,
}

/// Where a webhook's HMAC secret is found when its event is sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum SecretRef {
    /// In this environment variable (webhooks in custody.toml).
    Env(String),
    /// With the registered webhook of this id.
    Webhook(String),
}

/// A webhook event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    /// Its id.
    pub id: String,
    /// The webhook.
    pub url: String,
    /// Where the HMAC secret is.
    pub secret: SecretRef,
    /// The event (JSON).
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
}

impl Catalog {
    /// Adds deliveries to the outbox (in the caller's transaction, when there is one).
    pub(crate) fn enqueue(&mut self, deliveries: &[NewDelivery], now: &str) -> Result<(), Error> {
        for d in deliveries {
            let (env, webhook) = match &d.secret {
                SecretRef::Env(name) => (name.as_str(), None),
                SecretRef::Webhook(id) => ("", Some(id.as_str())),
            };
            self.execute(
                "queueing a webhook event",
                "INSERT INTO outbox (id, url, secret_env, body, created, next_attempt, webhook)
                 VALUES ($1, $2, $3, $4, $5, $5, $6)",
                &[
                    (&d.id).into(),
                    (&d.url).into(),
                    env.into(),
                    (&d.body).into(),
                    now.into(),
                    webhook.into(),
                ],
            )?;
        }
        Ok(())
    }

    /// Undelivered events due by `now` (RFC 3339 in UTC, compared as text: every time the
    /// catalog writes has that one layout), oldest first.
    pub fn due_deliveries(&mut self, now: &str, limit: i64) -> Result<Vec<Pending>, Error> {
        const WHAT: &str = "outbox entry";
        self.query(
            "reading the outbox",
            "SELECT id, url, secret_env, body, attempts, webhook FROM outbox
             WHERE delivered IS NULL AND next_attempt <= $1 ORDER BY created, id LIMIT $2",
            &[now.into(), Param::Int(limit)],
        )?
        .iter()
        .map(|r| {
            Ok(Pending {
                id: text(r, 0, WHAT)?,
                url: text(r, 1, WHAT)?,
                secret: match opt_text(r, 5, WHAT)? {
                    Some(webhook) => SecretRef::Webhook(webhook),
                    None => SecretRef::Env(text(r, 2, WHAT)?),
                },
                body: text(r, 3, WHAT)?,
                attempts: int(r, 4, WHAT)?,
            })
        })
        .collect()
    }

    /// Records a delivery the receiver acknowledged.
    pub fn delivered(&mut self, id: &str, at: &str) -> Result<(), Error> {
        self.execute(
            "recording a delivery",
            "UPDATE outbox SET delivered = $2, attempts = attempts + 1, last_error = NULL
             WHERE id = $1",
            &[id.into(), at.into()],
        )?;
        Ok(())
    }

    /// Gives up on an event that can never be sent (its webhook was removed): it is kept, with
    /// the reason, and never due again.
    pub fn abandon_delivery(&mut self, id: &str, reason: &str) -> Result<(), Error> {
        self.execute(
            "abandoning a delivery",
            "UPDATE outbox SET last_error = $2, next_attempt = '9999-12-31T23:59:59Z'
             WHERE id = $1",
            &[id.into(), reason.into()],
        )?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub fn delivery_failed(&mut self, id: &str, error: &str, retry_at: &str) -> Result<(), Error> {
        self.execute(
            "recording a failed delivery",
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt = $3
             WHERE id = $1",
            &[id.into(), error.into(), retry_at.into()],
        )?;
        Ok(())
    }
}

/// A webhook registered through the API.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// Where events are posted.
    pub url: String,
    /// Whether it was registered with loopback or private addresses allowed.
    pub private_ok: bool,
    /// When it was registered (RFC 3339).
    pub created: String,
}

/// One delivery of the outbox, as an operator reads it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryRecord {
    /// The event's id.
    pub id: String,
    /// The webhook's URL.
    pub url: String,
    /// When it was queued.
    pub created: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the receiver acknowledged it.
    pub delivered: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it is tried next, while undelivered.
    pub next_attempt: String,
}

impl Catalog {
    /// Registers a webhook with its secret.
    pub fn add_webhook(&mut self, hook: &Webhook, secret: &str) -> Result<(), Error> {
        self.execute(
            "registering a webhook",
            "INSERT INTO webhooks (id, url, secret, private_ok, created) VALUES ($1, $2, $3, $4, $5)",
            &[
                (&hook.id).into(),
                (&hook.url).into(),
                secret.into(),
                Param::Int(i64::from(hook.private_ok)),
                (&hook.created).into(),
            ],
        )?;
        Ok(())
    }

    /// The webhooks registered and not removed, oldest first.
    pub fn webhooks(&mut self) -> Result<Vec<Webhook>, Error> {
        const WHAT: &str = "webhook";
        self.query(
            "listing webhooks",
            "SELECT id, url, private_ok, created FROM webhooks WHERE removed IS NULL
             ORDER BY created, id",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(Webhook {
                id: text(r, 0, WHAT)?,
                url: text(r, 1, WHAT)?,
                private_ok: int(r, 2, WHAT)? != 0,
                created: text(r, 3, WHAT)?,
            })
        })
        .collect()
    }

    /// A registered webhook's secret, and whether it may post to private addresses; `None`
    /// once removed.
    pub fn webhook_secret(&mut self, id: &str) -> Result<Option<(String, bool)>, Error> {
        const WHAT: &str = "webhook";
        self.query(
            "reading a webhook",
            "SELECT secret, private_ok FROM webhooks WHERE id = $1 AND removed IS NULL",
            &[id.into()],
        )?
        .first()
        .map(|r| Ok((text(r, 0, WHAT)?, int(r, 1, WHAT)? != 0)))
        .transpose()
    }

    /// Removes a webhook; `false` when there is no such one. Its queued events are not sent.
    pub fn remove_webhook(&mut self, id: &str, at: &str) -> Result<bool, Error> {
        self.execute(
            "removing a webhook",
            "UPDATE webhooks SET removed = $2 WHERE id = $1 AND removed IS NULL",
            &[id.into(), at.into()],
        )
        .map(|n| n > 0)
    }

    /// The latest `limit` deliveries, newest first.
    pub fn deliveries(&mut self, limit: i64) -> Result<Vec<DeliveryRecord>, Error> {
        const WHAT: &str = "delivery";
        self.query(
            "reading deliveries",
            "SELECT id, url, created, attempts, delivered, last_error, next_attempt FROM outbox
             ORDER BY created DESC, id DESC LIMIT $1",
            &[Param::Int(limit)],
        )?
        .iter()
        .map(|r| {
            Ok(DeliveryRecord {
                id: text(r, 0, WHAT)?,
                url: text(r, 1, WHAT)?,
                created: text(r, 2, WHAT)?,
                attempts: int(r, 3, WHAT)?,
                delivered: opt_text(r, 4, WHAT)?,
                last_error: opt_text(r, 5, WHAT)?,
                next_attempt: text(r, 6, WHAT)?,
            })
        })
        .collect()
    }
}
