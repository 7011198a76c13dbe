//! The cache headers a release site must be served with: what is immutable (cached for a
//! year), what is replaced in place (always revalidated), and the rest (a minute). `custody
//! serve` sets them; `custody doctor --url` checks a site served by anything else.

/// Files that never change once written: a year, and `immutable` so browsers skip
/// revalidation too.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Files replaced in place (checkpoint, TUF timestamp and root, indexes): always revalidate.
pub const REVALIDATE: &str = "no-cache";
/// Partial log tiles and anything not known to be immutable: a minute.
pub const SHORT: &str = "public, max-age=60";

/// The `Cache-Control` for a site path (no leading `/`).
///
/// Immutable: log tiles and entry bundles (c2sp.org/tlog-tiles: a full tile never changes),
/// everything under `releases/` (a published version is never rewritten), TUF `targets/`
/// (consistent-snapshot names carry their hash) and versioned `tuf/metadata/N.role.json`.
/// Partial tiles (`.p/`) are immutable by the spec too, but a partial tile is superseded by
/// the full one soon, so caching it for a year only wastes space: short.
pub fn cache_control(path: &str) -> &'static str {
    if let Some(log_path) = path.strip_prefix("log/") {
        if log_path.starts_with("tile/") && log_path.contains(".p/") {
            return SHORT;
        }
        return match custody_tlog::cache_control(log_path) {
            Some(c) if c.contains("immutable") => IMMUTABLE,
            Some(_) => REVALIDATE,
            None => SHORT,
        };
    }
    if path.starts_with("releases/") && !path.ends_with('/') && !path.ends_with("index.html") {
        return IMMUTABLE;
    }
    if let Some(tuf) = path.strip_prefix("tuf/") {
        if tuf.starts_with("targets/") && !tuf.ends_with('/') {
            return IMMUTABLE;
        }
        if let Some(name) = tuf.strip_prefix("metadata/") {
            return if is_versioned_metadata(name) {
                IMMUTABLE
            } else {
                REVALIDATE
            };
        }
    }
    if path.ends_with("root.json") || path == "timestamp.json" {
        return REVALIDATE;
    }
    SHORT
}

/// `N.role.json` with N a decimal version: written once per version (TUF consistent
/// snapshots).
fn is_versioned_metadata(name: &str) -> bool {
    let Some((version, rest)) = name.split_once('.') else {
        return false;
    };
    !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_digit())
        && rest.ends_with(".json")
        && !rest.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_by_path() {
        for (path, want) in [
            ("log/checkpoint", REVALIDATE),
            ("log/vkey", SHORT),
            ("log/tile/0/000", IMMUTABLE),
            ("log/tile/1/x001/234", IMMUTABLE),
            ("log/tile/0/000.p/17", SHORT),
            ("log/tile/entries/000", IMMUTABLE),
            ("log/tile/entries/000.p/3", SHORT),
            ("releases/app/1.4.2/app.tar.gz", IMMUTABLE),
            ("releases/app/1.4.2/app.tar.gz.sigstore.json", IMMUTABLE),
            ("releases/app/index.html", SHORT),
            ("tuf/targets/ab12.app.tar.gz", IMMUTABLE),
            ("tuf/metadata/3.root.json", IMMUTABLE),
            ("tuf/metadata/12.snapshot.json", IMMUTABLE),
            ("tuf/metadata/7.app.json", IMMUTABLE),
            ("tuf/metadata/timestamp.json", REVALIDATE),
            ("tuf/metadata/root.json", REVALIDATE),
            ("tuf/metadata/x.root.json", REVALIDATE),
            ("trusted_root.json", REVALIDATE),
            ("custody-policy.json", SHORT),
            ("index.html", SHORT),
        ] {
            assert_eq!(cache_control(path), want, "{path}");
        }
    }
}
