//! Webhooks registered through the server, and the addresses they may not point at.
//!
//! A webhook URL is a request the server makes on someone's behalf, so one pointing at the
//! server itself, at loopback, at a private network or at a cloud metadata address would let a
//! token holder reach what only the server can (server-side request forgery). Such URLs are
//! refused when registered, checked again before each delivery, and refused by the delivery's
//! own connection if the name then resolves inside (DNS rebinding: `Limits::PUBLIC_WEBHOOK`),
//! unless the operator allowed private addresses for that webhook.

use std::net::{IpAddr, ToSocketAddrs};

use custody_catalog::Catalog;
pub use custody_catalog::{DeliveryRecord, Webhook};

use crate::Error;
use crate::env::Clock;
use crate::transport::is_internal;

/// Checks that `url` is an `http(s)://` URL whose host resolves only to addresses a webhook may
/// reach (any, with `allow_internal`).
pub fn check_url(url: &str, allow_internal: bool) -> Result<(), Error> {
    let bad = |reason: &str| Error::WebhookUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    let port = match uri.scheme_str() {
        Some("https") => 443,
        Some("http") => 80,
        _ => return Err(bad("only http:// and https:// are posted to")),
    };
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = (host, uri.port_u16().unwrap_or(port))
        .to_socket_addrs()
        .map_err(|e| bad(&format!("{host} does not resolve: {e}")))?
        .map(|a| a.ip())
        .collect();
    if addrs.is_empty() {
        return Err(bad(&format!("{host} resolves to no address")));
    }
    if let Some(ip) = addrs.iter().find(|ip| !allow_internal && is_internal(**ip)) {
        return Err(bad(&format!(
            "{host} is {ip}, a loopback, private or link-local address; the server's operator \
             may allow such webhooks"
        )));
    }
    Ok(())
}

/// A webhook just registered: the only time its secret is shown.
#[derive(Debug, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registered {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The HMAC-SHA256 key its events are signed with (`X-Custody-Signature`), hex.
    pub secret: String,
}

/// Registers a webhook for every product's events, with a new secret.
pub fn register(
    catalog: &mut Catalog,
    url: &str,
    allow_internal: bool,
    clock: &dyn Clock,
) -> Result<Registered, Error> {
    check_url(url, allow_internal)?;
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id)
        .and_then(|()| getrandom::fill(&mut secret))
        .map_err(|_| Error::Randomness)?;
    let now = clock.now();
    let webhook = Webhook {
        id: format!("whk_{}", hex::encode(id)),
        url: url.to_owned(),
        private_ok: allow_internal,
        created: now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
    };
    let secret = hex::encode(secret);
    catalog
        .add_webhook(&webhook, &secret)
        .map_err(|e| Error::catalog(catalog, e))?;
    Ok(Registered { webhook, secret })
}

/// The registered webhooks.
pub fn list(catalog: &mut Catalog) -> Result<Vec<Webhook>, Error> {
    catalog.webhooks().map_err(|e| Error::catalog(catalog, e))
}

/// Removes a registered webhook; its queued events are dropped when due.
pub fn remove(catalog: &mut Catalog, id: &str, clock: &dyn Clock) -> Result<(), Error> {
    let found = catalog
        .remove_webhook(id, &clock.now().to_string())
        .map_err(|e| Error::catalog(catalog, e))?;
    if found {
        Ok(())
    } else {
        Err(Error::UnknownWebhook { id: id.to_owned() })
    }
}

/// The latest deliveries, newest first.
pub fn deliveries(catalog: &mut Catalog, limit: i64) -> Result<Vec<DeliveryRecord>, Error> {
    catalog
        .deliveries(limit)
        .map_err(|e| Error::catalog(catalog, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "https://10.1.2.3/hook",
            "https://172.16.0.1/hook",
            "https://192.168.1.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hook",
            "http://[fd00::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://0.0.0.0/hook",
            "http://100.64.0.1/hook",
        ] {
            let err = check_url(url, false).unwrap_err();
            assert!(matches!(err, Error::WebhookUrl { .. }), "{url}: {err}");
            assert!(check_url(url, true).is_ok(), "{url} with internal allowed");
        }
        assert!(check_url("https://203.0.113.7/hook", false).is_ok());
        for url in [
            "ftp://203.0.113.7/x",
            "file:///etc/passwd",
            "not a url",
            "https:///x",
        ] {
            assert!(check_url(url, true).is_err(), "{url}");
        }
    }
}
