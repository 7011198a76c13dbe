//! Bundler's `Gemfile.lock`, with the `Gemfile` for the project's dev and test groups.
//!
//! The lockfile is sections of indented lines. Source sections (`GEM`, `GIT`, `PATH`,
//! `PLUGIN SOURCE`) give `remote:` and friends, then `specs:` with one gem per 4-space line
//! (`name (version[-platform])`) and its dependencies on 6-space lines, by name only.
//! `DEPENDENCIES` lists what the Gemfile asks for; `CHECKSUMS` (Bundler 2.5+) gives digests.
//!
//! The lockfile does not say which Gemfile group a gem is in. The `Gemfile` is Ruby, so it is not
//! evaluated: only the common forms are read (`group :development, :test do` … `end` blocks
//! and `gem "x", group: :test` lines). A gem declared in any other way stays required, which
//! overstates what ships rather than hiding it.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::model::{Component, ComponentId, Ecosystem, Hash, HashAlgorithm, Sbom, Scope, Source};
use crate::{Limits, check_size, to_utf8};

/// The project's `Gemfile`, read only for its groups.
#[derive(Debug, Clone, Copy)]
pub struct Gemfile<'a> {
    /// Name for error messages, usually the path.
    pub file: &'a str,
    pub bytes: &'a [u8],
}

const RUBYGEMS: &str = "https://rubygems.org/";

struct Spec {
    line: usize,
    name: String,
    version: String,
    platform: Option<String>,
    source: usize,
    dependencies: Vec<String>,
}

#[derive(Default)]
struct SourceSection {
    kind: String,
    remote: Option<String>,
    revision: Option<String>,
}

/// `name (1.2.3-x86_64-linux)` as (name, version, platform); `name` alone has no version.
fn name_and_version(s: &str) -> Option<(&str, Option<&str>)> {
    match s.split_once(" (") {
        Some((name, rest)) => Some((name, Some(rest.strip_suffix(')')?))),
        None => (!s.is_empty() && !s.contains(' ')).then_some((s, None)),
    }
}

/// Splits a spec version into version and platform. Gem versions hold no `-` (prereleases use
/// `.pre`), so the first `-` starts the platform.
fn split_platform(v: &str) -> (&str, Option<&str>) {
    match v.split_once('-') {
        Some((v, p)) => (v, Some(p)),
        None => (v, None),
    }
}

fn invalid(file: &str, line: usize, text: &str) -> Error {
    Error::InvalidGemfileLock {
        file: file.to_owned(),
        line,
        text: text.to_owned(),
    }
}

/// Gems whose only groups in the Gemfile are `development` and `test`.
fn dev_gems(gemfile: &str) -> Vec<String> {
    let quoted = |s: &str| -> Option<String> {
        let s = s.trim_start();
        let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let rest = &s[1..];
        Some(rest[..rest.find(q)?].to_owned())
    };
    let dev_only = |groups: &str| {
        let names: Vec<&str> = groups
            .split(|c: char| c == ',' || c.is_whitespace() || c == '[' || c == ']')
            .map(|g| {
                g.trim_start_matches(':')
                    .trim_matches(|c| c == '"' || c == '\'')
            })
            .filter(|g| !g.is_empty())
            .collect();
        !names.is_empty() && names.iter().all(|g| matches!(*g, "development" | "test"))
    };
    let mut out = Vec::new();
    // The groups of each open `group … do` block; other `do` blocks push `None`.
    let mut blocks: Vec<Option<bool>> = Vec::new();
    for raw in gemfile.lines() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if let Some(rest) = line.strip_prefix("group ")
            && let Some(groups) = rest.strip_suffix(" do")
        {
            blocks.push(Some(dev_only(groups)));
        } else if line.ends_with(" do") || line.contains(" do |") {
            blocks.push(None);
        } else if line == "end" {
            blocks.pop();
        } else if let Some(rest) = line.strip_prefix("gem ")
            && let Some(name) = quoted(rest)
        {
            let in_dev_block = blocks.iter().rev().find_map(|b| *b).unwrap_or(false);
            let inline = rest
                .split_once("group:")
                .or_else(|| rest.split_once("groups:"))
                .or_else(|| rest.split_once(":group =>"))
                .is_some_and(|(_, g)| dev_only(g.split(" do").next().unwrap_or(g)));
            if in_dev_block || inline {
                out.push(name);
            }
        }
    }
    out
}

/// Reads a `Gemfile.lock` (and optionally the `Gemfile`) into a component graph.
///
/// There is a primary component only when the Gemfile says `gemspec` (a `PATH` source at
/// `.`): that gem is the project.
pub fn parse_gemfile_lock(
    file: &str,
    bytes: &[u8],
    gemfile: Option<Gemfile<'_>>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let dev = match gemfile {
        Some(g) => {
            check_size(g.file, g.bytes.len(), limits)?;
            dev_gems(to_utf8(g.file, g.bytes)?)
        }
        None => Vec::new(),
    };

    let mut sources: Vec<SourceSection> = Vec::new();
    let mut specs: Vec<Spec> = Vec::new();
    let mut requested: Vec<(String, usize)> = Vec::new();
    let mut checksums: HashMap<(String, String), Vec<Hash>> = HashMap::new();
    let mut section = String::new();
    let mut in_specs = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let t = raw.trim();
        match indent {
            0 => {
                section = t.to_owned();
                in_specs = false;
                if matches!(t, "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE") {
                    sources.push(SourceSection {
                        kind: t.to_owned(),
                        ..SourceSection::default()
                    });
                }
            }
            2 if matches!(section.as_str(), "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE") => {
                let src = sources.last_mut().ok_or_else(|| invalid(file, line, raw))?;
                if t == "specs:" {
                    in_specs = true;
                } else if let Some((k, v)) = t.split_once(": ") {
                    match k {
                        "remote" => src.remote = Some(v.to_owned()),
                        "revision" => src.revision = Some(v.to_owned()),
                        _ => {}
                    }
                } else if !t.ends_with(':') {
                    return Err(invalid(file, line, raw));
                }
            }
            4 if in_specs => {
                let (name, version) =
                    name_and_version(t).ok_or_else(|| invalid(file, line, raw))?;
                let version = version.ok_or_else(|| Error::MissingField {
                    file: file.to_owned(),
                    line,
                    package: name.to_owned(),
                    field: "version",
                })?;
                let (version, platform) = split_platform(version);
                specs.push(Spec {
                    line,
                    name: name.to_owned(),
                    version: version.to_owned(),
                    platform: platform.map(str::to_owned),
                    source: sources.len().saturating_sub(1),
                    dependencies: Vec::new(),
                });
            }
            6 if in_specs => {
                let spec = specs.last_mut().ok_or_else(|| invalid(file, line, raw))?;
                let (name, _) = name_and_version(t).ok_or_else(|| invalid(file, line, raw))?;
                spec.dependencies.push(name.to_owned());
            }
            2 if section == "DEPENDENCIES" => {
                let (name, _) = name_and_version(t).ok_or_else(|| invalid(file, line, raw))?;
                // `name!` marks a gem from a GIT or PATH source.
                requested.push((name.trim_end_matches('!').to_owned(), line));
            }
            2 if section == "CHECKSUMS" => {
                let (spec, sums) = t.split_once(") ").map_or((t, ""), |(s, r)| (s, r));
                let (name, version) = name_and_version(&format!("{spec})"))
                    .map(|(n, v)| (n.to_owned(), v.map(str::to_owned)))
                    .ok_or_else(|| invalid(file, line, raw))?;
                let mut hashes = Vec::new();
                for sum in sums.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let hex = sum
                        .strip_prefix("sha256=")
                        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                        .ok_or_else(|| Error::InvalidChecksum {
                            file: file.to_owned(),
                            line,
                            package: name.clone(),
                            value: sum.to_owned(),
                            expected: "sha256= followed by 64 hex digits",
                        })?;
                    hashes.push(Hash {
                        algorithm: HashAlgorithm::Sha256,
                        hex: hex.to_ascii_lowercase(),
                    });
                }
                checksums.insert((name, version.unwrap_or_default()), hashes);
            }
            // PLATFORMS, RUBY VERSION, BUNDLED WITH and sections Bundler may add later.
            _ if !matches!(section.as_str(), "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE") => {}
            _ => return Err(invalid(file, line, raw)),
        }
    }

    // Bundler always writes this section; without it the file is cut short or not a lockfile.
    if !text.lines().any(|l| l == "DEPENDENCIES") {
        return Err(Error::MissingField {
            file: file.to_owned(),
            line: text.lines().count().max(1),
            package: "(lockfile)".to_owned(),
            field: "DEPENDENCIES",
        });
    }
    let mut sbom = Sbom::new();
    let mut by_name: HashMap<&str, Vec<ComponentId>> = HashMap::new();
    let mut first_line: HashMap<ComponentId, usize> = HashMap::new();
    let mut primary = None;
    let mut ids: Vec<ComponentId> = Vec::with_capacity(specs.len());
    for s in &specs {
        let src = sources
            .get(s.source)
            .ok_or_else(|| invalid(file, s.line, &s.name))?;
        let source = match src.kind.as_str() {
            "GIT" => Source::Git {
                url: src.remote.clone().unwrap_or_default(),
                rev: src.revision.clone(),
            },
            "PATH" => Source::Path {
                path: src.remote.clone(),
            },
            _ => Source::Registry {
                url: src.remote.clone(),
            },
        };
        let c = gem_component(file, s, source)?;
        if let Some(first) = first_line.insert(c.id.clone(), s.line) {
            return Err(Error::DuplicatePackage {
                file: file.to_owned(),
                line: s.line,
                first_line: first,
                name: s.name.clone(),
                version: s.version.clone(),
            });
        }
        if src.kind == "PATH" && src.remote.as_deref() == Some(".") {
            primary = Some(c.id.clone());
        }
        by_name.entry(&s.name).or_default().push(c.id.clone());
        ids.push(c.id.clone());
        let mut c = c;
        if let Some(h) = checksums.get(&(
            s.name.clone(),
            match &s.platform {
                Some(p) => format!("{}-{p}", s.version),
                None => s.version.clone(),
            },
        )) {
            c.hashes = h.clone();
            c.hashes.sort();
        }
        sbom.insert(c);
    }
    for (s, from) in specs.iter().zip(&ids) {
        for d in &s.dependencies {
            // Bundler leaves out gems only other platforms need.
            for to in by_name.get(d.as_str()).into_iter().flatten() {
                sbom.add_dependency(from.clone(), to.clone());
            }
        }
    }
    let mut starts = Vec::new();
    for (name, line) in &requested {
        let Some(targets) = by_name.get(name.as_str()) else {
            return Err(Error::UnresolvedDependency {
                file: file.to_owned(),
                line: *line,
                package: "DEPENDENCIES".to_owned(),
                reference: name.clone(),
            });
        };
        let scope = if dev.contains(name) {
            Scope::Dev
        } else {
            Scope::Required
        };
        for to in targets {
            if Some(to) != primary.as_ref() {
                if let Some(p) = &primary {
                    sbom.add_dependency(p.clone(), to.clone());
                }
                starts.push((to.clone(), scope));
            }
        }
    }
    sbom.set_primary(primary);
    sbom.propagate_scopes(&starts);
    Ok(sbom)
}

fn gem_component(file: &str, s: &Spec, source: Source) -> Result<Component> {
    let mut id = format!("gem/{}@{}", s.name, s.version);
    let mut qualifiers: Vec<(&str, String)> = Vec::new();
    if let Some(p) = &s.platform {
        id.push_str(&format!("-{p}"));
        qualifiers.push(("platform", p.clone()));
    }
    match &source {
        Source::Registry { url: Some(u) } if u != RUBYGEMS => {
            id.push_str(&format!("#registry:{u}"));
            qualifiers.push(("repository_url", u.clone()));
        }
        Source::Registry { .. } => {}
        Source::Git { url, rev } => {
            id.push_str(&format!("#git:{url}"));
            qualifiers.push((
                "vcs_url",
                match rev {
                    Some(r) => format!("git+{url}@{r}"),
                    None => format!("git+{url}"),
                },
            ));
        }
        Source::Path { path } => id.push_str(&format!("#path:{}", path.as_deref().unwrap_or(""))),
    }
    let purl = match &source {
        Source::Path { .. } => None,
        _ => {
            let q: Vec<(&str, &str)> = qualifiers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Some(
                crate::purl::purl(&Ecosystem::RubyGems, &s.name, Some(&s.version), &q).map_err(
                    |source| Error::InvalidPurlName {
                        file: file.to_owned(),
                        line: s.line,
                        package: s.name.clone(),
                        name: s.name.clone(),
                        source: Box::new(source),
                    },
                )?,
            )
        }
    };
    let mut c = Component::new(
        ComponentId(id),
        Ecosystem::RubyGems,
        s.name.clone(),
        Some(s.version.clone()),
    );
    c.purl = purl;
    c.source = source;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lock: &str, gemfile: Option<&str>) -> Result<Sbom> {
        parse_gemfile_lock(
            "Gemfile.lock",
            lock.as_bytes(),
            gemfile.map(|g| Gemfile {
                file: "Gemfile",
                bytes: g.as_bytes(),
            }),
            &Limits::default(),
        )
    }

    #[test]
    fn platforms_git_sources_and_checksums() {
        let lock = "GIT\n  remote: https://github.com/o/r.git\n  revision: abc123\n  specs:\n    r (0.1.0)\n      nokogiri (>= 1)\n\nGEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.15.4-x86_64-linux)\n      racc (~> 1.4)\n    racc (1.7.1)\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  r!\n  rspec-nope\n";
        assert!(matches!(
            parse(lock, None),
            Err(Error::UnresolvedDependency { line: 20, .. })
        ));
        let lock = lock.replace("  rspec-nope\n", "\nCHECKSUMS\n  racc (1.7.1) sha256=0000000000000000000000000000000000000000000000000000000000000000\n");
        let s = parse(&lock, None).unwrap_or_else(|e| panic!("{e}"));
        let find = |n: &str| {
            s.components()
                .find(|c| c.name == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(
            find("nokogiri").purl.as_ref().map(|p| p.0.as_str()),
            Some("pkg:gem/nokogiri@1.15.4?platform=x86_64-linux")
        );
        assert!(matches!(&find("r").source, Source::Git { rev: Some(r), .. } if r == "abc123"));
        assert_eq!(find("racc").hashes.len(), 1);
        assert_eq!(s.dependencies().count(), 2);
    }

    #[test]
    fn gemfile_groups() {
        let gemfile = "source \"https://rubygems.org\"\ngem \"rack\"\ngroup :development, :test do\n  gem \"rspec\", \"~> 3\"\nend\ngroup :production do\n  gem 'pg'\nend\ngem \"pry\", group: :development\n";
        assert_eq!(dev_gems(gemfile), ["rspec", "pry"]);
    }

    #[test]
    fn stray_lines_are_errors_with_their_line() {
        assert!(matches!(
            parse(
                "GEM\n  remote: https://rubygems.org/\n  specs:\n        too-deep (1)\nDEPENDENCIES\n",
                None
            ),
            Err(Error::InvalidGemfileLock { line: 4, .. })
        ));
    }
}
