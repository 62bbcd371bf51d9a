//! Which dataset a command uses (`--data`, the first EMNIST file under `data/`, else the synthetic
//! default) and loading it through the cache (a payload log's labelled images bypass it: logs are
//! small and change). Only regular files are ever opened for reading: a
//! FIFO, a device or a symbolic link loop is named for what it is, never read (a FIFO would block
//! its reader forever, `/dev/zero` never ends).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::synthetic::{self, SyntheticConfig};
use super::{cache, idx, log_dataset, matlab, payload_log, Dataset, Split};
use crate::progress::Progress;
use crate::setting::{Command, Setting};

/// How to find and load a dataset: the settings every dataset-reading command shares.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// `--data`: a .mat file, an idx folder or a payload log folder; `None` searches `data_dir`,
    /// then falls back to synthetic.
    pub data: Option<PathBuf>,
    /// Where to look for EMNIST files when `data` is not given (`data/`).
    pub data_dir: PathBuf,
    /// Which EMNIST split to pick where a folder holds several (default byclass).
    pub split: Option<Split>,
    /// Use the decoded-dataset cache (`--no-cache` turns it off).
    pub cache: bool,
    /// The cache folder; `None` disables caching.
    pub cache_dir: Option<PathBuf>,
    /// Settings of the synthetic default.
    pub synthetic: SyntheticConfig,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            data: None,
            data_dir: PathBuf::from("data"),
            split: None,
            cache: true,
            cache_dir: cache::default_dir(),
            synthetic: SyntheticConfig::default(),
        }
    }
}

/// A resolved dataset source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Matlab(PathBuf),
    Idx(PathBuf),
    Synthetic(SyntheticConfig),
    /// A folder `emnist serve` logged to: its labelled images ([`log_dataset`]).
    PayloadLog(PathBuf),
}

/// Decides which source a configuration means, without reading it.
pub fn resolve(cfg: &LoadConfig) -> Result<Source> {
    if let Some(p) = &cfg.data {
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                bail!(
                    "`{}` does not exist: pass a .mat file or a folder of idx files to {}",
                    p.display(),
                    Setting::Data
                )
            }
            Err(e) => bail!("{}: pass a .mat file or a folder of idx files to {}", unreadable(p, &e), Setting::Data),
        };
        if meta.is_dir() && payload_log::is_log_dir(p) {
            return Ok(Source::PayloadLog(p.clone()));
        }
        if meta.is_dir() {
            return Ok(Source::Idx(p.clone()));
        }
        if meta.is_file() {
            return Ok(Source::Matlab(p.clone()));
        }
        bail!(
            "`{}` is {}, not a regular file: pass a .mat file or a folder of idx files to {}",
            p.display(),
            kind_of(&meta),
            Setting::Data
        );
    }
    let split = cfg.split.unwrap_or(Split::Byclass);
    let d = &cfg.data_dir;
    for dir in [d.clone(), d.join("matlab")] {
        let f = dir.join(format!("emnist-{split}.mat"));
        if f.is_file() {
            return Ok(Source::Matlab(f));
        }
    }
    for dir in [d.clone(), d.join("gzip")] {
        let has = |stem: &str| {
            dir.join(format!("emnist-{split}-{stem}")).is_file()
                || dir.join(format!("emnist-{split}-{stem}.gz")).is_file()
        };
        if has("train-images-idx3-ubyte") {
            return Ok(Source::Idx(dir));
        }
    }
    if cfg.split.is_some() {
        bail!(
            "no EMNIST {split} files under `{}`; run {} or pass {}",
            d.display(),
            Command::Download(split),
            Setting::Data
        );
    }
    Ok(Source::Synthetic(cfg.synthetic))
}

/// What `load` found, for the user: which source, and whether the cache served it.
#[derive(Debug)]
pub struct Loaded {
    pub dataset: Dataset,
    pub source: Source,
    /// The cache entry used or written, if any; one being written is complete once
    /// [`Loaded::finish_cache`] returns.
    pub cache_path: Option<PathBuf>,
    pub from_cache: bool,
    /// The new cache entry, written in the background while the caller uses the data. Dropping
    /// the `Loaded` waits for it; [`Loaded::finish_cache`] waits and tells a failure.
    pub cache_write: Option<cache::PendingStore>,
}

impl Loaded {
    /// Waits for the cache entry being written, if any. A failed write is a note to `progress`
    /// (the data is unaffected) and leaves `cache_path` empty.
    pub fn finish_cache(&mut self, progress: &dyn Progress) {
        let Some(write) = self.cache_write.take() else { return };
        if let Err(e) = write.finish() {
            self.cache_path = None;
            cache_not_written(progress, &e);
        }
    }
}

/// Loads the configured dataset, through the cache when enabled. A decoded dataset is written to
/// the cache on a background thread (`cache_write`): the data is returned before the entry is
/// complete, and a write that fails never fails the load.
pub fn load(cfg: &LoadConfig, progress: &dyn Progress) -> Result<Loaded> {
    let source = resolve(cfg)?;
    let key = match &source {
        Source::Matlab(p) => cache::Key::for_path(p, "")?,
        Source::Idx(p) => cache::Key::for_path(p, &format!("#{}", cfg.split.unwrap_or(Split::Byclass)))?,
        Source::Synthetic(s) => cache::Key { source: s.key(), size: 0, mtime_ns: 0 },
        Source::PayloadLog(dir) => {
            let dataset = load_log(dir, progress)?;
            return Ok(Loaded { dataset, source, cache_path: None, from_cache: false, cache_write: None });
        }
    };
    let cache_dir = cfg.cache_dir.as_deref().filter(|_| cfg.cache);
    if let Some(dir) = cache_dir {
        let path = dir.join(key.file_name());
        match cache::load(dir, &key) {
            Ok(cache::Lookup::Hit(dataset)) => {
                progress.note(&format!("using the cached decode `{}`", path.display()));
                let dataset = *dataset;
                return Ok(Loaded { dataset, source, cache_path: Some(path), from_cache: true, cache_write: None });
            }
            // No entry, or one for another version of the source: decode and store, silently.
            Ok(cache::Lookup::Miss) => {}
            Ok(cache::Lookup::Damaged(what)) => progress.note(&format!(
                "warning: the cached decode `{}` is damaged ({what}); decoding the source again",
                path.display()
            )),
            Err(e) => progress.note(&format!("ignoring an unreadable cache entry: {e:#}")),
        }
    }
    // A .mat file's images are decoded straight into the new cache entry's file (no second copy
    // to write it); where that file cannot be made, into memory, and the entry is written from it.
    let spool = match (&source, cache_dir) {
        (Source::Matlab(_), Some(dir)) => {
            cache::Spool::create(dir, &key).inspect_err(|e| cache_not_written(progress, e)).ok()
        }
        _ => None,
    };
    let dataset = match &source {
        Source::Matlab(p) => matlab::load_into(p, progress, spool.as_ref().map(|s| s.buffers()))
            .with_context(|| format!("reading `{}`", p.display()))?,
        Source::Idx(p) => idx::load(p, cfg.split, progress)?,
        Source::Synthetic(s) => synthetic::generate(s, progress),
        Source::PayloadLog(_) => unreachable!("a log is loaded without the cache, above"),
    };
    if dataset.train.is_empty() || dataset.test.is_empty() {
        bail!("`{}` has an empty train or test part", dataset.info.name);
    }
    let write = match (spool, cache_dir) {
        (Some(spool), _) => Some(cache::commit_in_background(spool, &key, &dataset)),
        // The folder could not be made for the spool: told above.
        (None, Some(_)) if matches!(source, Source::Matlab(_)) => None,
        (None, Some(dir)) => Some(cache::store_in_background(dir, &key, &dataset)),
        (None, None) => None,
    };
    let cache_write = write.and_then(|w| w.inspect_err(|e| cache_not_written(progress, e)).ok());
    let cache_path = cache_write.as_ref().map(|w| w.path().to_path_buf());
    Ok(Loaded { dataset, source, cache_path, from_cache: false, cache_write })
}

/// Tells `progress` that the cache entry was not written (the data is unaffected).
fn cache_not_written(progress: &dyn Progress, e: &anyhow::Error) {
    progress.note(&format!("could not write the cache (continuing without it): {e:#}"));
}

/// The labelled images of a payload log, both parts non-empty; damaged records are skipped and
/// told to `progress`.
fn load_log(dir: &Path, progress: &dyn Progress) -> Result<Dataset> {
    let (dataset, log) = log_dataset::load(dir)?;
    for t in &log.torn {
        progress.note(&format!("warning: {t}"));
    }
    let (train, test) = (dataset.train.len(), dataset.test.len());
    if train == 0 || test == 0 {
        bail!(
            "the payload log `{}` has {} labelled images ({train} train, {test} test; one in {} goes to test by a hash of request id and index) of {} logged: both parts need at least one; label more through the server's feedback",
            dir.display(),
            train + test,
            log_dataset::TEST_ONE_IN,
            log.predictions.len()
        );
    }
    Ok(dataset)
}

/// The path a source was read from, for messages.
pub fn describe(source: &Source) -> String {
    match source {
        Source::Matlab(p) | Source::Idx(p) | Source::PayloadLog(p) => format!("`{}`", p.display()),
        Source::Synthetic(_) => "generated in memory".into(),
    }
}

/// What a path that is neither a regular file nor a folder is, in words: "a FIFO (named pipe)",
/// "a character device", ….
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

/// Why `path` cannot be looked at, in words: a symbolic link loop is named as one.
fn unreadable(path: &Path, e: &io::Error) -> String {
    if e.raw_os_error() == Some(libc::ELOOP) {
        format!("`{}` is a symbolic link loop", path.display())
    } else {
        format!("cannot read `{}`: {e}", path.display())
    }
}

/// Opens `path` for reading only if it is a regular file (after following symbolic links). The
/// file is opened without blocking (a FIFO with no writer would hang a plain open) and checked
/// on the open handle, so that nothing swapped in between the check and the read is read.
pub fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            io::Error::new(e.kind(), unreadable(path, &e))
        } else {
            e
        }
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` is {}, not a regular file", path.display(), kind_of(&meta)),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_data(p: &Path) -> String {
        let cfg = LoadConfig { data: Some(p.to_path_buf()), ..Default::default() };
        resolve(&cfg).map(|s| format!("{s:?}")).unwrap_or_else(|e| e.to_string())
    }

    fn mkfifo(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }

    #[test]
    fn paths_that_are_not_files_are_named_for_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        mkfifo(&fifo);
        assert!(resolve_data(&fifo).contains("is a FIFO (named pipe), not a regular file"), "{}", resolve_data(&fifo));
        let zero = Path::new("/dev/zero");
        if zero.exists() {
            assert!(resolve_data(zero).contains("is a character device, not a regular file"), "{}", resolve_data(zero));
        }
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        assert!(resolve_data(&a).contains("is a symbolic link loop"), "{}", resolve_data(&a));
        assert!(resolve_data(&dir.path().join("none")).contains("does not exist"));
        // Opening never blocks on the FIFO and never reads it.
        let e = open_regular(&fifo).unwrap_err();
        assert!(e.to_string().contains("is a FIFO (named pipe), not a regular file"), "{e}");
        assert!(open_regular(&a).unwrap_err().to_string().contains("symbolic link loop"));
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(open_regular(&file).is_ok());
    }

    #[test]
    fn a_folder_with_log_segments_is_a_payload_log_and_loads_only_with_both_parts() {
        use crate::payload_log::{Entry, Feedback, LogWriter, LogWriterConfig, Prediction};
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut w = LogWriter::open(LogWriterConfig::new(log.clone(), 1 << 20)).unwrap();
        for i in 0..30 {
            let id = format!("r{i}");
            let p = Prediction {
                id: id.clone(),
                index: 0,
                time_ms: 0,
                model: "m".into(),
                version: 1,
                protocol: "kserve".into(),
                class: "7".into(),
                top: vec![("7".into(), 0.9)],
                pixels: vec![9; crate::PIXELS],
            };
            w.append(&Entry::Prediction(p)).unwrap();
            if i < 3 {
                w.append(&Entry::Feedback(Feedback { id, index: 0, time_ms: 1, label: "1".into() })).unwrap();
            }
        }
        w.close().unwrap();
        assert_eq!(resolve_data(&log), format!("{:?}", Source::PayloadLog(log.clone())));
        assert!(resolve_data(dir.path()).starts_with("Idx"), "a folder without segments is an idx folder");
        let cfg = LoadConfig { data: Some(log.clone()), ..Default::default() };
        // r0..r2 are all in the train part (`is_test` is false for each).
        assert!((0..3).all(|i| !log_dataset::is_test(&format!("r{i}"), 0)));
        let e = load(&cfg, &crate::progress::Silent).unwrap_err().to_string();
        assert!(e.contains("has 3 labelled images (3 train, 0 test") && e.contains("of 30 logged"), "{e}");
    }
}
