//! `custody token`: a secret shown once and stored only as its hash, listed, revoked; bad
//! scopes, durations, products and ids refused with a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Project;
use sha2::Digest as _;

#[test]
fn a_token_is_shown_once_kept_as_a_hash_and_revoked() {
    let p = Project::new("ed25519");
    let r = p.run(&[
        "token",
        "create",
        "--product",
        "app",
        "--scope",
        "publish,read",
        "--expires",
        "90d",
        "--description",
        "app CI",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let created = r.json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("custody_"), "{secret}");
    // 256 bits in unpadded base64url.
    assert_eq!(secret.len(), "custody_".len() + 43);
    assert!(id.starts_with("tok_"));
    assert_eq!(created["scopes"], serde_json::json!(["publish", "read"]));
    let created_at: jiff::Timestamp = created["created"].as_str().unwrap().parse().unwrap();
    let expires: jiff::Timestamp = created["expires"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires.duration_since(created_at).as_hours(), 90 * 24);

    // The catalog holds the hash, never the secret.
    let catalog = std::fs::read(p.dir().join(".custody/catalog.sqlite")).unwrap();
    let wal = std::fs::read(p.dir().join(".custody/catalog.sqlite-wal")).unwrap_or_default();
    let stored = [catalog, wal].concat();
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(secret.as_bytes()), "the secret is stored");
    assert!(contains(
        hex::encode(sha2::Sha256::digest(secret.as_bytes())).as_bytes()
    ));

    let r = p.run(&["token", "create", "--scope", "admin"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("every product"), "{}", r.stdout);
    assert!(r.stdout.contains("valid until revoked"), "{}", r.stdout);

    let r = p.run(&["token", "list", "--json"]);
    let tokens = r.json()["tokens"].as_array().unwrap().clone();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| t.get("secret").is_none()));
    assert!(!r.stdout.contains(&secret));

    let r = p.run(&["token", "revoke", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&["token", "list"]);
    let line = r.stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("revoked"), "{line}");

    let r = p.run(&["token", "revoke", "tok_000000000000"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no token tok_000000000000"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_token_requests_are_refused_clearly() {
    let p = Project::new("ed25519");
    for (args, says) in [
        (&["--scope", "root"][..], "invalid value 'root'"),
        (
            &["--scope", "publish", "--expires", "soon"][..],
            "not a duration",
        ),
        (
            &["--scope", "publish", "--expires=-3d"][..],
            "must be in the future",
        ),
        (
            &["--scope", "publish", "--product", "../etc"][..],
            "invalid product",
        ),
        (&[][..], "--scope"),
    ] {
        let r = p.run(&[&["token", "create"][..], args].concat());
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    let r = p.run(&["token", "list", "--json"]);
    assert_eq!(
        r.json()["tokens"],
        serde_json::json!([]),
        "nothing was made"
    );
}
