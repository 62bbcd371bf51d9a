//! Which dataset a command uses (`--data`, the first EMNIST file under `data/`, else the synthetic
//! default) and loading it through the cache.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::synthetic::{self, SyntheticConfig};
use super::{cache, idx, matlab, Dataset, Split};
use crate::progress::Progress;

/// How to find and load a dataset: the settings every dataset-reading command shares.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// `--data`: a .mat file or an idx folder; `None` searches `data_dir`, then falls back to synthetic.
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
}

/// Decides which source a configuration means, without reading it.
pub fn resolve(cfg: &LoadConfig) -> Result<Source> {
    if let Some(p) = &cfg.data {
        if p.is_dir() {
            return Ok(Source::Idx(p.clone()));
        }
        if p.is_file() {
            return Ok(Source::Matlab(p.clone()));
        }
        bail!("`{}` does not exist: pass a .mat file or a folder of idx files to `--data`", p.display());
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
            "no EMNIST {split} files under `{}`; run `emnist download --split {split}` or pass `--data`",
            d.display()
        );
    }
    Ok(Source::Synthetic(cfg.synthetic))
}

/// What `load` found, for the user: which source, and whether the cache served it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub dataset: Dataset,
    pub source: Source,
    /// The cache entry used or written, if any.
    pub cache_path: Option<PathBuf>,
    pub from_cache: bool,
}

/// Loads the configured dataset, through the cache when enabled.
pub fn load(cfg: &LoadConfig, progress: &dyn Progress) -> Result<Loaded> {
    let source = resolve(cfg)?;
    let key = match &source {
        Source::Matlab(p) => cache::Key::for_path(p, "")?,
        Source::Idx(p) => cache::Key::for_path(p, &format!("#{}", cfg.split.unwrap_or(Split::Byclass)))?,
        Source::Synthetic(s) => cache::Key { source: s.key(), size: 0, mtime_ns: 0 },
    };
    let cache_dir = cfg.cache_dir.as_deref().filter(|_| cfg.cache);
    if let Some(dir) = cache_dir {
        let path = dir.join(key.file_name());
        match cache::load(dir, &key) {
            Ok(cache::Lookup::Hit(dataset)) => {
                progress.note(&format!("using the cached decode `{}`", path.display()));
                return Ok(Loaded { dataset: *dataset, source, cache_path: Some(path), from_cache: true });
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
    let dataset = match &source {
        Source::Matlab(p) => matlab::load(p, progress).with_context(|| format!("reading `{}`", p.display()))?,
        Source::Idx(p) => idx::load(p, cfg.split, progress)?,
        Source::Synthetic(s) => synthetic::generate(s, progress),
    };
    if dataset.train.is_empty() || dataset.test.is_empty() {
        bail!("`{}` has an empty train or test part", dataset.info.name);
    }
    let mut cache_path = None;
    if let Some(dir) = cache_dir {
        match cache::store(dir, &key, &dataset) {
            Ok(p) => cache_path = Some(p),
            Err(e) => progress.note(&format!("could not write the cache (continuing without it): {e:#}")),
        }
    }
    Ok(Loaded { dataset, source, cache_path, from_cache: false })
}

/// The path a source was read from, for messages.
pub fn describe(source: &Source) -> String {
    match source {
        Source::Matlab(p) | Source::Idx(p) => format!("`{}`", p.display()),
        Source::Synthetic(_) => "generated in memory".into(),
    }
}
