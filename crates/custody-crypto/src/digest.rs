//! Streaming SHA-256 / SHA-512 digests of artifacts.
//!
//! Artifacts can be many gigabytes, so nothing here reads a file whole: data flows through a
//! fixed-size buffer. One file is hashed by two threads (SHA-256 on the caller's thread, SHA-512
//! on a helper fed the same buffers), because on a CPU with SHA extensions SHA-512 is the slower
//! of the two and would otherwise set the pace. Many files are hashed by one worker per core.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::mpsc;

use sha2::{Digest as _, Sha256, Sha512};

use crate::Error;

/// Read size. Each read is a kernel copy from the page cache into this buffer, which the
/// hasher then reads back; both stay in a core's L2 only while the buffer is well under half
/// of it. On a 512 KiB-L2 EPYC, reads of 192 KiB and more cost 0.5-0.7 s of system time per
/// GiB against 0.15-0.2 s at 64-128 KiB, and left `custody digest` ~30% behind
/// `openssl dgst -sha256` (BENCHMARKS.md, "Hashing"). 64 KiB keeps a margin on 256 KiB L2s,
/// and its syscalls still cost only ~1% of the hashing time.
const CHUNK: usize = 64 << 10;

macro_rules! hash_newtype {
    ($name:ident, $len:expr, $alg:literal) => {
        #[doc = concat!("A ", $alg, " digest.")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The algorithm's name as in-toto and TUF spell it.
            pub const ALGORITHM: &'static str = $alg;

            /// Lower-case hex.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// Parse lower- or upper-case hex of exactly the right length.
            pub fn from_hex(text: &str) -> Result<Self, Error> {
                let mut out = [0u8; $len];
                hex::decode_to_slice(text, &mut out).map_err(|_| Error::BadDigestHex {
                    algorithm: $alg,
                    value: text.chars().take(2 * $len + 8).collect(),
                })?;
                Ok(Self(out))
            }

            /// The digest of a byte string held in memory.
            pub fn of(bytes: &[u8]) -> Self {
                let mut hasher = <$crate::digest::Hasher<$len>>::new();
                hasher.update(bytes);
                Self(hasher.finish())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}:{}", $alg, self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::from_hex(s)
            }
        }
    };
}

hash_newtype!(Sha256Digest, 32, "sha256");
hash_newtype!(Sha512Digest, 64, "sha512");

impl Sha256Digest {
    /// The digest as a UUID (`xxxxxxxx-xxxx-8xxx-yxxx-xxxxxxxxxxxx`, lower case, no `urn:uuid:`),
    /// for documents whose serial number must be the same for the same content.
    ///
    /// RFC 9562 version 8 ("custom"), the version meant for UUIDs laid out by the application:
    /// the first 128 bits of the digest, with the version nibble set to 8 and the variant bits
    /// to `10`. Version 4 would claim the bits are random, and version 5 names SHA-1.
    pub fn to_uuid(&self) -> String {
        let mut b = [0u8; 16];
        b.copy_from_slice(&self.0[..16]);
        uuid_string(b, 8)
    }
}

/// Picks the sha2 hasher by output length, so the newtype macro can name one generic type.
#[doc(hidden)]
#[derive(Debug)]
pub enum Hasher<const N: usize> {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl<const N: usize> Hasher<N> {
    fn new() -> Self {
        if N == 32 {
            Self::Sha256(Sha256::new())
        } else {
            Self::Sha512(Sha512::new())
        }
    }
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }
    fn finish(self) -> [u8; N] {
        let mut out = [0u8; N];
        match self {
            Self::Sha256(h) => out.copy_from_slice(&h.finalize()),
            Self::Sha512(h) => out.copy_from_slice(&h.finalize()),
        }
        out
    }
}

/// Which digests to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithms {
    /// SHA-256 only: the cheapest, and what most verifiers compare.
    Sha256,
    /// SHA-512 only.
    Sha512,
    /// Both, in one pass over the data.
    #[default]
    Both,
}

/// The digests and length of one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Length in bytes.
    pub size: u64,
    /// SHA-256, when asked for.
    pub sha256: Option<Sha256Digest>,
    /// SHA-512, when asked for.
    pub sha512: Option<Sha512Digest>,
}

/// Hash everything a reader yields.
pub fn digest_reader<R: Read>(reader: R, algorithms: Algorithms) -> io::Result<Digests> {
    match algorithms {
        Algorithms::Sha256 => {
            single(reader, |h: &mut Sha256, b| h.update(b)).map(|(n, h)| Digests {
                size: n,
                sha256: Some(Sha256Digest(h.finalize().into())),
                sha512: None,
            })
        }
        Algorithms::Sha512 => {
            single(reader, |h: &mut Sha512, b| h.update(b)).map(|(n, h)| Digests {
                size: n,
                sha256: None,
                sha512: Some(Sha512Digest(h.finalize().into())),
            })
        }
        Algorithms::Both => both_pipelined(reader),
    }
}

fn single<R: Read, H: Default>(
    mut reader: R,
    mut update: impl FnMut(&mut H, &[u8]),
) -> io::Result<(u64, H)> {
    let mut hasher = H::default();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = read_full(&mut reader, &mut buf)?;
        if n == 0 {
            return Ok((size, hasher));
        }
        update(&mut hasher, &buf[..n]);
        size += n as u64;
    }
}

/// SHA-256 here, SHA-512 on a helper thread, over shared read-only chunks.
fn both_pipelined<R: Read>(mut reader: R) -> io::Result<Digests> {
    // A small ring of buffers: the reader refills one while the helper still hashes others.
    const IN_FLIGHT: usize = 3;
    let (to_helper, helper_rx) = mpsc::sync_channel::<Arc<Vec<u8>>>(IN_FLIGHT);
    let (recycle_tx, recycle) = mpsc::channel::<Arc<Vec<u8>>>();
    std::thread::scope(|scope| {
        let helper = scope.spawn(move || {
            let mut h = Sha512::new();
            for chunk in helper_rx {
                h.update(chunk.as_slice());
                // The reader may have stopped listening after an error; nothing is lost then.
                let _ = recycle_tx.send(chunk);
            }
            h.finalize()
        });
        let mut sha256 = Sha256::new();
        let mut size = 0u64;
        let mut made = 0usize;
        let result = loop {
            let mut buf = match recycle.try_recv() {
                Ok(b) => b,
                Err(_) if made <= IN_FLIGHT => {
                    made += 1;
                    Arc::new(vec![0u8; CHUNK])
                }
                Err(_) => match recycle.recv() {
                    Ok(b) => b,
                    Err(_) => break Err(io::Error::other("SHA-512 worker stopped")),
                },
            };
            // The helper hands each buffer back by value, so this is its only owner again.
            let Some(data) = Arc::get_mut(&mut buf) else {
                break Err(io::Error::other("hash buffer still shared"));
            };
            data.resize(CHUNK, 0);
            let n = match read_full(&mut reader, data) {
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            if n == 0 {
                break Ok(());
            }
            data.truncate(n);
            sha256.update(data.as_slice());
            size += n as u64;
            if to_helper.send(buf).is_err() {
                break Err(io::Error::other("SHA-512 worker stopped"));
            }
        };
        drop(to_helper);
        let sha512 = helper
            .join()
            .map_err(|_| io::Error::other("SHA-512 worker panicked"))?;
        result.map(|()| Digests {
            size,
            sha256: Some(Sha256Digest(sha256.finalize().into())),
            sha512: Some(Sha512Digest(sha512.into())),
        })
    })
}

/// Fill `buf` unless the reader ends first, so chunks stay large on pipes and short reads.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Hash one file, naming it in any error.
pub fn digest_file(path: &Path, algorithms: Algorithms) -> Result<Digests, Error> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(Error::IsDirectory(path.to_path_buf()));
    }
    let file = File::open(path).map_err(io_err)?;
    digest_reader(file, algorithms).map_err(io_err)
}

/// Hash many files, one worker per core, results in the order of `paths`.
///
/// A lone file is hashed with the two-thread pipeline instead, so one large artifact still uses
/// both cores.
pub fn digest_files(paths: &[PathBuf], algorithms: Algorithms) -> Vec<Result<Digests, Error>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if paths.len() <= 1 || cores == 1 {
        return paths.iter().map(|p| digest_file(p, algorithms)).collect();
    }
    // With several files in flight the cores are already busy, so each file runs single-pass.
    let per_file = match algorithms {
        Algorithms::Both => |p: &Path| -> Result<Digests, Error> {
            let io_err = |source| Error::Io {
                path: p.to_path_buf(),
                source,
            };
            if std::fs::metadata(p).map_err(io_err)?.is_dir() {
                return Err(Error::IsDirectory(p.to_path_buf()));
            }
            let file = File::open(p).map_err(io_err)?;
            let (size, (a, b)) = single(file, |h: &mut (Sha256, Sha512), bytes| {
                h.0.update(bytes);
                h.1.update(bytes);
            })
            .map_err(io_err)?;
            Ok(Digests {
                size,
                sha256: Some(Sha256Digest(a.finalize().into())),
                sha512: Some(Sha512Digest(b.finalize().into())),
            })
        },
        Algorithms::Sha256 => |p: &Path| digest_file(p, Algorithms::Sha256),
        Algorithms::Sha512 => |p: &Path| digest_file(p, Algorithms::Sha512),
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Digests, Error>>> = (0..paths.len()).map(|_| None).collect();
    let workers = cores.min(paths.len());
    let done: Vec<Vec<(usize, Result<Digests, Error>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(path) = paths.get(i) else {
                            return mine;
                        };
                        mine.push((i, per_file(path)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in done.into_iter().flatten() {
        results[i] = Some(r);
    }
    results
        .into_iter()
        .zip(paths)
        .map(|(r, p)| {
            r.unwrap_or_else(|| {
                Err(Error::Io {
                    path: p.clone(),
                    source: io::Error::other("hashing worker stopped"),
                })
            })
        })
        .collect()
}

/// The RFC 9562 text of the UUID made of `bytes` with the version nibble set to `version` and
/// the variant bits to `10` (version 4 for random bytes, 8 for application-laid-out ones).
pub fn uuid_string(mut bytes: [u8; 16], version: u8) -> String {
    bytes[6] = (bytes[6] & 0x0f) | (version << 4);
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC_256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const ABC_512: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                           2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

    #[test]
    fn a_digest_uuid_is_version_8_variant_10() {
        // ba7816bf 8f01 cfea 4141 40de5dae2223: `c` becomes the version 8, `4` the variant 8.
        assert_eq!(
            Sha256Digest::of(b"abc").to_uuid(),
            "ba7816bf-8f01-8fea-8141-40de5dae2223"
        );
        // Every variant nibble (8, 9, a, b) stays in `10xx`.
        for seed in 0u8..64 {
            let uuid = Sha256Digest::of(&[seed]).to_uuid();
            assert_eq!(&uuid[14..15], "8", "{uuid}");
            assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
        }
    }

    #[test]
    fn fips_180_abc_vectors() {
        let d = digest_reader(&b"abc"[..], Algorithms::Both).unwrap();
        assert_eq!(d.size, 3);
        assert_eq!(d.sha256.unwrap().to_hex(), ABC_256);
        assert_eq!(d.sha512.unwrap().to_hex(), ABC_512);
        assert_eq!(Sha256Digest::of(b"abc").to_hex(), ABC_256);
        assert_eq!(Sha512Digest::of(b"abc").to_hex(), ABC_512);
    }

    #[test]
    fn pipelined_matches_single_pass_across_chunk_boundaries() {
        // Lengths around the chunk size catch off-by-one errors in buffer reuse.
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let both = digest_reader(&data[..], Algorithms::Both).unwrap();
            assert_eq!(both.size, len as u64);
            assert_eq!(both.sha256, Some(Sha256Digest::of(&data)));
            assert_eq!(both.sha512, Some(Sha512Digest::of(&data)));
        }
    }

    #[test]
    fn many_files_keep_their_order_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..9u8 {
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, vec![i; 1000 * usize::from(i)]).unwrap();
            paths.push(p);
        }
        paths.insert(4, dir.path().join("missing"));
        paths.insert(2, dir.path().to_path_buf());
        let out = digest_files(&paths, Algorithms::Both);
        assert_eq!(out.len(), paths.len());
        assert!(matches!(out[2], Err(Error::IsDirectory(_))));
        assert!(matches!(&out[5], Err(Error::Io { path, .. }) if path.ends_with("missing")));
        for (p, r) in paths.iter().zip(&out) {
            if let Ok(d) = r {
                let data = std::fs::read(p).unwrap();
                assert_eq!(d.sha256, Some(Sha256Digest::of(&data)));
                assert_eq!(d.sha512, Some(Sha512Digest::of(&data)));
            }
        }
    }

    #[test]
    fn hex_round_trip_and_rejects_wrong_length() {
        let d = Sha256Digest::from_hex(ABC_256).unwrap();
        assert_eq!(d.to_string(), ABC_256);
        assert!(Sha256Digest::from_hex(&ABC_256[..62]).is_err());
        assert!(Sha256Digest::from_hex(ABC_512).is_err());
        assert!(Sha256Digest::from_hex("zz").is_err());
    }
}
