//! Where two builds of one artifact differ, said the way a release engineer would look for it
//! with diffoscope: for gzip, the header fields (a timestamp, the OS byte, the stored name);
//! for tar and zip, the entries only one side has, their order, their metadata (size, mode,
//! modification time, owner) and, for contents that differ, the first differing bytes; for
//! anything else, the first differing byte of the file.
//!
//! Both sides are read as streams, twice at most (once to list, once to compare contents that
//! differ), within [`Limits`]: a decompression bomb or an archive of a million entries is an
//! error, not an out-of-memory.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use serde::Serialize;

/// Something both readable and seekable: a file, or bytes in memory.
pub trait Source: Read + Seek {}
impl<T: Read + Seek> Source for T {}

/// What an artifact is, as far as explaining a difference goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Bytes.
    Plain,
    /// gzip around something that is not a tar archive.
    Gzip,
    /// A tar archive.
    Tar,
    /// A gzip-compressed tar archive.
    TarGzip,
    /// A zip archive.
    Zip,
}

/// How much work one explanation may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries per archive.
    pub max_entries: usize,
    /// Bytes of one entry held to find its first difference (larger entries are reported
    /// different by digest only).
    pub max_entry_bytes: u64,
    /// Bytes decompressed from one gzip stream (past it, reading fails).
    pub max_decompressed: u64,
    /// Differences listed; the rest are counted.
    pub max_differences: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 200_000,
            max_entry_bytes: 64 << 20,
            max_decompressed: 16 << 30,
            max_differences: 50,
        }
    }
}

/// One way the rebuilt artifact differs from the released one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Difference {
    /// Not even the same kind of file.
    Format {
        /// The released file's.
        released: Format,
        /// The rebuilt file's.
        rebuilt: Format,
    },
    /// A field of the gzip header (`mtime`, `os`, `name`, `flags`, `extra-flags`).
    GzipHeader {
        /// The field.
        field: &'static str,
        /// The released value.
        released: String,
        /// The rebuilt value.
        rebuilt: String,
    },
    /// An entry only the release has.
    OnlyInReleased {
        /// Its path.
        path: String,
    },
    /// An entry only the rebuild has.
    OnlyInRebuilt {
        /// Its path.
        path: String,
    },
    /// The entries both have come in another order.
    Order {
        /// Where the order first differs, counting entries both have.
        position: usize,
        /// The release's entry there.
        released: String,
        /// The rebuild's entry there.
        rebuilt: String,
    },
    /// An entry's metadata (`size`, `mode`, `mtime`, `uid`, `gid`, `owner`, `group`, `type`,
    /// `link`, `compression`).
    Metadata {
        /// The entry.
        path: String,
        /// The field.
        field: &'static str,
        /// The released value.
        released: String,
        /// The rebuilt value.
        rebuilt: String,
    },
    /// Contents differ: an entry's, or the whole file's (`path` empty).
    Content {
        /// The entry, or empty for the file itself.
        path: String,
        /// The released size.
        released_size: u64,
        /// The rebuilt size.
        rebuilt_size: u64,
        /// The first differing byte, when the entries were small enough to compare.
        offset: Option<u64>,
        /// Up to 16 bytes from there, hex.
        released_bytes: String,
        /// Likewise.
        rebuilt_bytes: String,
    },
}

/// Where the two differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The release's format.
    pub format: Format,
    /// The differences, up to the limit.
    pub differences: Vec<Difference>,
    /// How many more there were.
    pub more: usize,
}

/// Why an explanation could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A side could not be read.
    #[error("the {side} artifact cannot be read: {source}")]
    Io {
        /// `released` or `rebuilt`.
        side: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A side's zip archive is malformed.
    #[error("the {side} artifact is not a readable zip archive: {source}")]
    Zip {
        /// `released` or `rebuilt`.
        side: &'static str,
        /// Why.
        source: zip::result::ZipError,
    },
    /// More entries than [`Limits::max_entries`].
    #[error("the {side} archive has over {limit} entries")]
    TooManyEntries {
        /// `released` or `rebuilt`.
        side: &'static str,
        /// The limit.
        limit: usize,
    },
}

const RELEASED: &str = "released";
const REBUILT: &str = "rebuilt";

fn io(side: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |source| Error::Io { side, source }
}

/// The format of `src`, which is left at its start.
pub fn detect(src: &mut dyn Source) -> std::io::Result<Format> {
    src.seek(SeekFrom::Start(0))?;
    let mut head = Vec::with_capacity(512);
    Read::take(&mut *src, 512).read_to_end(&mut head)?;
    src.seek(SeekFrom::Start(0))?;
    let format = if head.starts_with(&[0x1f, 0x8b]) {
        let mut inner = Vec::with_capacity(512);
        // A gzip stream that does not decompress is reported as gzip; comparing it says more.
        let _ = flate2::read::MultiGzDecoder::new(&mut *src)
            .take(512)
            .read_to_end(&mut inner);
        src.seek(SeekFrom::Start(0))?;
        if is_tar(&inner) {
            Format::TarGzip
        } else {
            Format::Gzip
        }
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Format::Zip
    } else if is_tar(&head) {
        Format::Tar
    } else {
        Format::Plain
    };
    Ok(format)
}

fn is_tar(head: &[u8]) -> bool {
    head.get(257..262) == Some(b"ustar")
}

/// Explains how `rebuilt` differs from `released`. Identical files have no differences.
pub fn explain(
    released: &mut dyn Source,
    rebuilt: &mut dyn Source,
    limits: &Limits,
) -> Result<Explanation, Error> {
    let format = detect(released).map_err(io(RELEASED))?;
    let other = detect(rebuilt).map_err(io(REBUILT))?;
    let mut out = Collector::new(limits.max_differences);
    if format != other {
        out.push(Difference::Format {
            released: format,
            rebuilt: other,
        });
        bytes_diff(
            "",
            &mut Side::new(released, RELEASED),
            &mut Side::new(rebuilt, REBUILT),
            &mut out,
        )?;
        return Ok(out.finish(format));
    }
    match format {
        Format::Plain => bytes_diff(
            "",
            &mut Side::new(released, RELEASED),
            &mut Side::new(rebuilt, REBUILT),
            &mut out,
        )?,
        Format::Gzip | Format::TarGzip => {
            gzip_header_diff(released, rebuilt, &mut out)?;
            if format == Format::TarGzip {
                let entries = |src: &mut dyn Source, side| -> Result<Vec<TarEntry>, Error> {
                    src.seek(SeekFrom::Start(0)).map_err(io(side))?;
                    tar_entries(gunzip(src, side, limits), side, limits)
                };
                let (a, b) = (entries(released, RELEASED)?, entries(rebuilt, REBUILT)?);
                let differing = compare_tar(&a, &b, &mut out);
                if !differing.is_empty() {
                    let wanted = first(&differing, limits.max_differences);
                    let contents = |src: &mut dyn Source, side| {
                        src.seek(SeekFrom::Start(0)).map_err(io(side))?;
                        tar_contents(gunzip(src, side, limits), &wanted, side, limits)
                    };
                    let (ca, cb) = (contents(released, RELEASED)?, contents(rebuilt, REBUILT)?);
                    content_diffs(&differing, &ca, &cb, &mut out);
                }
            } else {
                // The payloads, as bytes, bounded like an entry.
                let payload = |src: &mut dyn Source, side| -> Result<Vec<u8>, Error> {
                    src.seek(SeekFrom::Start(0)).map_err(io(side))?;
                    let mut buf = Vec::new();
                    read_bounded(
                        gunzip(src, side, limits),
                        limits.max_entry_bytes,
                        side,
                        &mut buf,
                    )?;
                    Ok(buf)
                };
                let (a, b) = (payload(released, RELEASED)?, payload(rebuilt, REBUILT)?);
                push_content(
                    "(decompressed)",
                    &a,
                    &b,
                    (a.len() as u64, b.len() as u64),
                    &mut out,
                );
            }
        }
        Format::Tar => {
            let entries = |src: &mut dyn Source, side| -> Result<Vec<TarEntry>, Error> {
                src.seek(SeekFrom::Start(0)).map_err(io(side))?;
                tar_entries(Box::new(src), side, limits)
            };
            let (a, b) = (entries(released, RELEASED)?, entries(rebuilt, REBUILT)?);
            let differing = compare_tar(&a, &b, &mut out);
            if !differing.is_empty() {
                let wanted = first(&differing, limits.max_differences);
                let contents = |src: &mut dyn Source, side| {
                    src.seek(SeekFrom::Start(0)).map_err(io(side))?;
                    tar_contents(Box::new(src), &wanted, side, limits)
                };
                let (ca, cb) = (contents(released, RELEASED)?, contents(rebuilt, REBUILT)?);
                content_diffs(&differing, &ca, &cb, &mut out);
            }
        }
        Format::Zip => zip_diff(released, rebuilt, limits, &mut out)?,
    }
    Ok(out.finish(format))
}

/// Differences up to a limit, the rest counted.
struct Collector {
    list: Vec<Difference>,
    more: usize,
    limit: usize,
}

impl Collector {
    fn new(limit: usize) -> Self {
        Self {
            list: Vec::new(),
            more: 0,
            limit,
        }
    }

    fn push(&mut self, d: Difference) {
        if self.list.len() < self.limit {
            self.list.push(d);
        } else {
            self.more += 1;
        }
    }

    fn finish(self, format: Format) -> Explanation {
        Explanation {
            format,
            differences: self.list,
            more: self.more,
        }
    }
}

struct Side<'a> {
    src: &'a mut dyn Source,
    name: &'static str,
}

impl<'a> Side<'a> {
    fn new(src: &'a mut dyn Source, name: &'static str) -> Self {
        Self { src, name }
    }
}

/// The first differing byte of two whole files, streamed.
fn bytes_diff(
    path: &str,
    a: &mut Side<'_>,
    b: &mut Side<'_>,
    out: &mut Collector,
) -> Result<(), Error> {
    let size = |s: &mut Side<'_>| -> Result<u64, Error> {
        let n = s.src.seek(SeekFrom::End(0)).map_err(io(s.name))?;
        s.src.seek(SeekFrom::Start(0)).map_err(io(s.name))?;
        Ok(n)
    };
    let (size_a, size_b) = (size(a)?, size(b)?);
    let mut buf_a = vec![0u8; 64 << 10];
    let mut buf_b = vec![0u8; 64 << 10];
    let mut offset = 0u64;
    loop {
        let na = fill(a.src, &mut buf_a).map_err(io(a.name))?;
        let nb = fill(b.src, &mut buf_b).map_err(io(b.name))?;
        let n = na.min(nb);
        if let Some(i) = (0..n).find(|&i| buf_a[i] != buf_b[i]) {
            out.push(content_at(
                path,
                (size_a, size_b),
                offset + i as u64,
                &buf_a[i..na],
                &buf_b[i..nb],
            ));
            return Ok(());
        }
        if na != nb {
            // One ended: the difference is where the shorter one stops.
            out.push(content_at(
                path,
                (size_a, size_b),
                offset + n as u64,
                &buf_a[n..na],
                &buf_b[n..nb],
            ));
            return Ok(());
        }
        if na == 0 {
            return Ok(());
        }
        offset += n as u64;
    }
}

/// Reads until `buf` is full or the stream ends.
fn fill(src: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn content_at(path: &str, sizes: (u64, u64), offset: u64, a: &[u8], b: &[u8]) -> Difference {
    let show = |bytes: &[u8]| hex::encode(&bytes[..bytes.len().min(16)]);
    Difference::Content {
        path: path.to_owned(),
        released_size: sizes.0,
        rebuilt_size: sizes.1,
        offset: Some(offset),
        released_bytes: show(a),
        rebuilt_bytes: show(b),
    }
}

/// Two byte strings held in memory: the first difference, if any.
fn push_content(path: &str, a: &[u8], b: &[u8], sizes: (u64, u64), out: &mut Collector) {
    let n = a.len().min(b.len());
    let at = (0..n)
        .find(|&i| a[i] != b[i])
        .or((a.len() != b.len()).then_some(n));
    if let Some(i) = at {
        out.push(content_at(path, sizes, i as u64, &a[i..], &b[i..]));
    }
}

/// The gzip header fields (RFC 1952) that builds differ in.
fn gzip_header_diff(
    released: &mut dyn Source,
    rebuilt: &mut dyn Source,
    out: &mut Collector,
) -> Result<(), Error> {
    let header = |src: &mut dyn Source, side| -> Result<GzipHeader, Error> {
        src.seek(SeekFrom::Start(0)).map_err(io(side))?;
        let mut head = Vec::with_capacity(1024);
        Read::take(&mut *src, 1024)
            .read_to_end(&mut head)
            .map_err(io(side))?;
        Ok(GzipHeader::parse(&head))
    };
    let (a, b) = (header(released, RELEASED)?, header(rebuilt, REBUILT)?);
    let fields: [(&'static str, String, String); 5] = [
        ("mtime", a.mtime.to_string(), b.mtime.to_string()),
        ("os", a.os.to_string(), b.os.to_string()),
        ("name", a.name.clone(), b.name.clone()),
        (
            "flags",
            format!("{:#04x}", a.flags),
            format!("{:#04x}", b.flags),
        ),
        (
            "extra-flags",
            format!("{:#04x}", a.extra_flags),
            format!("{:#04x}", b.extra_flags),
        ),
    ];
    for (field, released, rebuilt) in fields {
        if released != rebuilt {
            out.push(Difference::GzipHeader {
                field,
                released,
                rebuilt,
            });
        }
    }
    Ok(())
}

#[derive(Debug, Default)]
struct GzipHeader {
    flags: u8,
    mtime: u32,
    extra_flags: u8,
    os: u8,
    name: String,
}

impl GzipHeader {
    /// RFC 1952 §2.3: the fixed ten bytes, then the optional fields, the name among them.
    fn parse(head: &[u8]) -> Self {
        let byte = |i: usize| head.get(i).copied().unwrap_or(0);
        let flags = byte(3);
        let mut at = 10;
        if flags & 0x04 != 0 {
            let xlen = usize::from(u16::from_le_bytes([byte(10), byte(11)]));
            at += 2 + xlen;
        }
        let name = if flags & 0x08 != 0 {
            let rest = head.get(at..).unwrap_or_default();
            let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end]).into_owned()
        } else {
            String::new()
        };
        Self {
            flags,
            mtime: u32::from_le_bytes([byte(4), byte(5), byte(6), byte(7)]),
            extra_flags: byte(8),
            os: byte(9),
            name,
        }
    }
}

/// The decompressed stream of `src`, failing past [`Limits::max_decompressed`].
fn gunzip<'a>(src: &'a mut dyn Source, side: &'static str, limits: &Limits) -> Box<dyn Read + 'a> {
    Box::new(Bounded {
        inner: flate2::read::MultiGzDecoder::new(src),
        left: limits.max_decompressed,
        side,
    })
}

struct Bounded<R> {
    inner: R,
    left: u64,
    side: &'static str,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other(format!(
                "the {} artifact decompresses to more than allowed",
                self.side
            ))
        })?;
        Ok(n)
    }
}

fn read_bounded(
    mut src: impl Read,
    limit: u64,
    side: &'static str,
    buf: &mut Vec<u8>,
) -> Result<bool, Error> {
    src.by_ref()
        .take(limit)
        .read_to_end(buf)
        .map_err(io(side))?;
    let mut one = [0u8; 1];
    Ok(src.read(&mut one).map_err(io(side))? == 0)
}

#[derive(Debug, Clone)]
struct TarEntry {
    path: String,
    kind: String,
    size: u64,
    mode: u32,
    mtime: u64,
    uid: u64,
    gid: u64,
    owner: String,
    group: String,
    link: String,
    sha256: Option<[u8; 32]>,
}

fn tar_entries(
    reader: Box<dyn Read + '_>,
    side: &'static str,
    limits: &Limits,
) -> Result<Vec<TarEntry>, Error> {
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(io(side))? {
        if out.len() >= limits.max_entries {
            return Err(Error::TooManyEntries {
                side,
                limit: limits.max_entries,
            });
        }
        let mut entry = entry.map_err(io(side))?;
        let header = entry.header().clone();
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default();
        let digest = custody_crypto::digest_reader(&mut entry, custody_crypto::Algorithms::Sha256)
            .map_err(io(side))?;
        out.push(TarEntry {
            path,
            kind: format!("{:?}", header.entry_type()),
            size: digest.size,
            mode: header.mode().unwrap_or(0),
            mtime: header.mtime().unwrap_or(0),
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            owner: header
                .username_bytes()
                .map(|u| String::from_utf8_lossy(u).into_owned())
                .unwrap_or_default(),
            group: header
                .groupname_bytes()
                .map(|g| String::from_utf8_lossy(g).into_owned())
                .unwrap_or_default(),
            link,
            sha256: digest.sha256.map(|d| d.0),
        });
    }
    Ok(out)
}

/// Names entries uniquely: an archive may hold one path twice, and the n-th `x` of one side
/// is compared with the n-th `x` of the other, as `x (#n)`.
#[derive(Default)]
struct Occurrences(BTreeMap<String, usize>);

impl Occurrences {
    fn key(&mut self, path: &str) -> String {
        let n = self.0.entry(path.to_owned()).or_insert(0);
        *n += 1;
        if *n == 1 {
            path.to_owned()
        } else {
            format!("{path} (#{n})")
        }
    }
}

/// Each entry's unique name ([`Occurrences`]), in archive order.
fn keyed<'e>(paths: impl Iterator<Item = &'e str>) -> Vec<String> {
    let mut seen = Occurrences::default();
    paths.map(|p| seen.key(p)).collect()
}

fn index(keys: &[String]) -> BTreeMap<String, usize> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), i))
        .collect()
}

/// Entries only one side has, the order of the rest, and their metadata; returns the entries
/// (by unique name) whose contents differ, with their sizes.
fn compare_tar(
    a: &[TarEntry],
    b: &[TarEntry],
    out: &mut Collector,
) -> BTreeMap<String, (u64, u64)> {
    let ka = keyed(a.iter().map(|e| e.path.as_str()));
    let kb = keyed(b.iter().map(|e| e.path.as_str()));
    let (in_a, in_b) = (index(&ka), index(&kb));
    list_and_order(&ka, &kb, &in_a, &in_b, out);
    let mut differing = BTreeMap::new();
    for (key, ea) in ka.iter().zip(a) {
        let Some(eb) = in_b.get(key).and_then(|&i| b.get(i)) else {
            continue;
        };
        let fields: [(&'static str, String, String); 8] = [
            ("type", ea.kind.clone(), eb.kind.clone()),
            ("size", ea.size.to_string(), eb.size.to_string()),
            ("mode", format!("{:o}", ea.mode), format!("{:o}", eb.mode)),
            ("mtime", ea.mtime.to_string(), eb.mtime.to_string()),
            ("uid", ea.uid.to_string(), eb.uid.to_string()),
            ("gid", ea.gid.to_string(), eb.gid.to_string()),
            (
                "owner",
                format!("{}:{}", ea.owner, ea.group),
                format!("{}:{}", eb.owner, eb.group),
            ),
            ("link", ea.link.clone(), eb.link.clone()),
        ];
        for (field, released, rebuilt) in fields {
            if released != rebuilt {
                out.push(Difference::Metadata {
                    path: key.clone(),
                    field,
                    released,
                    rebuilt,
                });
            }
        }
        if ea.sha256 != eb.sha256 {
            differing.insert(key.clone(), (ea.size, eb.size));
        }
    }
    differing
}

/// Entries only one side has, then the first place the common ones' order differs.
fn list_and_order(
    a: &[String],
    b: &[String],
    in_a: &BTreeMap<String, usize>,
    in_b: &BTreeMap<String, usize>,
    out: &mut Collector,
) {
    for key in a.iter().filter(|k| !in_b.contains_key(*k)) {
        out.push(Difference::OnlyInReleased { path: key.clone() });
    }
    for key in b.iter().filter(|k| !in_a.contains_key(*k)) {
        out.push(Difference::OnlyInRebuilt { path: key.clone() });
    }
    let common_a = a.iter().filter(|k| in_b.contains_key(*k));
    let common_b = b.iter().filter(|k| in_a.contains_key(*k));
    if let Some((position, (x, y))) = common_a
        .zip(common_b)
        .enumerate()
        .find(|(_, (x, y))| x != y)
    {
        out.push(Difference::Order {
            position,
            released: x.clone(),
            rebuilt: y.clone(),
        });
    }
}

/// The contents of the entries in `wanted`, each up to [`Limits::max_entry_bytes`]; larger
/// ones are left out.
/// The first `n` names of `differing`: the contents worth holding, since no more differences
/// than that are listed.
fn first(differing: &BTreeMap<String, (u64, u64)>, n: usize) -> std::collections::BTreeSet<String> {
    differing.keys().take(n).cloned().collect()
}

fn tar_contents(
    reader: Box<dyn Read + '_>,
    wanted: &std::collections::BTreeSet<String>,
    side: &'static str,
    limits: &Limits,
) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut archive = tar::Archive::new(reader);
    let mut out = BTreeMap::new();
    let mut seen = Occurrences::default();
    for entry in archive.entries().map_err(io(side))? {
        let mut entry = entry.map_err(io(side))?;
        let path = seen.key(&String::from_utf8_lossy(&entry.path_bytes()));
        if !wanted.contains(&path) {
            continue;
        }
        let mut buf = Vec::new();
        if read_bounded(&mut entry, limits.max_entry_bytes, side, &mut buf)? {
            out.insert(path, buf);
        }
    }
    Ok(out)
}

fn content_diffs(
    differing: &BTreeMap<String, (u64, u64)>,
    ca: &BTreeMap<String, Vec<u8>>,
    cb: &BTreeMap<String, Vec<u8>>,
    out: &mut Collector,
) {
    for (key, &sizes) in differing {
        match (ca.get(key), cb.get(key)) {
            (Some(x), Some(y)) => push_content(key, x, y, sizes, out),
            _ => out.push(Difference::Content {
                path: key.clone(),
                released_size: sizes.0,
                rebuilt_size: sizes.1,
                offset: None,
                released_bytes: String::new(),
                rebuilt_bytes: String::new(),
            }),
        }
    }
}

fn zip_error(side: &'static str) -> impl Fn(zip::result::ZipError) -> Error {
    move |source| Error::Zip { side, source }
}

#[derive(Debug, Clone)]
struct ZipEntry {
    path: String,
    size: u64,
    crc32: u32,
    mtime: String,
    mode: String,
    compression: String,
}

fn zip_entries(
    src: &mut dyn Source,
    side: &'static str,
    limits: &Limits,
) -> Result<Vec<ZipEntry>, Error> {
    src.seek(SeekFrom::Start(0)).map_err(io(side))?;
    let mut archive = zip::ZipArchive::new(src).map_err(zip_error(side))?;
    if archive.len() > limits.max_entries {
        return Err(Error::TooManyEntries {
            side,
            limit: limits.max_entries,
        });
    }
    let mut out = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(zip_error(side))?;
        out.push(ZipEntry {
            path: f.name().map_err(zip_error(side))?.into_owned(),
            size: f.size(),
            crc32: f.crc32(),
            mtime: f
                .last_modified()
                .map(|t| {
                    format!(
                        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                        t.year(),
                        t.month(),
                        t.day(),
                        t.hour(),
                        t.minute(),
                        t.second()
                    )
                })
                .unwrap_or_default(),
            mode: f.unix_mode().map(|m| format!("{m:o}")).unwrap_or_default(),
            compression: f.compression().to_string(),
        });
    }
    Ok(out)
}

/// The contents of the entries at the indices `wanted` names (each up to
/// [`Limits::max_entry_bytes`]; larger ones are left out), by their unique names.
fn zip_contents(
    src: &mut dyn Source,
    wanted: &BTreeMap<usize, String>,
    side: &'static str,
    limits: &Limits,
) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    src.seek(SeekFrom::Start(0)).map_err(io(side))?;
    let mut archive = zip::ZipArchive::new(src).map_err(zip_error(side))?;
    for (&i, key) in wanted {
        let file = archive.by_index(i).map_err(zip_error(side))?;
        let mut buf = Vec::new();
        if read_bounded(file, limits.max_entry_bytes, side, &mut buf)? {
            out.insert(key.clone(), buf);
        }
    }
    Ok(out)
}

/// A zip entry whose contents differ: its index on each side, and its sizes.
struct Differing {
    released: usize,
    rebuilt: usize,
    sizes: (u64, u64),
}

fn zip_diff(
    released: &mut dyn Source,
    rebuilt: &mut dyn Source,
    limits: &Limits,
    out: &mut Collector,
) -> Result<(), Error> {
    let a = zip_entries(released, RELEASED, limits)?;
    let b = zip_entries(rebuilt, REBUILT, limits)?;
    let ka = keyed(a.iter().map(|e| e.path.as_str()));
    let kb = keyed(b.iter().map(|e| e.path.as_str()));
    let (in_a, in_b) = (index(&ka), index(&kb));
    list_and_order(&ka, &kb, &in_a, &in_b, out);
    let mut differing: BTreeMap<String, Differing> = BTreeMap::new();
    for (i, (key, ea)) in ka.iter().zip(&a).enumerate() {
        let Some((j, eb)) = in_b.get(key).and_then(|&j| b.get(j).map(|e| (j, e))) else {
            continue;
        };
        let fields: [(&'static str, String, String); 4] = [
            ("size", ea.size.to_string(), eb.size.to_string()),
            ("mtime", ea.mtime.clone(), eb.mtime.clone()),
            ("mode", ea.mode.clone(), eb.mode.clone()),
            (
                "compression",
                ea.compression.clone(),
                eb.compression.clone(),
            ),
        ];
        for (field, released_value, rebuilt_value) in fields {
            if released_value != rebuilt_value {
                out.push(Difference::Metadata {
                    path: key.clone(),
                    field,
                    released: released_value,
                    rebuilt: rebuilt_value,
                });
            }
        }
        if ea.crc32 != eb.crc32 || ea.size != eb.size {
            differing.insert(
                key.clone(),
                Differing {
                    released: i,
                    rebuilt: j,
                    sizes: (ea.size, eb.size),
                },
            );
        }
    }
    let wanted = |pick: fn(&Differing) -> usize| -> BTreeMap<usize, String> {
        differing
            .iter()
            .take(limits.max_differences)
            .map(|(k, v)| (pick(v), k.clone()))
            .collect()
    };
    let ca = zip_contents(released, &wanted(|d| d.released), RELEASED, limits)?;
    let cb = zip_contents(rebuilt, &wanted(|d| d.rebuilt), REBUILT, limits)?;
    let sizes = differing.into_iter().map(|(k, d)| (k, d.sizes)).collect();
    content_diffs(&sizes, &ca, &cb, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    /// A tar archive of `(path, bytes, mtime, mode)`, in that order.
    fn tar(entries: &[(&str, &[u8], u64, u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, bytes, mtime, mode) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mtime(*mtime);
            h.set_mode(*mode);
            h.set_cksum();
            b.append_data(&mut h, path, *bytes)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        b.into_inner().unwrap_or_else(|e| panic!("{e}"))
    }

    fn gzip(bytes: &[u8], mtime: u32) -> Vec<u8> {
        let mut e = flate2::GzBuilder::new()
            .mtime(mtime)
            .write(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
        e.finish().unwrap_or_else(|e| panic!("{e}"))
    }

    fn explain_bytes(a: &[u8], b: &[u8]) -> Explanation {
        explain(
            &mut Cursor::new(a.to_vec()),
            &mut Cursor::new(b.to_vec()),
            &Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    const APP: &[u8] = b"#!/bin/sh\necho hello\n";
    const README: &[u8] = b"read me\n";

    #[test]
    fn identical_archives_have_no_differences() {
        let t = tar(&[("app", APP, 0, 0o755), ("README", README, 0, 0o644)]);
        let e = explain_bytes(&gzip(&t, 0), &gzip(&t, 0));
        assert_eq!(e.format, Format::TarGzip);
        assert!(e.differences.is_empty(), "{e:?}");
    }

    #[test]
    fn a_timestamp_an_order_and_a_byte_are_each_named() {
        let released = tar(&[("app", APP, 0, 0o755), ("README", README, 0, 0o644)]);
        // A timestamp, in the entry and in the gzip header.
        let later = tar(&[
            ("app", APP, 1_700_000_000, 0o755),
            ("README", README, 0, 0o644),
        ]);
        let e = explain_bytes(&gzip(&released, 0), &gzip(&later, 1_700_000_000));
        assert_eq!(
            e.differences,
            vec![
                Difference::GzipHeader {
                    field: "mtime",
                    released: "0".into(),
                    rebuilt: "1700000000".into()
                },
                Difference::Metadata {
                    path: "app".into(),
                    field: "mtime",
                    released: "0".into(),
                    rebuilt: "1700000000".into()
                },
            ]
        );
        // Another order.
        let reordered = tar(&[("README", README, 0, 0o644), ("app", APP, 0, 0o755)]);
        let e = explain_bytes(&released, &reordered);
        assert_eq!(e.format, Format::Tar);
        assert_eq!(
            e.differences,
            vec![Difference::Order {
                position: 0,
                released: "app".into(),
                rebuilt: "README".into()
            }]
        );
        // One changed byte, and a file only one side has.
        let mut changed = APP.to_vec();
        changed[15] = b'j';
        let other = tar(&[("app", &changed, 0, 0o755), ("NOTES", README, 0, 0o644)]);
        let e = explain_bytes(&released, &other);
        assert_eq!(
            e.differences,
            vec![
                Difference::OnlyInReleased {
                    path: "README".into()
                },
                Difference::OnlyInRebuilt {
                    path: "NOTES".into()
                },
                Difference::Content {
                    path: "app".into(),
                    released_size: APP.len() as u64,
                    rebuilt_size: APP.len() as u64,
                    offset: Some(15),
                    released_bytes: hex::encode(&APP[15..]),
                    rebuilt_bytes: hex::encode(&changed[15..]),
                },
            ]
        );
    }

    /// A zip entry: name, contents, and its date (year, month, day).
    type ZipEntrySpec<'a> = (&'a str, &'a [u8], (u16, u8, u8));

    fn zip_of(entries: &[ZipEntrySpec<'_>]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes, (y, m, d)) in entries {
            let when = zip::DateTime::from_date_and_time(*y, *m, *d, 0, 0, 0)
                .unwrap_or_else(|e| panic!("{e}"));
            let options = zip::write::SimpleFileOptions::default().last_modified_time(when);
            w.start_file(*name, options)
                .unwrap_or_else(|e| panic!("{e}"));
            w.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
        }
        w.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
    }

    #[test]
    fn a_path_twice_is_compared_occurrence_by_occurrence() {
        let t = tar(&[
            ("app", APP, 0, 0o755),
            ("app", README, 5, 0o644),
            ("README", README, 0, 0o644),
        ]);
        assert!(explain_bytes(&t, &t).differences.is_empty());
        let other = tar(&[
            ("app", APP, 0, 0o755),
            ("app", README, 6, 0o644),
            ("README", README, 0, 0o644),
        ]);
        assert_eq!(
            explain_bytes(&t, &other).differences,
            vec![Difference::Metadata {
                path: "app (#2)".into(),
                field: "mtime",
                released: "5".into(),
                rebuilt: "6".into()
            }]
        );
    }

    #[test]
    fn zip_entries_differ_in_time_and_content() {
        let a = zip_of(&[("app", APP, (2026, 1, 1)), ("README", README, (2026, 1, 1))]);
        let b = zip_of(&[
            ("app", b"#!/bin/sh\necho jello\n", (2026, 1, 1)),
            ("README", README, (2026, 2, 1)),
        ]);
        let e = explain_bytes(&a, &b);
        assert_eq!(e.format, Format::Zip);
        assert!(
            e.differences.contains(&Difference::Metadata {
                path: "README".into(),
                field: "mtime",
                released: "2026-01-01T00:00:00".into(),
                rebuilt: "2026-02-01T00:00:00".into()
            }),
            "{e:?}"
        );
        assert!(
            e.differences.iter().any(
                |d| matches!(d, Difference::Content { path, offset: Some(15), .. } if path == "app")
            ),
            "{e:?}"
        );
    }

    #[test]
    fn plain_files_differ_at_their_first_byte_or_their_end() {
        let a = vec![7u8; 200_000];
        let mut b = a.clone();
        b[150_000] = 8;
        let e = explain_bytes(&a, &b);
        assert_eq!(e.format, Format::Plain);
        assert!(
            matches!(
                &e.differences[..],
                [Difference::Content {
                    offset: Some(150_000),
                    ..
                }]
            ),
            "{e:?}"
        );
        let e = explain_bytes(&a, &a[..100]);
        assert!(
            matches!(
                &e.differences[..],
                [Difference::Content {
                    offset: Some(100),
                    rebuilt_size: 100,
                    ..
                }]
            ),
            "{e:?}"
        );
        // A zip against a tarball: the formats differ.
        let e = explain_bytes(
            &zip_of(&[("a", APP, (2026, 1, 1))]),
            &tar(&[("a", APP, 0, 0o644)]),
        );
        assert!(
            matches!(
                e.differences[0],
                Difference::Format {
                    released: Format::Zip,
                    rebuilt: Format::Tar
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_truncated_zip_is_an_error_naming_its_side() {
        let good = zip_of(&[("a", APP, (2026, 1, 1))]);
        let truncated = &good[..good.len() / 2];
        let got = explain(
            &mut Cursor::new(good.clone()),
            &mut Cursor::new(truncated.to_vec()),
            &Limits::default(),
        );
        assert!(
            matches!(
                got,
                Err(Error::Zip {
                    side: "rebuilt",
                    ..
                })
            ),
            "{got:?}"
        );
    }

    #[test]
    fn bombs_and_huge_archives_are_errors_within_limits() {
        let zeros = gzip(&vec![0u8; 4 << 20], 0);
        let small = Limits {
            max_decompressed: 1 << 20,
            ..Limits::default()
        };
        // Plain gzip payloads are held like an entry: the bound is what is read.
        let bomb = tar(&[("big", &vec![0u8; 2 << 20], 0, 0o644)]);
        let got = explain(
            &mut Cursor::new(gzip(&bomb, 0)),
            &mut Cursor::new(gzip(&bomb, 1)),
            &small,
        );
        assert!(matches!(got, Err(Error::Io { .. })), "{got:?}");
        let many: Vec<(String, &[u8], u64, u32)> = (0..20)
            .map(|i| (format!("f{i}"), README, 0, 0o644))
            .collect();
        let refs: Vec<(&str, &[u8], u64, u32)> = many
            .iter()
            .map(|(p, b, t, m)| (p.as_str(), *b, *t, *m))
            .collect();
        let t = tar(&refs);
        let got = explain(
            &mut Cursor::new(t.clone()),
            &mut Cursor::new(t),
            &Limits {
                max_entries: 10,
                ..Limits::default()
            },
        );
        assert!(
            matches!(got, Err(Error::TooManyEntries { limit: 10, .. })),
            "{got:?}"
        );
        // A long run of zeros decompresses within the default limits.
        let e = explain_bytes(&zeros, &zeros);
        assert_eq!(e.format, Format::Gzip);
        assert!(e.differences.is_empty());
    }
}
