//! Writing the payload log: records appended to the open segment, rolled into a closed segment at
//! a size, the oldest closed segments deleted once the folder holds more than its limit.
//!
//! One writer per folder (an advisory lock on `.lock`). A writer never appends to a segment it
//! did not create: the open segment a killed writer left behind is closed as it is (its torn tail,
//! if any, is reported by every read) and the new writer starts the next one. The writer is
//! synchronous; the server runs it on a thread of its own behind a bounded queue.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::record::{Entry, FRAME_HEADER, MAGIC, MAX_BODY};
use super::{open_segment_name, segment_name, segment_seq, OPEN_SUFFIX};

/// Where the log goes and how much of it to keep.
#[derive(Debug, Clone)]
pub struct LogWriterConfig {
    /// The log folder (created if missing).
    pub dir: PathBuf,
    /// Most bytes the folder's segments may hold; the oldest closed segments go beyond it.
    pub max_bytes: u64,
    /// A segment is closed and the next one started once it holds this many bytes.
    pub segment_bytes: u64,
}

impl LogWriterConfig {
    /// A log in `dir` kept under `max_bytes`, in segments of an eighth of that (64 KiB to 16 MiB),
    /// so that dropping the oldest one frees a small share of the log.
    pub fn new(dir: PathBuf, max_bytes: u64) -> LogWriterConfig {
        let segment_bytes = (max_bytes / 8).clamp(64 << 10, 16 << 20);
        LogWriterConfig { dir, max_bytes, segment_bytes }
    }
}

/// The one writer of a log folder.
pub struct LogWriter {
    cfg: LogWriterConfig,
    _lock: File,
    seq: u64,
    file: BufWriter<File>,
    written: u64,
    closed: VecDeque<(PathBuf, u64)>,
    dropped_segments: u64,
}

impl LogWriter {
    /// Opens `cfg.dir` for writing: takes its lock, closes a killed writer's open segment, and
    /// starts a new segment after the newest one there.
    pub fn open(cfg: LogWriterConfig) -> Result<LogWriter> {
        let dir = &cfg.dir;
        fs::create_dir_all(dir).with_context(|| format!("cannot create the log folder `{}`", dir.display()))?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot write in the log folder `{}`", dir.display()))?;
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            bail!("another process is writing the log in `{}`: give each server a folder of its own", dir.display());
        }
        let mut segments: Vec<(u64, PathBuf)> = Vec::new();
        // The newest sequence number seen, removed segments included: a name is never reused.
        let mut newest = 0;
        for entry in fs::read_dir(dir).with_context(|| format!("cannot list `{}`", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(seq) = segment_seq(&name) else { continue };
            newest = newest.max(seq);
            let mut path = entry.path();
            if name.ends_with(OPEN_SUFFIX) && holds_no_record(&path) {
                // Killed before its first record reached the disk: nothing to keep, and a closed
                // segment without its header would be reported as damaged by every read.
                fs::remove_file(&path).with_context(|| {
                    format!("cannot remove the empty segment `{}` a stopped server left", path.display())
                })?;
                continue;
            }
            if name.ends_with(OPEN_SUFFIX) {
                let closed = dir.join(segment_name(seq));
                fs::rename(&path, &closed)
                    .with_context(|| format!("cannot close the segment `{}` a stopped server left", path.display()))?;
                path = closed;
            }
            segments.push((seq, path));
        }
        segments.sort();
        let seq = newest + 1;
        let closed = segments
            .into_iter()
            .map(|(_, p)| {
                let len = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                (p, len)
            })
            .collect();
        let file = start_segment(dir, seq)?;
        let mut writer =
            LogWriter { cfg, _lock: lock, seq, file, written: MAGIC.len() as u64, closed, dropped_segments: 0 };
        writer.prune()?;
        Ok(writer)
    }

    /// Appends one record (buffered: [`LogWriter::flush`] hands it to the operating system). A
    /// record larger than a reader takes ([`MAX_BODY`]: a prediction with a huge id) is refused
    /// with [`io::ErrorKind::InvalidInput`] and nothing is written.
    pub fn append(&mut self, entry: &Entry) -> io::Result<()> {
        self.append_encoded(&entry.encode())
    }

    /// Appends one record already framed ([`Entry::encode`], [`super::PredictionRef::encode`]),
    /// with [`LogWriter::append`]'s checks.
    pub fn append_encoded(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() < FRAME_HEADER || bytes.len() - FRAME_HEADER > MAX_BODY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a record of {} bytes is larger than the limit of {MAX_BODY}",
                    bytes.len().saturating_sub(FRAME_HEADER)
                ),
            ));
        }
        if self.written + bytes.len() as u64 > self.cfg.segment_bytes && self.written > MAGIC.len() as u64 {
            self.roll()?;
        }
        self.file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        self.prune()
    }

    /// Hands every appended record to the operating system: a `kill -9` from here on loses none.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// Closed segments deleted so far to keep the folder under its limit.
    pub fn dropped_segments(&self) -> u64 {
        self.dropped_segments
    }

    /// Bytes the folder's segments hold now (closed ones and the open one).
    pub fn total_bytes(&self) -> u64 {
        self.closed.iter().map(|(_, n)| n).sum::<u64>() + self.written
    }

    /// Flushes, syncs and closes the open segment (removed if it holds no record).
    pub fn close(mut self) -> io::Result<()> {
        self.finish_segment()
    }

    fn roll(&mut self) -> io::Result<()> {
        self.finish_segment()?;
        self.seq += 1;
        self.file = start_segment(&self.cfg.dir, self.seq).map_err(io::Error::other)?;
        self.written = MAGIC.len() as u64;
        Ok(())
    }

    fn finish_segment(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        let open = self.cfg.dir.join(open_segment_name(self.seq));
        if self.written <= MAGIC.len() as u64 {
            return fs::remove_file(&open);
        }
        let closed = self.cfg.dir.join(segment_name(self.seq));
        fs::rename(&open, &closed)?;
        self.closed.push_back((closed, self.written));
        Ok(())
    }

    fn prune(&mut self) -> io::Result<()> {
        while self.total_bytes() > self.cfg.max_bytes {
            let Some((oldest, _)) = self.closed.pop_front() else { break };
            match fs::remove_file(&oldest) {
                Ok(()) => self.dropped_segments += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let _ = self.file.flush();
    }
}

/// Whether the open segment at `path` holds at most (part of) the header: no record to keep.
fn holds_no_record(path: &Path) -> bool {
    match fs::read(path) {
        Ok(bytes) => bytes.len() <= MAGIC.len() && MAGIC.starts_with(&bytes),
        Err(_) => false,
    }
}

fn start_segment(dir: &Path, seq: u64) -> Result<BufWriter<File>> {
    let path = dir.join(open_segment_name(seq));
    let file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create the log segment `{}`", path.display()))?;
    let mut file = BufWriter::with_capacity(256 << 10, file);
    file.write_all(MAGIC).with_context(|| format!("cannot write the log segment `{}`", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::super::read::read_dir;
    use super::super::record::tests::prediction;
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    }

    #[test]
    fn segments_roll_and_the_oldest_go_beyond_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogWriterConfig { dir: dir.path().join("log"), max_bytes: 20_000, segment_bytes: 4_000 };
        let mut w = LogWriter::open(cfg.clone()).unwrap();
        for i in 0..100 {
            w.append(&Entry::Prediction(prediction(&format!("r{i}"), 0, "7", i as u8))).unwrap();
            assert!(w.total_bytes() <= cfg.max_bytes, "{} bytes after {i}", w.total_bytes());
        }
        assert!(w.dropped_segments() > 0);
        w.close().unwrap();
        let on_disk: u64 = fs::read_dir(&cfg.dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        assert!(on_disk <= cfg.max_bytes, "{on_disk}");
        let log = read_dir(&cfg.dir).unwrap();
        assert!(log.torn.is_empty(), "{:?}", log.torn);
        // The newest records are the ones kept, in order.
        let ids: Vec<&str> = log.predictions.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.last(), Some(&"r99"));
        assert!(ids.windows(2).all(|w| w[0][1..].parse::<u32>().unwrap() + 1 == w[1][1..].parse::<u32>().unwrap()));
        assert!(!names(&cfg.dir).iter().any(|n| n.ends_with(OPEN_SUFFIX)));
    }

    #[test]
    fn a_second_writer_is_refused_and_a_killed_writers_segment_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogWriterConfig::new(dir.path().to_path_buf(), 1 << 20);
        let mut first = LogWriter::open(cfg.clone()).unwrap();
        first.append(&Entry::Prediction(prediction("a", 0, "7", 1))).unwrap();
        let err = LogWriter::open(cfg.clone()).err().unwrap().to_string();
        assert!(err.contains("another process is writing"), "{err}");
        first.close().unwrap();
        // What a killed writer leaves: an open segment whose last record is cut short.
        let mut killed = MAGIC.to_vec();
        killed.extend(Entry::Prediction(prediction("b", 0, "7", 2)).encode());
        killed.extend(&Entry::Prediction(prediction("c", 0, "7", 3)).encode()[..100]);
        fs::write(dir.path().join(open_segment_name(2)), &killed).unwrap();
        let mut second = LogWriter::open(cfg).unwrap();
        second.append(&Entry::Prediction(prediction("d", 0, "7", 4))).unwrap();
        second.close().unwrap();
        assert_eq!(
            names(dir.path()),
            [".lock", "segment-0000000001.plog", "segment-0000000002.plog", "segment-0000000003.plog"]
        );
        let log = read_dir(dir.path()).unwrap();
        let ids: Vec<&str> = log.predictions.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "d"]);
        assert_eq!(log.torn.len(), 1, "{:?}", log.torn);
        assert_eq!(log.torn[0].skipped_bytes, 100);
    }

    #[test]
    fn an_empty_segment_a_killed_writer_left_is_removed_and_huge_records_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        // Killed before anything reached the disk, and killed after only the header did.
        fs::write(dir.path().join(open_segment_name(1)), b"").unwrap();
        fs::write(dir.path().join(open_segment_name(2)), MAGIC).unwrap();
        let mut w = LogWriter::open(LogWriterConfig::new(dir.path().to_path_buf(), 1 << 20)).unwrap();
        let mut huge = prediction("a", 0, "7", 1);
        huge.id = "x".repeat(MAX_BODY);
        let err = w.append(&Entry::Prediction(huge)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        w.append(&Entry::Prediction(prediction("b", 0, "7", 2))).unwrap();
        w.close().unwrap();
        assert_eq!(names(dir.path()), [".lock", "segment-0000000003.plog"]);
        let log = read_dir(dir.path()).unwrap();
        assert!(log.torn.is_empty(), "{:?}", log.torn);
        assert_eq!(log.predictions.len(), 1);
    }
}
