//! The decoded-dataset cache: one memory-mapped file per source, validated against the source's
//! size and modification time, so the second load of a 600 MB dataset takes milliseconds.
//!
//! Lives in `$EMNIST_CACHE_DIR`, else `$XDG_CACHE_HOME/emnist`, else `~/.cache/emnist`.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{Bytes, ClassTable, Dataset, DatasetInfo, Part};

const MAGIC: &[u8; 8] = b"EMNISTC\x01";
const ALIGN: u64 = 64;

/// The folder caches go to, from the environment.
pub fn default_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("EMNIST_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("emnist")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("emnist")))
}

/// What a cache entry must match to be used: the source's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// A description of the source: a canonical path plus split, or the synthetic settings.
    pub source: String,
    /// Size in bytes of the source file(s); 0 for generated data.
    pub size: u64,
    /// Modification time of the source in nanoseconds since the epoch; 0 for generated data.
    pub mtime_ns: u128,
}

impl Key {
    /// The key of a file or folder on disk (folders: the sum of their files' sizes, the latest mtime).
    pub fn for_path(path: &Path, extra: &str) -> Result<Key> {
        let canon = fs::canonicalize(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let mut size = 0;
        let mut mtime_ns = 0;
        let mut visit = |m: fs::Metadata| {
            size += m.len();
            let t = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            mtime_ns = mtime_ns.max(t.map_or(0, |d| d.as_nanos()));
        };
        let meta = fs::metadata(&canon)?;
        if meta.is_dir() {
            for e in fs::read_dir(&canon)?.flatten() {
                if let Ok(m) = e.metadata() {
                    if m.is_file() {
                        visit(m);
                    }
                }
            }
        } else {
            visit(meta);
        }
        Ok(Key { source: format!("{}{extra}", canon.display()), size, mtime_ns })
    }

    /// The cache file name for this key: readable stem plus a hash of the source.
    pub fn file_name(&self) -> String {
        let stem: String = Path::new(&self.source)
            .file_name()
            .map(|s| s.to_string_lossy().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect())
            .unwrap_or_default();
        format!("{stem}-{:016x}.cache", fnv1a(self.source.as_bytes()))
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

#[derive(Serialize, Deserialize)]
struct Header {
    key: Key,
    info: DatasetInfo,
    classes: ClassTable,
    train: Section,
    test: Section,
}

#[derive(Serialize, Deserialize)]
struct Section {
    n: u64,
    images_at: u64,
    labels_at: u64,
    /// Offset of `n` little-endian u32 writer ids, when present.
    writers_at: Option<u64>,
}

/// Loads the cached dataset for `key` from `dir`, if a valid entry exists.
pub fn load(dir: &Path, key: &Key) -> Result<Option<Dataset>> {
    let path = dir.join(key.file_name());
    let Ok(mut file) = File::open(&path) else { return Ok(None) };
    let len = file.metadata()?.len();
    let mut head = [0u8; 16];
    if file.read_exact(&mut head).is_err() || &head[..8] != MAGIC {
        return Ok(None);
    }
    let hlen = u64::from_le_bytes(head[8..16].try_into().expect("8 bytes"));
    if hlen > len.saturating_sub(16) || hlen > 1 << 20 {
        return Ok(None);
    }
    let mut json = vec![0u8; hlen as usize];
    file.read_exact(&mut json)?;
    let Ok(h) = serde_json::from_slice::<Header>(&json) else { return Ok(None) };
    if h.key != *key {
        return Ok(None);
    }
    // SAFETY: the cache file is ours, written once by rename and never modified in place.
    let map = Arc::new(unsafe { memmap2::Mmap::map(&file) }.context("cannot map the cache file")?);
    let part = |s: &Section| -> Option<Part> {
        let n = usize::try_from(s.n).ok()?;
        let window = |at: u64, bytes: usize| -> Option<Bytes> {
            let start = usize::try_from(at).ok()?;
            (start.checked_add(bytes)? <= map.len()).then(|| Bytes::Mapped { map: map.clone(), start, len: bytes })
        };
        let writers = match s.writers_at {
            Some(at) => {
                let w = window(at, n.checked_mul(4)?)?;
                Some(w.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
            }
            None => None,
        };
        let labels = window(s.labels_at, n)?;
        if labels.iter().any(|&l| l as usize >= h.classes.len()) {
            return None;
        }
        Some(Part { images: window(s.images_at, n.checked_mul(super::PIXELS)?)?, labels, writers })
    };
    match (part(&h.train), part(&h.test)) {
        (Some(train), Some(test)) => Ok(Some(Dataset { info: h.info, classes: h.classes, train, test })),
        _ => Ok(None),
    }
}

/// Writes `ds` to the cache atomically (temporary file, then rename); returns the entry's path.
pub fn store(dir: &Path, key: &Key, ds: &Dataset) -> Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create the cache folder `{}`", dir.display()))?;
    let path = dir.join(key.file_name());
    // Lay the sections out after a header of bounded size.
    let mut at = 0u64;
    let mut place = |bytes: u64| {
        let start = at;
        at = (at + bytes).div_ceil(ALIGN) * ALIGN;
        start
    };
    let mut section = |p: &Part| Section {
        n: p.len() as u64,
        images_at: place(p.images.len() as u64),
        labels_at: place(p.labels.len() as u64),
        writers_at: p.writers.as_ref().map(|w| place(4 * w.len() as u64)),
    };
    let (train, test) = (section(&ds.train), section(&ds.test));
    let mut header = Header { key: key.clone(), info: ds.info.clone(), classes: ds.classes.clone(), train, test };
    let draft = serde_json::to_vec(&header)?;
    // Offsets are relative so far; shift them past the header (JSON grows by at most a few digits per offset).
    let base = (16 + draft.len() as u64 + 256).div_ceil(ALIGN) * ALIGN;
    for s in [&mut header.train, &mut header.test] {
        s.images_at += base;
        s.labels_at += base;
        s.writers_at = s.writers_at.map(|w| w + base);
    }
    let json = serde_json::to_vec(&header)?;
    if 16 + json.len() as u64 > base {
        bail!("cache header grew past its room");
    }
    let tmp = dir.join(format!(".{}.{}.tmp", key.file_name(), std::process::id()));
    let write = || -> Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        w.write_all(MAGIC)?;
        w.write_all(&(json.len() as u64).to_le_bytes())?;
        w.write_all(&json)?;
        let mut pos = 16 + json.len() as u64;
        let mut put = |w: &mut BufWriter<File>, at: u64, bytes: &[u8]| -> std::io::Result<()> {
            w.write_all(&vec![0u8; (at - pos) as usize])?;
            w.write_all(bytes)?;
            pos = at + bytes.len() as u64;
            Ok(())
        };
        for (p, s) in [(&ds.train, &header.train), (&ds.test, &header.test)] {
            put(&mut w, s.images_at, &p.images)?;
            put(&mut w, s.labels_at, &p.labels)?;
            if let (Some(wr), Some(at)) = (&p.writers, s.writers_at) {
                let bytes: Vec<u8> = wr.iter().flat_map(|x| x.to_le_bytes()).collect();
                put(&mut w, at, &bytes)?;
            }
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, &path)?;
        Ok(())
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    Ok(path)
}
