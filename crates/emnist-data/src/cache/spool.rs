//! A new cache entry's temporary file as the decoder's output: the large uint8 arrays (the images)
//! are decoded straight into regions of it, memory-mapped, so that writing the entry copies none
//! of them; the small arrays, the checksums and the header follow, then the rename.
//!
//! Each region is reserved on disk (`fallocate`) before it is mapped, so a full disk is a refused
//! region (the decoder then uses memory, and the entry is written the ordinary way), never a
//! fault while writing through the mapping.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use xxhash_rust::xxh3::xxh3_64;

use super::{checksum, writing, Header, Key, Section, ALIGN, MAGIC, PREAMBLE};
use crate::mat::U8Buffers;
use crate::{Dataset, Part};

/// Room for the preamble and the JSON header before the first region (a header is a few KB).
pub(super) const HEADER_ROOM: u64 = 64 << 10;
/// Regions start on multiples of this: a memory map's offset must be a multiple of the page size.
const REGION_ALIGN: u64 = 64 << 10;

/// The temporary file of one cache entry, handing out regions to decode into. Dropped without
/// [`Spool::commit`], it removes its file (mappings already handed out stay valid).
pub struct Spool {
    file: File,
    tmp: PathBuf,
    path: PathBuf,
    state: Mutex<State>,
    _writing: writing::Guard,
}

struct State {
    /// The end of the last region.
    end: u64,
    /// Each region handed out: file offset, address of its mapping, length.
    regions: Vec<(u64, usize, usize)>,
    committed: bool,
}

impl Spool {
    /// Creates the temporary file of `key`'s entry in `dir` (and `dir` itself).
    pub fn create(dir: &Path, key: &Key) -> Result<Arc<Spool>> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create the cache folder `{}`", dir.display()))?;
        crate::fsutil::remove_stale_temps(dir, Key::is_entry_name);
        let path = dir.join(key.file_name());
        let guard = writing::begin(&path);
        let tmp = crate::fsutil::temp_path(&path);
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .with_context(|| format!("cannot create `{}`", tmp.display()))?;
        let state = State { end: HEADER_ROOM, regions: Vec::new(), committed: false };
        Ok(Arc::new(Spool { file, tmp, path, state: Mutex::new(state), _writing: guard }))
    }

    /// The decoder's source of buffers: a region of this file per large uint8 matrix, or `None`
    /// where one cannot be reserved.
    pub fn buffers(self: &Arc<Self>) -> U8Buffers {
        let spool = self.clone();
        U8Buffers(Arc::new(move |len| spool.region(len).ok()))
    }

    /// Reserves `len` bytes at the end of the file and maps them, writable.
    fn region(&self, len: usize) -> std::io::Result<memmap2::MmapMut> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let at = st.end.div_ceil(REGION_ALIGN) * REGION_ALIGN;
        reserve(&self.file, at, len as u64)?;
        // SAFETY: the file is this process's own temporary (its name carries our pid; only a dead
        // process's temporaries are ever removed) and the region is reserved on disk, so the
        // mapping is neither truncated under us nor short of blocks.
        let map = unsafe { memmap2::MmapOptions::new().offset(at).len(len).map_mut(&self.file)? };
        st.regions.push((at, map.as_ptr() as usize, len));
        st.end = at + len as u64;
        Ok(map)
    }

    /// The file offset of `bytes` when they are one of the regions handed out.
    fn offset_of(&self, bytes: &[u8]) -> Option<u64> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (addr, len) = (bytes.as_ptr() as usize, bytes.len());
        st.regions.iter().find(|r| len > 0 && r.1 == addr && r.2 == len).map(|r| r.0)
    }

    /// Where the entry goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Completes the entry for `ds` (decoded into this spool, in part or not at all): the arrays
    /// not in a region are appended, the checksums and header written, the file renamed into place.
    pub fn commit(&self, key: &Key, ds: &Dataset) -> Result<PathBuf> {
        let mut end = self.state.lock().unwrap_or_else(|e| e.into_inner()).end;
        let mut place = |bytes: &[u8]| -> Result<u64> {
            if let Some(at) = self.offset_of(bytes) {
                return Ok(at);
            }
            let at = end.div_ceil(ALIGN) * ALIGN;
            self.file.write_all_at(bytes, at)?;
            end = at + bytes.len() as u64;
            Ok(at)
        };
        let writer_bytes = |p: &Part| -> Option<Vec<u8>> {
            p.writers.as_ref().map(|w| w.iter().flat_map(|x| x.to_le_bytes()).collect())
        };
        let mut section = |p: &Part| -> Result<Section> {
            let writers = writer_bytes(p);
            Ok(Section {
                n: p.len() as u64,
                images_at: place(&p.images)?,
                labels_at: place(&p.labels)?,
                writers_at: writers.as_deref().map(&mut place).transpose()?,
                images_xxh3: checksum(&p.images),
                labels_xxh3: checksum(&p.labels),
                writers_xxh3: writers.as_deref().map(checksum),
            })
        };
        let (train, test) = (section(&ds.train)?, section(&ds.test)?);
        let header = Header { key: key.clone(), info: ds.info.clone(), classes: ds.classes.clone(), train, test };
        let json = serde_json::to_vec(&header)?;
        if PREAMBLE + json.len() as u64 > HEADER_ROOM {
            bail!("the cache header ({} bytes) is larger than its room", json.len());
        }
        let mut head = Vec::with_capacity(PREAMBLE as usize + json.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&(json.len() as u64).to_le_bytes());
        head.extend_from_slice(&xxh3_64(&json).to_le_bytes());
        head.extend_from_slice(&json);
        self.file.write_all_at(&head, 0)?;
        // The file ends where the last array does (a region reserved but not used stays inside).
        self.file.set_len(end.max(self.file.metadata()?.len()))?;
        // No fsync, as `store`: every load checks the checksums.
        fs::rename(&self.tmp, &self.path)?;
        self.state.lock().unwrap_or_else(|e| e.into_inner()).committed = true;
        Ok(self.path.clone())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.state.get_mut().map_or(true, |s| s.committed) {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Reserves `len` bytes of `file` from `at` on disk, extending it.
#[cfg(target_os = "linux")]
fn reserve(file: &File, at: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (at, len) = (libc::off_t::try_from(at), libc::off_t::try_from(len));
    let (Ok(at), Ok(len)) = (at, len) else { return Err(std::io::Error::other("region beyond off_t")) };
    // SAFETY: a plain system call on an open descriptor.
    if unsafe { libc::fallocate(file.as_raw_fd(), 0, at, len) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Elsewhere no region is handed out: the decoder uses memory.
#[cfg(not(target_os = "linux"))]
fn reserve(_: &File, _: u64, _: u64) -> std::io::Result<()> {
    Err(std::io::Error::other("no fallocate"))
}
