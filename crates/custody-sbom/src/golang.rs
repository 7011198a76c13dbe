//! Go modules: `go.mod` with `go.sum`, and the build information the Go toolchain (1.18+)
//! embeds in every binary it links.
//!
//! `go.mod` lists the module's requirements, since Go 1.17 every module that provides a package
//! to the build (`// indirect` marks those not imported directly); it records no graph, so every
//! requirement is an edge from the main module. `replace` swaps a requirement for another
//! module or a local directory, which is what gets built. Before Go 1.17 `go.mod` left out
//! indirect requirements, so for such modules `go.sum`'s archive lines fill them in.
//!
//! `go.sum`'s `h1:` values are SHA-256 digests of a listing of the module's files, not of any
//! archive a consumer downloads, so they are checked for form but not kept as component hashes.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::model::{Component, ComponentId, Ecosystem, Sbom, Source};
use crate::{Limits, check_size, to_utf8};

/// A `go.sum` given alongside `go.mod`.
#[derive(Debug, Clone, Copy)]
pub struct GoSum<'a> {
    /// Name for error messages, usually the path.
    pub file: &'a str,
    pub bytes: &'a [u8],
}

#[derive(Debug, Default)]
struct GoMod {
    module: Option<String>,
    go: Option<String>,
    /// (path, version, line)
    require: Vec<(String, String, usize)>,
    /// (path, version or any) -> replacement (path, version; none for a directory)
    replace: BTreeMap<(String, Option<String>), (String, Option<String>)>,
}

/// Splits a go.mod line into tokens: whitespace-separated, `"quoted"` or `` `raw` `` strings
/// kept whole, `//` comments dropped.
fn tokens(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if rest.starts_with("//") {
            break;
        }
        let (tok, after) = match rest.as_bytes()[0] {
            q @ (b'"' | b'`') => {
                let end = rest[1..].find(q as char)? + 1;
                (rest[1..end].to_owned(), &rest[end + 1..])
            }
            _ => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (rest[..end].to_owned(), &rest[end..])
            }
        };
        out.push(tok);
        rest = after.trim_start();
    }
    Some(out)
}

fn parse_go_mod(file: &str, text: &str) -> Result<GoMod> {
    let bad = |line: usize, t: &str| Error::InvalidGoMod {
        file: file.to_owned(),
        line,
        text: t.to_owned(),
    };
    let mut m = GoMod::default();
    let mut block: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let toks = tokens(raw).ok_or_else(|| bad(line, raw))?;
        let Some(first) = toks.first() else {
            continue;
        };
        let (verb, args): (String, &[String]) = match &block {
            Some(_) if first == ")" && toks.len() == 1 => {
                block = None;
                continue;
            }
            Some(b) => (b.clone(), &toks[..]),
            None if toks.len() == 2 && toks[1] == "(" => {
                block = Some(first.clone());
                continue;
            }
            None => (first.clone(), &toks[1..]),
        };
        match verb.as_str() {
            // A quoted path may be empty (`module ""`), which names no module.
            "module" => match args.first() {
                Some(path) if !path.is_empty() => m.module = Some(path.clone()),
                _ => return Err(bad(line, raw)),
            },
            "go" => m.go = args.first().cloned(),
            "require" => match args {
                [path, version] if !path.is_empty() => {
                    m.require.push((path.clone(), version.clone(), line));
                }
                _ => return Err(bad(line, raw)),
            },
            "replace" => {
                let arrow = args
                    .iter()
                    .position(|a| a == "=>")
                    .ok_or_else(|| bad(line, raw))?;
                let (old, new) = (&args[..arrow], &args[arrow + 1..]);
                let old = match old {
                    [p] => (p.clone(), None),
                    [p, v] => (p.clone(), Some(v.clone())),
                    _ => return Err(bad(line, raw)),
                };
                let new = match new {
                    [p] => (p.clone(), None),
                    [p, v] => (p.clone(), Some(v.clone())),
                    _ => return Err(bad(line, raw)),
                };
                m.replace.insert(old, new);
            }
            "exclude" | "retract" | "toolchain" | "godebug" | "tool" | "ignore" => {}
            _ => return Err(bad(line, raw)),
        }
    }
    if block.is_some() {
        return Err(bad(text.lines().count(), "(unclosed block)"));
    }
    Ok(m)
}

/// (path, version) of every module archive `go.sum` vouches for (lines not ending `/go.mod`).
fn parse_go_sum(file: &str, text: &str) -> Result<BTreeSet<(String, String)>> {
    let mut out = BTreeSet::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let bad = || Error::InvalidGoSum {
            file: file.to_owned(),
            line: i + 1,
            text: raw.to_owned(),
        };
        let mut parts = raw.split_whitespace();
        let (Some(path), Some(version), Some(hash), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let digest = hash.strip_prefix("h1:").ok_or_else(bad)?;
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(digest)
            .map_err(|_| bad())?;
        if bytes.len() != 32 {
            return Err(bad());
        }
        if !version.ends_with("/go.mod") {
            out.insert((path.to_owned(), version.to_owned()));
        }
    }
    Ok(out)
}

fn is_local_path(p: &str) -> bool {
    p.starts_with("./") || p.starts_with("../") || p.starts_with('/') || p == "." || p == ".."
}

/// A Go module component; `version` is `None` for a local directory.
pub(crate) fn go_component(
    file: &str,
    line: usize,
    path: &str,
    version: Option<&str>,
    source: Source,
) -> Result<Component> {
    let id = match &source {
        Source::Path { path: dir } => format!(
            "golang/{path}@{}#path:{}",
            version.unwrap_or(""),
            dir.as_deref().unwrap_or("")
        ),
        _ => format!("golang/{path}@{}", version.unwrap_or("")),
    };
    let purl = match &source {
        Source::Path { .. } => None,
        _ => Some(
            crate::purl::purl(&Ecosystem::Go, path, version, &[]).map_err(|source| {
                Error::InvalidPurlName {
                    file: file.to_owned(),
                    line,
                    package: path.to_owned(),
                    name: path.to_owned(),
                    source: Box::new(source),
                }
            })?,
        ),
    };
    let mut c = Component::new(
        ComponentId(id),
        Ecosystem::Go,
        path,
        version.map(str::to_owned),
    );
    c.purl = purl;
    c.source = source;
    Ok(c)
}

/// Older than Go 1.17, whose `go.mod` leaves out indirect requirements.
fn before_go_1_17(go: Option<&str>) -> bool {
    let Some(go) = go else { return true };
    let mut parts = go.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) < (1, 17)
}

/// Reads `go.mod` (and optionally `go.sum`) into a component graph whose primary component is
/// the main module.
pub fn parse_go_mod_file(
    file: &str,
    bytes: &[u8],
    go_sum: Option<GoSum<'_>>,
    limits: &Limits,
) -> Result<Sbom> {
    check_size(file, bytes.len(), limits)?;
    let text = to_utf8(file, bytes)?;
    let m = parse_go_mod(file, text)?;
    let sums = match go_sum {
        Some(s) => {
            check_size(s.file, s.bytes.len(), limits)?;
            parse_go_sum(s.file, to_utf8(s.file, s.bytes)?)?
        }
        None => BTreeSet::new(),
    };
    let module = m.module.clone().ok_or_else(|| Error::MissingField {
        file: file.to_owned(),
        line: 1,
        package: "(go.mod)".to_owned(),
        field: "module",
    })?;
    let mut sbom = Sbom::new();
    let main = go_component(
        file,
        1,
        &module,
        None,
        Source::Path {
            path: Some(".".to_owned()),
        },
    )?;
    let main_id = main.id.clone();
    sbom.insert(main);
    sbom.set_primary(Some(main_id.clone()));

    let mut requirements = m.require.clone();
    if before_go_1_17(m.go.as_deref()) {
        let listed: BTreeSet<&str> = m.require.iter().map(|(p, _, _)| p.as_str()).collect();
        // The newest version go.sum lists for a path is the one the build selected; older ones
        // linger from earlier resolutions.
        let mut newest: BTreeMap<&str, &str> = BTreeMap::new();
        for (p, v) in &sums {
            if !listed.contains(p.as_str()) && p != &module {
                let e = newest.entry(p).or_insert(v);
                if version_less(e, v) {
                    *e = v;
                }
            }
        }
        requirements.extend(
            newest
                .into_iter()
                .map(|(p, v)| (p.to_owned(), v.to_owned(), 1)),
        );
    }
    for (path, version, line) in &requirements {
        let replacement = m
            .replace
            .get(&(path.clone(), Some(version.clone())))
            .or_else(|| m.replace.get(&(path.clone(), None)));
        let c = match replacement {
            Some((dir, None)) if is_local_path(dir) => go_component(
                file,
                *line,
                path,
                Some(version),
                Source::Path {
                    path: Some(dir.clone()),
                },
            )?,
            Some((new_path, new_version)) => go_component(
                file,
                *line,
                new_path,
                Some(new_version.as_deref().unwrap_or(version)),
                Source::Registry { url: None },
            )?,
            None => go_component(
                file,
                *line,
                path,
                Some(version),
                Source::Registry { url: None },
            )?,
        };
        sbom.add_dependency(main_id.clone(), c.id.clone());
        if sbom.get(&c.id).is_none() {
            sbom.insert(c);
        }
    }
    Ok(sbom)
}

/// Semantic-version order, enough to pick the newest of a module's versions in go.sum.
pub(crate) fn version_less(a: &str, b: &str) -> bool {
    let key = |v: &str| -> (Vec<u64>, bool, String) {
        let v = v.trim_start_matches('v');
        let v = v.split_once('+').map_or(v, |(x, _)| x);
        let (core, pre) = v.split_once('-').map_or((v, ""), |(c, p)| (c, p));
        (
            core.split('.').map(|n| n.parse().unwrap_or(0)).collect(),
            // A release sorts after its prereleases.
            pre.is_empty(),
            pre.to_owned(),
        )
    };
    key(a) < key(b)
}

// ---------------------------------------------------------------------------------------------
// Build information in Go binaries

/// Where the linker puts the build information: this magic, 16-byte aligned, in
/// `.go.buildinfo` (ELF), `__go_buildinfo` (Mach-O) or `.data` (PE).
const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Flag bit set by Go 1.18+: the version and module strings follow the header inline.
const FLAG_INLINE: u8 = 0x2;
const HEADER_LEN: usize = 32;

/// The offset of the build-information header, if the file has one.
pub(crate) fn find_buildinfo(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == 0xff) {
        let at = from + i;
        if bytes[at..].starts_with(BUILDINFO_MAGIC) && at % 16 == 0 {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// An unsigned LEB128 varint (Go's `binary.Uvarint`) at `at`: the value and the bytes used.
fn uvarint(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.get(at..)?.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((usize::try_from(value).ok()?, i + 1));
        }
    }
    None
}

/// Reads the Go toolchain version and module information from a Go binary.
pub fn parse_go_binary(file: &str, bytes: &[u8], limits: &Limits) -> Result<Sbom> {
    let at = find_buildinfo(bytes).ok_or_else(|| Error::NoDependencyData {
        file: file.to_owned(),
        reason: "no Go build information (`\\xff Go buildinf:`) in the file",
    })?;
    let malformed = |what, offset| Error::MalformedBinary {
        file: file.to_owned(),
        what,
        offset,
    };
    let flags = *bytes
        .get(at + 15)
        .ok_or_else(|| malformed("Go build information header", at))?;
    if flags & FLAG_INLINE == 0 {
        return Err(Error::NoDependencyData {
            file: file.to_owned(),
            reason: "built by Go older than 1.18, whose build information is reached through \
                     pointers into the program's memory; rebuild with Go 1.18 or later",
        });
    }
    let mut pos = at + HEADER_LEN;
    let mut strings = Vec::with_capacity(2);
    for _ in 0..2 {
        let (len, used) =
            uvarint(bytes, pos).ok_or_else(|| malformed("Go build information", pos))?;
        let start = pos + used;
        let s = start
            .checked_add(len)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| malformed("Go build information string", start))?;
        if s.len() as u64 > limits.max_bytes {
            return Err(malformed("Go build information string", start));
        }
        strings.push(s);
        pos = start + len;
    }
    let (go_version, modinfo) = (strings[0], strings[1]);
    // The module text sits between two 16-byte sentinels (runtime/debug's modinfo framing).
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        &modinfo[16..modinfo.len() - 16]
    } else {
        modinfo
    };
    let text = std::str::from_utf8(modinfo).map_err(|e| Error::NotUtf8 {
        file: file.to_owned(),
        offset: e.valid_up_to(),
    })?;
    if text.trim().is_empty() {
        return Err(Error::NoDependencyData {
            file: file.to_owned(),
            reason: "the Go build information has no module data (built outside module mode, \
                     for example with GO111MODULE=off or from a GOPATH)",
        });
    }
    let mut sbom = build_info_graph(file, text)?;
    // The standard library is linked in too, at the toolchain's version, and has advisories of
    // its own (OSV names it `stdlib`).
    let go_version = String::from_utf8_lossy(go_version);
    if let Some(v) = go_version.strip_prefix("go") {
        // `go1.22.1 X:nocoverageredesign` carries experiment flags after a space.
        let v = v.split_whitespace().next().unwrap_or(v);
        let c = go_component(file, 1, "stdlib", Some(v), Source::Registry { url: None })?;
        if let Some(main) = sbom.primary().map(|m| m.id.clone()) {
            sbom.add_dependency(main, c.id.clone());
        }
        sbom.insert(c);
    }
    Ok(sbom)
}

/// The graph of `go version -m`'s lines: `mod` is the main module, each `dep` a module linked
/// in, and a `=>` line the replacement of the `dep` above it.
fn build_info_graph(file: &str, text: &str) -> Result<Sbom> {
    let mut sbom = Sbom::new();
    let mut main: Option<ComponentId> = None;
    let mut deps: Vec<(String, Option<String>, Source, usize)> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let line = i + 1;
        let f: Vec<&str> = l.split('\t').collect();
        match f.as_slice() {
            ["mod", path, version, ..] => {
                // `(devel)` is what Go writes when it does not know the main module's version.
                let v = Some(*version).filter(|v| *v != "(devel)" && !v.is_empty());
                let mut c = go_component(file, line, path, v, Source::Registry { url: None })?;
                c.source = Source::Path { path: None };
                c.purl = None;
                main = Some(c.id.clone());
                sbom.insert(c);
            }
            ["dep", path, version, ..] => {
                deps.push((
                    (*path).to_owned(),
                    Some((*version).to_owned()),
                    Source::Registry { url: None },
                    line,
                ));
            }
            ["=>", path, version, ..] => {
                let last = deps.last_mut().ok_or_else(|| Error::InvalidGoMod {
                    file: file.to_owned(),
                    line,
                    text: l.to_owned(),
                })?;
                if is_local_path(path) || version.is_empty() || *version == "(devel)" {
                    last.2 = Source::Path {
                        path: Some((*path).to_owned()),
                    };
                } else {
                    *last = (
                        (*path).to_owned(),
                        Some((*version).to_owned()),
                        Source::Registry { url: None },
                        line,
                    );
                }
            }
            _ => {}
        }
    }
    sbom.set_primary(main.clone());
    for (path, version, source, line) in deps {
        let c = go_component(file, line, &path, version.as_deref(), source)?;
        if let Some(m) = &main {
            sbom.add_dependency(m.clone(), c.id.clone());
        }
        sbom.insert(c);
    }
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go_mod(text: &str) -> Result<Sbom> {
        parse_go_mod_file("go.mod", text.as_bytes(), None, &Limits::default())
    }

    #[test]
    fn blocks_replacements_and_comments() {
        let s = go_mod(
            "module example.com/app // the app\n\ngo 1.21\n\nrequire (\n\tgithub.com/a/b v1.2.3\n\tgithub.com/c/d v0.1.0 // indirect\n\t\"example.com/q\" v1.0.0\n)\n\nrequire example.com/local v0.0.0\n\nreplace github.com/c/d => github.com/fork/d v0.1.1\nreplace example.com/local => ../local\nexclude github.com/a/b v1.2.2\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.primary().map(|c| c.name.as_str()),
            Some("example.com/app")
        );
        let names: BTreeSet<&str> = s.components().map(|c| c.name.as_str()).collect();
        assert!(names.contains("github.com/fork/d") && !names.contains("github.com/c/d"));
        let local = s
            .components()
            .find(|c| c.name == "example.com/local")
            .unwrap_or_else(|| panic!("local"));
        assert!(local.purl.is_none());
        assert_eq!(s.dependencies().count(), 4);
    }

    #[test]
    fn errors_name_the_line() {
        assert!(matches!(
            go_mod("module m\nrequire a\n"),
            Err(Error::InvalidGoMod { line: 2, .. })
        ));
        assert!(matches!(
            go_mod("module m\nrequire (\na v1\n"),
            Err(Error::InvalidGoMod { .. })
        ));
        assert!(matches!(
            go_mod("go 1.21\n"),
            Err(Error::MissingField {
                field: "module",
                ..
            })
        ));
        let bad_sum = GoSum {
            file: "go.sum",
            bytes: b"a v1 h1:abc=\n",
        };
        assert!(matches!(
            parse_go_mod_file("go.mod", b"module m\n", Some(bad_sum), &Limits::default()),
            Err(Error::InvalidGoSum { line: 1, .. })
        ));
    }

    #[test]
    fn old_go_mod_takes_indirect_modules_from_go_sum() {
        let sum = "github.com/x/y v1.0.0 h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ngithub.com/x/y v1.1.0 h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ngithub.com/x/y v1.1.0/go.mod h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
        let s = parse_go_mod_file(
            "go.mod",
            b"module m\ngo 1.16\n",
            Some(GoSum {
                file: "go.sum",
                bytes: sum.as_bytes(),
            }),
            &Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let versions: Vec<_> = s
            .components()
            .filter(|c| c.name == "github.com/x/y")
            .map(|c| c.version.clone())
            .collect();
        assert_eq!(versions, [Some("v1.1.0".to_owned())]);
    }

    #[test]
    fn varints_and_versions() {
        assert_eq!(uvarint(&[0x96, 0x01], 0), Some((150, 2)));
        assert_eq!(uvarint(&[0x80], 0), None);
        assert!(version_less("v1.2.3-rc.1", "v1.2.3"));
        assert!(version_less("v1.9.0", "v1.10.0"));
    }

    #[test]
    fn truncated_build_info_is_an_error() {
        let mut b = vec![0u8; 16];
        b.extend_from_slice(BUILDINFO_MAGIC);
        b.extend_from_slice(&[8, FLAG_INLINE]);
        b.resize(16 + HEADER_LEN, 0);
        b.push(0xff);
        assert!(matches!(
            parse_go_binary("bin", &b, &Limits::default()),
            Err(Error::MalformedBinary { .. })
        ));
    }
}
