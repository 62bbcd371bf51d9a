//! The decoded-dataset cache: one memory-mapped file per source, validated against the source's
//! size and modification time, so the second load of a 600 MB dataset takes a fraction of a second.
//! Each section (and the header) carries an xxh3-64 checksum of its bytes, checked before use, so
//! an entry damaged on disk is detected and rebuilt instead of silently changing the data.
//!
//! A new entry is written on a background thread ([`store_in_background`]) while the caller
//! goes on with the data; the entry appears by rename once complete, and a load of the same entry
//! in the same process waits for it rather than decoding again.
//!
//! Lives in `$EMNIST_CACHE_DIR`, else `$XDG_CACHE_HOME/emnist`, else `~/.cache/emnist`.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::{Bytes, ClassTable, Dataset, DatasetInfo, Part};

mod spool;
pub use spool::Spool;

/// The file's first bytes; the last one is the format version (2: checksums).
const MAGIC: &[u8; 8] = b"EMNISTC\x02";
/// Magic, header length (u64 LE), header checksum (u64 LE); the JSON header follows.
const PREAMBLE: u64 = 24;
const ALIGN: u64 = 64;
/// Sections are checksummed in blocks of this size (the checksum of the block checksums), so
/// that a large section is verified by several threads at once.
const BLOCK: usize = 16 << 20;

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

    /// Whether `name` has the shape of [`Key::file_name`]: a cache entry (or its temporary's target).
    pub fn is_entry_name(name: &str) -> bool {
        let Some(rest) = name.strip_suffix(".cache") else { return false };
        let Some((stem, hash)) = rest.rsplit_once('-') else { return false };
        hash.len() == 16
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
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
    /// [`checksum`] of each array's bytes.
    images_xxh3: u64,
    labels_xxh3: u64,
    writers_xxh3: Option<u64>,
}

/// What the cache holds for a key.
pub enum Lookup {
    /// A valid entry, memory-mapped.
    Hit(Box<Dataset>),
    /// No entry, or one for another version of the source or an older cache format: decode and store.
    Miss,
    /// An entry that fails its own checks (a checksum, its layout): what is wrong, e.g.
    /// `checksum mismatch in train labels`. Decode and store again.
    Damaged(String),
}

/// The checksum of a section: xxh3-64 of each `BLOCK` of `bytes`, then xxh3-64 of those
/// (little-endian); blocks are hashed on up to 4 threads. Independent of the thread count.
pub fn checksum(bytes: &[u8]) -> u64 {
    let blocks = bytes.len().div_ceil(BLOCK);
    if blocks <= 1 {
        return xxh3_64(&xxh3_64(bytes).to_le_bytes());
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(blocks);
    let mut sums = vec![0u64; blocks];
    let per = blocks.div_ceil(threads);
    std::thread::scope(|s| {
        for (i, out) in sums.chunks_mut(per).enumerate() {
            let bytes = &bytes[(i * per * BLOCK).min(bytes.len())..];
            s.spawn(move || {
                for (sum, block) in out.iter_mut().zip(bytes.chunks(BLOCK)) {
                    *sum = xxh3_64(block);
                }
            });
        }
    });
    let all: Vec<u8> = sums.iter().flat_map(|s| s.to_le_bytes()).collect();
    xxh3_64(&all)
}

/// Loads the cached dataset for `key` from `dir`: a hit only when the entry is for this source
/// and every checksum matches. I/O errors other than a missing entry are errors. Waits first for
/// a write of the same entry that this process has under way.
pub fn load(dir: &Path, key: &Key) -> Result<Lookup> {
    let path = dir.join(key.file_name());
    writing::wait_for(&path);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lookup::Miss),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let damaged = |what: &str| Ok(Lookup::Damaged(what.to_string()));
    let len = file.metadata()?.len();
    let mut pre = [0u8; PREAMBLE as usize];
    if file.read_exact(&mut pre).is_err() {
        return damaged("shorter than its header");
    }
    if pre[..8] != MAGIC[..] {
        // An entry of another version of this cache is simply out of date.
        return if pre[..7] == MAGIC[..7] { Ok(Lookup::Miss) } else { damaged("not a cache file") };
    }
    let word = |i: usize| u64::from_le_bytes(pre[i..i + 8].try_into().expect("8 bytes"));
    let (hlen, hsum) = (word(8), word(16));
    if hlen > len.saturating_sub(PREAMBLE) || hlen > 1 << 20 {
        return damaged("header length out of range");
    }
    let mut json = vec![0u8; hlen as usize];
    file.read_exact(&mut json)?;
    if xxh3_64(&json) != hsum {
        return damaged("checksum mismatch in the header");
    }
    let Ok(h) = serde_json::from_slice::<Header>(&json) else { return damaged("unreadable header") };
    if h.key != *key {
        return Ok(Lookup::Miss);
    }
    // SAFETY: the cache file is ours, written once by rename and never modified in place; its
    // checksums are verified below before any of it is used.
    let map =
        Arc::new(unsafe { memmap2::MmapOptions::new().populate().map(&file) }.context("cannot map the cache file")?);
    let window = |at: u64, bytes: Option<usize>| -> Option<Bytes> {
        let (start, bytes) = (usize::try_from(at).ok()?, bytes?);
        (start.checked_add(bytes)? <= map.len()).then(|| Bytes::Mapped { map: map.clone(), start, len: bytes })
    };
    let mut parts = Vec::with_capacity(2);
    for (what, s) in [("train", &h.train), ("test", &h.test)] {
        let n = usize::try_from(s.n).ok();
        let images = window(s.images_at, n.and_then(|n| n.checked_mul(super::PIXELS)));
        let labels = window(s.labels_at, n);
        // Outer `None`: the part has no writers; inner `None`: they lie outside the file.
        let writers = s.writers_at.map(|at| window(at, n.and_then(|n| n.checked_mul(4))));
        let (Some(images), Some(labels), false) = (images, labels, matches!(writers, Some(None))) else {
            return damaged(&format!("the {what} part lies beyond the end of the file"));
        };
        let writers = writers.flatten();
        if checksum(&labels) != s.labels_xxh3 {
            return damaged(&format!("checksum mismatch in {what} labels"));
        }
        if let Some(w) = &writers {
            if Some(checksum(w)) != s.writers_xxh3 {
                return damaged(&format!("checksum mismatch in {what} writers"));
            }
        }
        if checksum(&images) != s.images_xxh3 {
            return damaged(&format!("checksum mismatch in {what} images"));
        }
        if labels.iter().any(|&l| l as usize >= h.classes.len()) {
            return damaged(&format!("{what} labels out of range"));
        }
        let writers =
            writers.map(|w| w.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect());
        parts.push(Part { images, labels, writers });
    }
    let test = parts.pop().expect("two parts");
    let train = parts.pop().expect("two parts");
    Ok(Lookup::Hit(Box::new(Dataset { info: h.info, classes: h.classes, train, test })))
}

/// A cache entry being written on a background thread. [`PendingStore::finish`] waits for it and
/// says whether it was written; dropping the handle waits too (the entry is never left half-done
/// by a caller that forgets), without the answer.
pub struct PendingStore {
    path: PathBuf,
    thread: Option<JoinHandle<Result<PathBuf>>>,
}

impl PendingStore {
    /// Where the entry goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the write; the entry's path, or why it was not written.
    pub fn finish(mut self) -> Result<PathBuf> {
        let thread = self.thread.take().expect("joined only here or on drop");
        match thread.join() {
            Ok(result) => result,
            Err(_) => bail!("the thread writing `{}` panicked", self.path.display()),
        }
    }
}

impl Drop for PendingStore {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for PendingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PendingStore({})", self.path.display())
    }
}

/// Starts writing `ds` to the cache ([`store`]) on a background thread and returns at once; the
/// dataset's bytes are shared with the thread, not copied. A write of the same entry already
/// under way in this process is waited for first, so that two never share a temporary file.
pub fn store_in_background(dir: &Path, key: &Key, ds: &Dataset) -> Result<PendingStore> {
    let path = dir.join(key.file_name());
    let guard = writing::begin(&path);
    let (dir, key, ds) = (dir.to_path_buf(), key.clone(), ds.clone());
    in_background(path, move || {
        let _guard = guard;
        store(&dir, &key, &ds)
    })
}

/// Completes `spool`'s entry for `ds` ([`Spool::commit`]) on a background thread; the images
/// decoded into it are not copied again.
pub fn commit_in_background(spool: Arc<Spool>, key: &Key, ds: &Dataset) -> Result<PendingStore> {
    let (key, ds) = (key.clone(), ds.clone());
    in_background(spool.path().to_path_buf(), move || spool.commit(&key, &ds))
}

fn in_background(path: PathBuf, write: impl FnOnce() -> Result<PathBuf> + Send + 'static) -> Result<PendingStore> {
    let thread = std::thread::Builder::new()
        .name("cache-store".into())
        .spawn(write)
        .context("cannot start the thread that writes the cache")?;
    Ok(PendingStore { path, thread: Some(thread) })
}

/// The entries this process is writing, so that a load or a second write of one waits for it.
mod writing {
    use super::*;

    static ENTRIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static DONE: Condvar = Condvar::new();

    /// Marks `path` as being written until the guard drops (also when the writer panics).
    pub fn begin(path: &Path) -> Guard {
        let mut entries = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
        while entries.iter().any(|e| e == path) {
            entries = DONE.wait(entries).unwrap_or_else(|e| e.into_inner());
        }
        entries.push(path.to_path_buf());
        Guard(path.to_path_buf())
    }

    /// Returns once no write of `path` is under way in this process.
    pub fn wait_for(path: &Path) {
        let mut entries = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
        while entries.iter().any(|e| e == path) {
            entries = DONE.wait(entries).unwrap_or_else(|e| e.into_inner());
        }
    }

    pub struct Guard(PathBuf);

    impl Drop for Guard {
        fn drop(&mut self) {
            let mut entries = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = entries.iter().position(|e| *e == self.0) {
                entries.swap_remove(i);
            }
            DONE.notify_all();
        }
    }
}

/// Writes `ds` to the cache atomically (temporary file, then rename); returns the entry's path.
pub fn store(dir: &Path, key: &Key, ds: &Dataset) -> Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create the cache folder `{}`", dir.display()))?;
    crate::fsutil::remove_stale_temps(dir, Key::is_entry_name);
    let path = dir.join(key.file_name());
    let writer_bytes =
        |p: &Part| -> Option<Vec<u8>> { p.writers.as_ref().map(|w| w.iter().flat_map(|x| x.to_le_bytes()).collect()) };
    let writers = [writer_bytes(&ds.train), writer_bytes(&ds.test)];
    // Lay the sections out after a header of bounded size.
    let mut at = 0u64;
    let mut place = |bytes: u64| {
        let start = at;
        at = (at + bytes).div_ceil(ALIGN) * ALIGN;
        start
    };
    let mut section = |p: &Part, w: &Option<Vec<u8>>| Section {
        n: p.len() as u64,
        images_at: place(p.images.len() as u64),
        labels_at: place(p.labels.len() as u64),
        writers_at: w.as_ref().map(|w| place(w.len() as u64)),
        images_xxh3: checksum(&p.images),
        labels_xxh3: checksum(&p.labels),
        writers_xxh3: w.as_deref().map(checksum),
    };
    let (train, test) = (section(&ds.train, &writers[0]), section(&ds.test, &writers[1]));
    let mut header = Header { key: key.clone(), info: ds.info.clone(), classes: ds.classes.clone(), train, test };
    let draft = serde_json::to_vec(&header)?;
    // Offsets are relative so far; shift them past the header (JSON grows by at most a few digits per offset).
    let base = (PREAMBLE + draft.len() as u64 + 256).div_ceil(ALIGN) * ALIGN;
    for s in [&mut header.train, &mut header.test] {
        s.images_at += base;
        s.labels_at += base;
        s.writers_at = s.writers_at.map(|w| w + base);
    }
    let json = serde_json::to_vec(&header)?;
    if PREAMBLE + json.len() as u64 > base {
        bail!("cache header grew past its room");
    }
    let tmp = crate::fsutil::temp_path(&path);
    let write = || -> Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        w.write_all(MAGIC)?;
        w.write_all(&(json.len() as u64).to_le_bytes())?;
        w.write_all(&xxh3_64(&json).to_le_bytes())?;
        w.write_all(&json)?;
        let mut pos = PREAMBLE + json.len() as u64;
        let mut put = |w: &mut BufWriter<File>, at: u64, bytes: &[u8]| -> std::io::Result<()> {
            w.write_all(&vec![0u8; (at - pos) as usize])?;
            w.write_all(bytes)?;
            pos = at + bytes.len() as u64;
            Ok(())
        };
        for ((p, s), wr) in [(&ds.train, &header.train), (&ds.test, &header.test)].into_iter().zip(&writers) {
            put(&mut w, s.images_at, &p.images)?;
            put(&mut w, s.labels_at, &p.labels)?;
            if let (Some(bytes), Some(at)) = (wr, s.writers_at) {
                put(&mut w, at, bytes)?;
            }
        }
        // No fsync: a cache entry is checked against its checksums on every load, so what a power
        // cut leaves half-written is found damaged and rebuilt, and the first load does not wait
        // for 640 MB to reach the disk.
        w.into_inner().map_err(|e| e.into_error())?;
        fs::rename(&tmp, &path)?;
        Ok(())
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SourceFormat, PIXELS};

    fn dataset(n: usize) -> Dataset {
        let part = |n: usize, seed: u8| Part {
            images: (0..n * PIXELS).map(|i| (i as u8).wrapping_mul(seed)).collect::<Vec<u8>>().into(),
            labels: (0..n).map(|i| (i % 2) as u8).collect::<Vec<u8>>().into(),
            writers: Some((0..n as u32).collect()),
        };
        let info = DatasetInfo { name: "test".into(), split: None, format: SourceFormat::Idx, path: None };
        let classes = ClassTable::from_mapping(&[vec![0, 48], vec![1, 49]]).unwrap();
        Dataset { info, classes, train: part(n, 3), test: part(n / 2, 7) }
    }

    #[test]
    fn a_background_store_is_whole_when_finished_and_a_load_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key { source: "background".into(), size: 1, mtime_ns: 2 };
        let ds = dataset(3000);
        let pending = store_in_background(dir.path(), &key, &ds).unwrap();
        // The lookup waits for the write under way: a hit, never a miss or a torn entry.
        let Lookup::Hit(hit) = load(dir.path(), &key).unwrap() else { panic!("not a hit") };
        assert!(hit.train.images[..] == ds.train.images[..] && hit.test.labels[..] == ds.test.labels[..]);
        assert_eq!(hit.test.writers, ds.test.writers);
        let path = pending.finish().unwrap();
        assert_eq!(path, dir.path().join(key.file_name()));
        let names: Vec<String> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, [key.file_name()], "no temporary file is left");
        // A folder that cannot be made fails the write, not the caller.
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let err = store_in_background(&blocker.join("cache"), &key, &ds).unwrap().finish().unwrap_err();
        assert!(format!("{err:#}").contains("cannot create the cache folder"), "{err:#}");
    }

    #[test]
    fn images_decoded_into_a_spool_become_the_entry_without_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key { source: "spooled".into(), size: 3, mtime_ns: 4 };
        let mut ds = dataset(2000);
        let spool = Spool::create(dir.path(), &key).unwrap();
        let len = ds.train.images.len();
        let mut region = (spool.buffers().0)(len).expect("a region of the file");
        region.copy_from_slice(&ds.train.images);
        let map = Arc::new(region.make_read_only().unwrap());
        ds.train.images = Bytes::Mapped { map, start: 0, len };
        let path = commit_in_background(spool, &key, &ds).unwrap().finish().unwrap();
        let names: Vec<String> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, [key.file_name()], "no temporary file is left");
        // The region is where the entry's train images are: written once, through the mapping.
        let file = fs::read(&path).unwrap();
        let at = file.windows(len.min(4096)).position(|w| w == &ds.train.images[..len.min(4096)]).unwrap();
        assert_eq!(at as u64, spool::HEADER_ROOM);
        let Lookup::Hit(hit) = load(dir.path(), &key).unwrap() else { panic!("not a hit") };
        for (a, b) in [(&hit.train, &ds.train), (&hit.test, &ds.test)] {
            assert!(a.images == b.images && a.labels == b.labels && a.writers == b.writers);
        }
        // A spool dropped unfinished (a decode that failed) leaves nothing behind.
        let other = Key { source: "abandoned".into(), size: 1, mtime_ns: 1 };
        let spool = Spool::create(dir.path(), &other).unwrap();
        drop((spool.buffers().0)(1 << 20).expect("a region"));
        drop(spool);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
