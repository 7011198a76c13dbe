//! The dashboard's HTML, with maud.
//!
//! Why maud, of the three the issue names: its templates are Rust, checked when the crate
//! compiles (a renamed field breaks the build, not a page), every interpolated value is escaped
//! unless wrapped in `PreEscaped` (nothing here is), there are no template files to embed or
//! find at run time, and it writes straight into one `String` (the 2,000-row release page is a
//! few milliseconds). askama would do the same from separate Jinja-like files at the cost of a
//! larger build; minijinja parses templates at run time and finds mistakes there.

use custody_service::access::{AuditRecord, StoredToken};
use custody_service::dashboard::{
    AdvisoryPage, ArtifactFacts, ComponentChanges, ComponentQuery, InclusionCheck, LogPage,
    ProductPage, ProductRow, ReleaseFindings, ReleasePage, TargetState,
};
use custody_service::webhooks::{DeliveryRecord, Webhook};
use maud::{DOCTYPE, Markup, html};

/// The dashboard's root.
pub const ROOT: &str = "/ui";

/// The severities, worst first, as the catalog names them.
const SEVERITIES: [&str; 8] = [
    "critical", "high", "medium", "low", "none", "unscored", "unknown", "warning",
];

/// Who is looking: signed in with an admin token (and the value its forms carry), or not.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// The form token of the session, when signed in.
    pub form_token: Option<String>,
}

fn seg(s: &str) -> String {
    // Path segments of product, version and advisory names: what a URL may not hold bare.
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn release_url(product: &str, version: &str) -> String {
    format!("{ROOT}/releases/{}/{}", seg(product), seg(version))
}

fn product_url(product: &str) -> String {
    format!("{ROOT}/products/{}", seg(product))
}

fn advisory_url(id: &str) -> String {
    format!("{ROOT}/advisories/{}", seg(id))
}

/// The frame of every page.
pub fn layout(title: &str, viewer: &Viewer, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · custody" }
                link rel="stylesheet" href={ (ROOT) "/assets/dashboard.css" };
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href=(ROOT) { "custody" }
                    nav aria-label="Main" {
                        ul {
                            li { a href=(ROOT) { "Products" } }
                            li { a href={ (ROOT) "/log" } { "Transparency log" } }
                            li { a href={ (ROOT) "/admin" } { "Admin" } }
                        }
                    }
                    div.session {
                        @if let Some(token) = &viewer.form_token {
                            span { "Signed in" }
                            form method="post" action={ (ROOT) "/logout" } {
                                input type="hidden" name="form_token" value=(token);
                                button type="submit" { "Sign out" }
                            }
                        } @else {
                            a href={ (ROOT) "/login" } { "Sign in" }
                        }
                    }
                }
                main #main { (body) }
                footer { "custody: the chain of custody for shipped software" }
            }
        }
    }
}

fn severity_badges(open: &std::collections::BTreeMap<String, i64>) -> Markup {
    html! {
        @if open.is_empty() {
            span.muted { "none" }
        }
        @for s in SEVERITIES {
            @if let Some(n) = open.get(s) {
                span class={ "badge sev-" (s) } { (n) " " (s) }
            }
        }
    }
}

fn severity_badge(s: Option<&str>) -> Markup {
    let s = s.unwrap_or("unknown");
    html! { span class={ "badge sev-" (s) } { (s) } }
}

/// Every product.
pub fn products(rows: &[ProductRow], fail_on: &str, viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Products" }
        p.lead {
            "Every product shipped, its latest release, the open findings of that release and "
            "whether the release gate (fail on " code { (fail_on) } ") would let it through today."
        }
        @if rows.is_empty() {
            p { "No release has been published yet." }
        } @else {
            table {
                caption.skip { "Products" }
                thead { tr {
                    th scope="col" { "Product" }
                    th scope="col" { "Latest release" }
                    th scope="col" { "Catalogued" }
                    th scope="col" class="num" { "Releases" }
                    th scope="col" { "Open findings" }
                    th scope="col" { "Gate" }
                } }
                tbody {
                    @for r in rows {
                        @let s = &r.summary;
                        tr {
                            td { a href=(product_url(&s.product)) { (s.product) } }
                            td { a href=(release_url(&s.product, &s.latest)) { (s.latest) } }
                            td { (s.added) }
                            td.num { (s.releases) }
                            td { (severity_badges(&s.open)) }
                            td {
                                @if r.blocking == 0 {
                                    span.pass { "passes" }
                                } @else {
                                    span.fail { "blocked by " (r.blocking) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("Products", viewer, body)
}

/// One product: its releases and the plots.
pub fn product(page: &ProductPage, viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { (page.product) }
        h2 { "Open findings over releases" }
        (findings_plot(&page.releases))
        h2 { "Components added and removed" }
        (changes_plot(&page.changes))
        h2 { "Releases" }
        table {
            thead { tr {
                th scope="col" { "Version" }
                th scope="col" { "Catalogued" }
                th scope="col" { "Open findings" }
            } }
            tbody {
                @for r in &page.releases {
                    tr {
                        td { a href=(release_url(&page.product, &r.version)) { (r.version) } }
                        td { (r.added) }
                        td { (severity_badges(&r.open)) }
                    }
                }
            }
        }
    };
    layout(&page.product, viewer, body)
}

fn severity_colour(s: &str) -> &'static str {
    match s {
        "critical" => "#8c0a1f",
        "high" => "#b3261e",
        "medium" => "#8a5300",
        "low" => "#335c81",
        _ => "#4a525c",
    }
}

/// Stacked bars of open findings per release, oldest on the left; an SVG, no script.
fn findings_plot(releases: &[ReleaseFindings]) -> Markup {
    const W: usize = 720;
    const H: usize = 180;
    const BASE: usize = 150;
    let oldest_first: Vec<&ReleaseFindings> = releases.iter().rev().collect();
    let max = oldest_first
        .iter()
        .map(|r| r.open.values().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = W / oldest_first.len().max(1);
    let bar = (slot * 3 / 5).clamp(4, 48);
    let label = oldest_first
        .iter()
        .map(|r| format!("{}: {}", r.version, r.open.values().sum::<i64>()))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        figure {
            svg role="img" aria-label={ "Open findings per release, oldest first: " (label) }
                width=(W) height=(H) viewBox={ "0 0 " (W) " " (H) } {
                line x1="0" y1=(BASE) x2=(W) y2=(BASE) stroke="#8a96a3" {}
                @for (i, r) in oldest_first.iter().enumerate() {
                    @let x = i * slot + (slot - bar) / 2;
                    @let segments = stack(r, BASE, (BASE - 20) as f64 / max as f64);
                    @for (top, height, s, n) in &segments {
                        rect x=(x) y=(top) width=(bar) height=(height) fill=(severity_colour(s)) {
                            title { (r.version) ": " (n) " " (s) }
                        }
                    }
                    @let top = segments.last().map_or(BASE, |s| s.0);
                    text x=(x + bar / 2) y=(BASE + 14) text-anchor="middle" { (r.version) }
                    text x=(x + bar / 2) y=(top.saturating_sub(4)) text-anchor="middle" {
                        (r.open.values().sum::<i64>())
                    }
                }
            }
            figcaption { "Open findings (not covered by a not_affected or fixed VEX statement) per release, coloured by severity." }
        }
    }
}

/// One bar's segments, bottom up, worst severity at the bottom: (top, height, severity, count).
fn stack(r: &ReleaseFindings, base: usize, per: f64) -> Vec<(usize, usize, &'static str, i64)> {
    let mut y = base;
    let mut out = Vec::new();
    for s in SEVERITIES {
        if let Some(&n) = r.open.get(s) {
            // Rounded to whole pixels; a count is never drawn taller than the axis allows.
            let height = ((n as f64) * per).round().max(1.0) as usize;
            let top = y.saturating_sub(height);
            out.push((top, y - top, s, n));
            y = top;
        }
    }
    out
}

/// Components added (up) and removed (down) between consecutive releases.
fn changes_plot(changes: &[ComponentChanges]) -> Markup {
    const W: usize = 720;
    const H: usize = 200;
    const MID: usize = 95;
    if changes.is_empty() {
        return html! { p.muted { "One release so far, or none with an SBOM to compare." } };
    }
    let oldest_first: Vec<&ComponentChanges> = changes.iter().rev().collect();
    let max = oldest_first
        .iter()
        .map(|c| c.added.max(c.removed))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = W / oldest_first.len();
    let bar = (slot * 3 / 5).clamp(4, 48);
    let scale = |n: usize| n * (MID - 20) / max;
    let label = oldest_first
        .iter()
        .map(|c| format!("{}: +{} -{} ~{}", c.version, c.added, c.removed, c.changed))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        figure {
            svg role="img" aria-label={ "Components added and removed per release: " (label) }
                width=(W) height=(H) viewBox={ "0 0 " (W) " " (H) } {
                line x1="0" y1=(MID) x2=(W) y2=(MID) stroke="#8a96a3" {}
                @for (i, c) in oldest_first.iter().enumerate() {
                    @let x = i * slot + (slot - bar) / 2;
                    rect x=(x) y=(MID - scale(c.added)) width=(bar) height=(scale(c.added)) fill="#116329" {
                        title { (c.version) ": " (c.added) " added since " (c.previous) }
                    }
                    rect x=(x) y=(MID) width=(bar) height=(scale(c.removed)) fill="#a40e26" {
                        title { (c.version) ": " (c.removed) " removed since " (c.previous) }
                    }
                    text x=(x + bar / 2) y=(H - 4) text-anchor="middle" { (c.version) }
                    text x=(x + bar / 2) y=(MID - scale(c.added) - 4) text-anchor="middle" { "+" (c.added) }
                }
            }
            figcaption { "Components added (up, green) and removed (down, red) from the release before, by " code { "sbom diff" } ". Versions changed: "
                @for (i, c) in oldest_first.iter().enumerate() {
                    @if i > 0 { "; " }
                    (c.changed) " in " (c.version)
                }
            }
        }
    }
}

fn check_class(status: &str) -> &'static str {
    match status {
        "pass" => "pass",
        "fail" => "fail",
        _ => "skipped",
    }
}

fn artifact(a: &ArtifactFacts) -> Markup {
    html! {
        div.panel {
            h3 { (a.name) " "
                @if a.verified { span.pass { "verified" } } @else { span.fail { "not verified" } }
            }
            dl.facts {
                dt { "Size" } dd { (a.size) " bytes" }
                dt { "SHA-256" } dd.mono { (a.sha256) }
                dt { "SHA-512" } dd.mono { (a.sha512) }
                dt { "Signer key" } dd.mono { (a.release.key) }
                dt { "Download" } dd {
                    a href={ "/releases/" (seg(&a.release.product)) "/" (seg(&a.release.version)) "/" (seg(&a.name)) } { (a.name) }
                    " · "
                    a href={ "/releases/" (seg(&a.release.product)) "/" (seg(&a.release.version)) "/" (seg(&a.name)) ".sigstore.json" } { "bundle" }
                }
                dt { "Transparency log" } dd {
                    @match &a.log {
                        None => span.fail { "no log entry in the bundle" },
                        Some(l) => {
                            "entry " (l.index)
                            @if let Some(size) = l.bundle_size { ", proved in the bundle against a checkpoint of size " (size) }
                            "; checked now against the published tiles: "
                            @match &l.check {
                                InclusionCheck::Proved { size } => span.pass { "included in the checkpoint of size " (size) },
                                InclusionCheck::Failed { reason } => span.fail { "failed: " (reason) },
                                InclusionCheck::Unavailable { reason } => span.skipped { "log unavailable: " (reason) },
                            }
                        }
                    }
                }
                dt { "TUF target" } dd {
                    @match &a.tuf {
                        TargetState::Listed { role, matches: true } => span.pass { "listed by role " code { (role) } ", hashes match" },
                        TargetState::Listed { role, matches: false } => span.fail { "listed by role " code { (role) } " with other hashes" },
                        TargetState::NotListed => span.fail { "not a target" },
                        TargetState::NoRepository => span.skipped { "the site has no TUF repository" },
                    }
                }
            }
            table {
                caption { "Checks of " code { "custody verify" } ", run when this page was made" }
                thead { tr { th scope="col" { "Check" } th scope="col" { "Result" } th scope="col" { "Detail" } } }
                tbody {
                    @for c in &a.checks {
                        tr {
                            td { (c.name) }
                            td class=(check_class(c.status)) { (c.status) }
                            td { (c.detail) }
                        }
                    }
                }
            }
        }
    }
}

/// One release.
pub fn release(page: &ReleasePage, query: &ComponentQuery, viewer: &Viewer) -> Markup {
    let provenance = page
        .artifacts
        .iter()
        .find(|a| a.verified)
        .map(|a| &a.release);
    let body = html! {
        p { a href=(product_url(&page.product)) { "← " (page.product) } }
        h1 { (page.product) " " span.sub { (page.version) } }
        p.lead { "Catalogued " (page.added) ". Every check below ran when this page was made, against the site's policy and trusted root." }
        h2 { "Provenance" }
        @match provenance {
            Some(p) => {
                dl.facts.panel {
                    dt { "Source repository" } dd.mono { (p.repository) }
                    dt { "Ref" } dd.mono { (p.git_ref) }
                    dt { "Commit" } dd.mono { (p.commit) }
                    dt { "Builder" } dd.mono { (p.builder) }
                    dt { "Clean tree" } dd {
                        @match p.tree_clean {
                            Some(true) => span.pass { "yes" },
                            Some(false) => span.fail { "no: built with uncommitted changes" },
                            None => span.skipped { "not stated" },
                        }
                    }
                    dt { "Signer key" } dd.mono { (p.key) }
                }
            }
            None => p.fail { "No artifact of this release verified; its provenance is not shown." },
        }
        h2 { "Artifacts" }
        @for a in &page.artifacts { (artifact(a)) }
        h2 #findings { "Findings" }
        @if page.findings.is_empty() {
            p { "No advisory matches this release's components." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Advisory" }
                    th scope="col" { "Severity" }
                    th scope="col" { "Package" }
                    th scope="col" { "Version" }
                    th scope="col" { "Fixed in" }
                    th scope="col" { "VEX" }
                    th scope="col" { "Summary" }
                } }
                tbody {
                    @for f in &page.findings {
                        tr {
                            td { a href=(advisory_url(&f.id)) { (f.id) } }
                            td { (severity_badge(f.severity.as_deref())) }
                            td { (f.package) " " span.muted { "(" (f.ecosystem) ")" } }
                            td.mono { (f.version) }
                            td.mono { (f.fixed.as_deref().unwrap_or("—")) }
                            td { (f.vex.as_deref().unwrap_or("—")) }
                            td { (f.summary.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        h2 #components { "Components" }
        form.filter method="get" action={ (release_url(&page.product, &page.version)) "#components" } role="search" {
            label { "Name or package URL"
                input type="search" name="q" value=(query.text.as_deref().unwrap_or(""));
            }
            label { "Ecosystem"
                select name="ecosystem" {
                    option value="" { "any" }
                    @for e in &page.ecosystems {
                        option value=(e) selected[query.ecosystem.as_deref() == Some(e.as_str())] { (e) }
                    }
                }
            }
            label { "Licence"
                select name="license" {
                    option value="" { "any" }
                    @for l in &page.licenses {
                        option value=(l) selected[query.license.as_deref() == Some(l.as_str())] { (l) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        p.muted #shown { (page.components.len()) " of " (page.total_components) " components" }
        table #component-table {
            thead { tr {
                th scope="col" { "Name" }
                th scope="col" { "Version" }
                th scope="col" { "Ecosystem" }
                th scope="col" { "Licence" }
                th scope="col" { "Package URL" }
            } }
            tbody {
                @for c in &page.components {
                    tr {
                        td { (c.name) }
                        td.mono { (c.version) }
                        td { (c.ecosystem) }
                        td { (c.license.as_deref().unwrap_or("—")) }
                        td.mono { (c.purl.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        h2 { "Notices" }
        @if page.notices.is_empty() {
            p { "No notice has been sent for this release." }
        } @else {
            ul {
                @for n in &page.notices {
                    li {
                        a href={ "/" (n.path) } { (n.issued) }
                        ": " (n.ids.join(", "))
                    }
                }
            }
        }
    };
    layout(&format!("{} {}", page.product, page.version), viewer, body)
}

/// One advisory.
pub fn advisory(page: &AdvisoryPage, viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { (page.id) }
        @match &page.advisory {
            Some(a) => {
                @if let Some(s) = &a.summary { p.lead { (s) } }
                dl.facts.panel {
                    @if !a.aliases.is_empty() { dt { "Aliases" } dd { (a.aliases.join(", ")) } }
                    @if let Some(p) = &a.published { dt { "Published" } dd { (p) } }
                    @if let Some(m) = &a.modified { dt { "Modified" } dd { (m) } }
                    @for s in &a.severity { dt { "Severity (" (s.kind) ")" } dd.mono { (s.score) } }
                    @for x in &a.affected {
                        @if let Some(p) = &x.package {
                            dt { "Affects" } dd { (p.name) " (" (p.ecosystem) ")" }
                        }
                    }
                }
                @if let Some(d) = &a.details { h2 { "Details" } p { (d) } }
                @if !a.references.is_empty() {
                    h2 { "References" }
                    ul { @for r in &a.references { li { a href=(r.url) rel="noreferrer" { (r.url) } } } }
                }
            }
            None => p.muted { "The advisory database no longer holds this advisory; what it affected is as last recorded." },
        }
        h2 { "Shipped releases it affects" }
        @if page.affected.is_empty() {
            p { "None." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Release" }
                    th scope="col" { "Package" }
                    th scope="col" { "VEX" }
                    th scope="col" { "First seen" }
                } }
                tbody {
                    @for r in &page.affected {
                        tr {
                            td { a href=(release_url(&r.product, &r.version)) { (r.product) " " (r.version) } }
                            td { (r.package) " " span.mono { (r.package_version) } }
                            td { (r.vex.as_deref().unwrap_or("—")) }
                            td { (r.first_seen) }
                        }
                    }
                }
            }
        }
        h2 { "VEX statements" }
        @if page.vex.is_empty() {
            p { "None." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Products" }
                    th scope="col" { "Status" }
                    th scope="col" { "Justification" }
                    th scope="col" { "Statement" }
                    th scope="col" { "Document" }
                } }
                tbody {
                    @for v in &page.vex {
                        tr {
                            td { (v.products.join(", ")) }
                            td { (v.status) }
                            td { (v.justification.as_deref().unwrap_or("—")) }
                            td { (v.statement.as_deref().unwrap_or("")) }
                            td.mono { (v.document) " " span.muted { "by " (v.author) } }
                        }
                    }
                }
            }
        }
        h2 { "Notices sent" }
        @if page.notices.is_empty() {
            p { "None." }
        } @else {
            ul {
                @for n in &page.notices {
                    li { a href={ "/" (n.path) } { (n.product) " " (n.version) }  ", " (n.issued) }
                }
            }
        }
    };
    layout(&page.id, viewer, body)
}

/// The transparency log.
pub fn log(page: &LogPage, viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Transparency log" }
        dl.facts.panel {
            dt { "Origin" } dd.mono { (page.origin) }
            dt { "Size" } dd { (page.size) " entries" }
            dt { "Root hash" } dd.mono { (page.root) }
            dt { "Checkpoint" } dd { a href="/log/checkpoint" { "log/checkpoint" } " (verified with " a href="/log/vkey" { "log/vkey" } ")" }
        }
        h2 { "Signatures on the checkpoint" }
        table {
            thead { tr { th scope="col" { "Key name" } th scope="col" { "Key id" } th scope="col" { "Signer" } } }
            tbody {
                @for s in &page.signatures {
                    tr { td.mono { (s.name) } td.mono { (s.key_id) } td { (s.signer) } }
                }
            }
        }
        @if page.witnesses.is_empty() {
            p.muted { "No witness is configured." }
        } @else {
            p { "Configured witnesses: " (page.witnesses.join(", ")) }
        }
        h2 #lookup { "Look up an artifact" }
        form.filter method="get" action={ (ROOT) "/log#lookup" } role="search" {
            label { "SHA-256 of the artifact"
                input type="search" name="digest" size="70" value=(page.found.as_ref().map(|f| f.0.as_str()).unwrap_or(""));
            }
            button type="submit" { "Look up" }
        }
        @if let Some((digest, entries)) = &page.found {
            @if entries.is_empty() {
                p { "No entry records " code { (digest) } "." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Index" } th scope="col" { "Entry" } } }
                    tbody {
                        @for e in entries {
                            tr { td { (e.index) } td.mono { (e.body.to_string()) } }
                        }
                    }
                }
            }
        }
    };
    layout("Transparency log", viewer, body)
}

/// The sign-in form, with why the last attempt failed.
pub fn login(error: Option<&str>, viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Sign in" }
        p.lead { "The admin pages need a token with the " code { "admin" } " scope (" code { "custody token create --scope admin" } "). It is kept in a cookie only this site can read." }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.stack method="post" action={ (ROOT) "/login" } {
            label { "Token" input type="password" name="token" autocomplete="off" required; }
            button type="submit" { "Sign in" }
        }
    };
    layout("Sign in", viewer, body)
}

fn admin_nav() -> Markup {
    html! {
        nav aria-label="Admin" {
            p {
                a href={ (ROOT) "/admin" } { "Tokens" } " · "
                a href={ (ROOT) "/admin/audit" } { "Audit log" } " · "
                a href={ (ROOT) "/admin/webhooks" } { "Webhooks" }
            }
        }
    }
}

/// Tokens, with the form that makes one and, once, a new token's secret.
pub fn tokens(
    tokens: &[StoredToken],
    now: jiff::Timestamp,
    created: Option<(&StoredToken, &str)>,
    form_token: &str,
    viewer: &Viewer,
) -> Markup {
    let body = html! {
        h1 { "Tokens" }
        (admin_nav())
        @if let Some((t, secret)) = created {
            div.secret role="status" {
                p { "Token " code { (t.id) } " was made. Its secret is shown this once:" }
                p.mono #new-secret { (secret) }
            }
        }
        table {
            thead { tr {
                th scope="col" { "Id" }
                th scope="col" { "Product" }
                th scope="col" { "Scopes" }
                th scope="col" { "Description" }
                th scope="col" { "Created" }
                th scope="col" { "Expires" }
                th scope="col" { "State" }
                th scope="col" { span.skip { "Actions" } }
            } }
            tbody {
                @for t in tokens {
                    tr {
                        td.mono { (t.id) }
                        td { (t.product.as_deref().unwrap_or("every product")) }
                        td { (t.scopes.join(" ")) }
                        td { (t.description) }
                        td { (t.created) }
                        td { (t.expires.as_deref().unwrap_or("never")) }
                        td {
                            @if let Some(r) = &t.revoked { "revoked " (r) }
                            @else if custody_service::access::is_expired(t, now) { "expired" }
                            @else { "active" }
                        }
                        td {
                            @if t.revoked.is_none() {
                                form method="post" action={ (ROOT) "/admin/tokens/" (seg(&t.id)) "/revoke" } {
                                    input type="hidden" name="form_token" value=(form_token);
                                    button.danger type="submit" aria-label={ "Revoke " (t.id) } { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Make a token" }
        form.stack method="post" action={ (ROOT) "/admin/tokens" } {
            input type="hidden" name="form_token" value=(form_token);
            label { "Product (empty for every product)" input type="text" name="product"; }
            fieldset {
                legend { "Scopes" }
                @for s in ["publish", "read", "vex", "advisories", "webhooks", "admin"] {
                    label { input type="checkbox" name="scope" value=(s) checked[s == "publish"]; " " (s) }
                }
            }
            label { "Expires after (days, empty for never)" input type="number" name="expires_days" min="1"; }
            label { "Description" input type="text" name="description"; }
            button type="submit" { "Make token" }
        }
    };
    layout("Tokens", viewer, body)
}

/// The audit log.
pub fn audit(records: &[AuditRecord], viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Audit log" }
        (admin_nav())
        p.lead { "Every write and every refused request, oldest first; nothing is ever changed or removed." }
        table {
            thead { tr {
                th scope="col" class="num" { "#" }
                th scope="col" { "Time" }
                th scope="col" { "Token" }
                th scope="col" { "Action" }
                th scope="col" { "Target" }
                th scope="col" { "Client" }
                th scope="col" { "Outcome" }
            } }
            tbody {
                @for r in records {
                    tr {
                        td.num { (r.seq) }
                        td { (r.time) }
                        td.mono { (r.token.as_deref().unwrap_or("—")) }
                        td { (r.action) }
                        td { (r.target) }
                        td { (r.client) }
                        td { (r.outcome) }
                    }
                }
            }
        }
    };
    layout("Audit log", viewer, body)
}

/// Webhooks and their deliveries.
pub fn webhooks(hooks: &[Webhook], deliveries: &[DeliveryRecord], viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Webhooks" }
        (admin_nav())
        @if hooks.is_empty() {
            p { "No webhook is registered (" code { "POST /api/v1/webhooks" } ")." }
        } @else {
            table {
                thead { tr { th scope="col" { "Id" } th scope="col" { "URL" } th scope="col" { "Created" } } }
                tbody {
                    @for h in hooks { tr { td.mono { (h.id) } td.mono { (h.url) } td { (h.created) } } }
                }
            }
        }
        h2 { "Deliveries" }
        table {
            thead { tr {
                th scope="col" { "Id" }
                th scope="col" { "URL" }
                th scope="col" { "Created" }
                th scope="col" class="num" { "Attempts" }
                th scope="col" { "Delivered" }
                th scope="col" { "Last error" }
            } }
            tbody {
                @for d in deliveries {
                    tr {
                        td.mono { (d.id) }
                        td.mono { (d.url) }
                        td { (d.created) }
                        td.num { (d.attempts) }
                        td { (d.delivered.as_deref().unwrap_or("not yet")) }
                        td { (d.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    layout("Webhooks", viewer, body)
}

/// A failure, as a page.
pub fn error(status: u16, message: &str, viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Error " (status) }
        p.error role="alert" { (message) }
        @if status == 401 { p { a href={ (ROOT) "/login" } { "Sign in" } " with an admin token." } }
    };
    layout("Error", viewer, body)
}
