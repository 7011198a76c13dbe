//! The evidence report: one self-contained HTML page (styles inline, no script, no request for
//! anything) a person reads in five minutes, and prints to PDF.

use custody_service::dashboard::{InclusionCheck, TargetState};
use custody_service::evidence::{Evidence, Support};
use maud::{DOCTYPE, Markup, html};

const STYLE: &str = "
body{font:14px/1.45 'DejaVu Sans',system-ui,sans-serif;color:#1b1f23;max-width:60em;margin:2em auto;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font-size:.9em;word-break:break-all}
.ok{color:#116329;font-weight:bold}.bad{color:#a40e26;font-weight:bold}.partly{color:#7d4e00;font-weight:bold}.unknown{color:#57606a;font-style:italic}
.summary{display:flex;gap:1em;flex-wrap:wrap}.summary div{border:1px solid #d0d7de;border-radius:6px;padding:.5em .8em}
.summary b{display:block;font-size:1.4em}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table{break-inside:auto}tr{break-inside:avoid}.page{break-before:page}}
";

fn yes(ok: bool, good: &str, bad: &str) -> Markup {
    html! { span class=(if ok { "ok" } else { "bad" }) { (if ok { good } else { bad }) } }
}

/// The report of `e`.
pub fn evidence(e: &Evidence) -> String {
    let logged = e
        .artifacts
        .iter()
        .filter(|a| {
            a.log
                .as_ref()
                .is_some_and(|l| matches!(l.check, InclusionCheck::Proved { .. }))
        })
        .count();
    let evidenced = e
        .ssdf
        .iter()
        .filter(|p| p.support == Support::Evidenced)
        .count();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Evidence: " (e.product) " " (e.version) }
                style { (STYLE) }
            }
            body {
                h1 { "Evidence: " (e.product) " " (e.version) }
                p {
                    "Gathered and verified by custody at " (e.generated_at.to_string())
                    ". Every fact below is read from the release and its site; what custody cannot know is marked "
                    span.unknown { "unknown" } "."
                }
                div.summary {
                    div { b id="artifacts" { (e.artifacts.len()) } "artifact(s), " (yes(e.verified, "all verified", "NOT all verified")) }
                    div { b id="logged" { (logged) } "in the transparency log" }
                    div { b id="components" { (e.sbom.as_ref().map_or(0, |s| s.components)) } "SBOM components" }
                    div { b id="findings" { (e.scan.as_ref().map_or(0, |s| s.findings)) } "findings at release" }
                    div { b id="ssdf" { (evidenced) " / " (e.ssdf.len()) } "SSDF tasks evidenced" }
                }

                h2 { "Artifacts" }
                table {
                    tr { th { "Artifact" } th { "SHA-256" } th { "Verified now" } th { "Log entry" } th { "TUF target" } }
                    @for a in &e.artifacts {
                        tr {
                            td { (a.name) }
                            td { code { (a.sha256) } }
                            td { (yes(a.verified, "yes", "NO")) }
                            td {
                                @match &a.log {
                                    Some(l) => {
                                        "entry " (l.index)
                                        @match &l.check {
                                            InclusionCheck::Proved { size } => { ", proved in a tree of " (size) }
                                            InclusionCheck::Failed { reason } => { ", " span.bad { "FAILED: " (reason) } }
                                            InclusionCheck::Unavailable { reason } => { ", " span.unknown { (reason) } }
                                        }
                                    }
                                    None => span.bad { "not logged" },
                                }
                            }
                            td {
                                @match &a.tuf {
                                    TargetState::Listed { role, matches } => { (yes(*matches, "listed", "HASH DIFFERS")) " (" (role) ")" }
                                    TargetState::NotListed => span.bad { "not listed" },
                                    TargetState::NoRepository => span.unknown { "no TUF repository" },
                                }
                            }
                        }
                    }
                }
                @if let Some(s) = &e.source {
                    p {
                        "Built by " code { (s.builder) } " from " code { (s.repository) } " at " code { (s.commit) }
                        " (" (s.git_ref) "), tree "
                        @match s.tree_clean { Some(true) => span.ok { "clean" }, Some(false) => span.bad { "NOT clean" }, None => span.unknown { "unknown" } }
                        "; signed by key " code { (e.keys.release_key) } "."
                    }
                }

                h2 { "Threat model" }
                table {
                    tr { th { "Threat" } th { "Control" } th { "On" } th { "Evidence" } }
                    @for t in &e.threats {
                        tr { td { (t.threat) } td { (t.control) } td { (yes(t.on, "on", "off")) } td { (t.evidence) } }
                    }
                }

                h2.page { "NIST SSDF (SP 800-218) tasks" }
                table {
                    tr { th { "Task" } th { "Support" } th { "Evidence" } th { "Not evidenced by custody" } }
                    @for p in &e.ssdf {
                        tr {
                            td { b { (p.id) } " " (p.task) }
                            td {
                                @match p.support {
                                    Support::Evidenced => span.ok { "evidenced" },
                                    Support::PartlyEvidenced => span.partly { "partly" },
                                    Support::NotEvidenced => span.bad { "not evidenced" },
                                }
                            }
                            td { @for item in &p.evidence { div { (item) } } }
                            td { @if let Some(gap) = p.gap { span.unknown { (gap) } } }
                        }
                    }
                }

                h2 { "CISA Secure Software Development Attestation Form, prefilled" }
                table {
                    tr { th { "Section" } th { "Item" } th { "Answer" } }
                    @for f in &e.attestation_form {
                        tr {
                            td { (f.section) }
                            td { (f.item) }
                            td { @if f.known { (f.answer) } @else { span.unknown { (f.answer) } } }
                        }
                    }
                }

                h2 { "Setup" }
                @if e.setup_findings.is_empty() {
                    p.ok { "custody doctor found nothing to fix." }
                } @else {
                    table {
                        tr { th { "Level" } th { "Check" } th { "Finding" } th { "Fix" } }
                        @for f in &e.setup_findings {
                            tr { td { (f.level.as_str()) } td { (f.check) } td { (f.subject) ": " (f.problem) } td { (f.fix) } }
                        }
                    }
                }
                p.unknown { "The evidence itself is signed and logged as evidence.json.sigstore.json (predicate https://custody.dev/evidence/v1); the mapping is exported as OSCAL Assessment Results." }
            }
        }
    };
    markup.into_string()
}
