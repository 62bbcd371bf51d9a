//! The models a server holds, by name and version: one file (`--model`), or a model repository
//! in TensorFlow Serving's layout (`--models DIR`: `DIR/<name>/<version>/model.onnx`, an optional
//! `labels.txt` beside it). Requests resolve a [`Version`] from an immutable [`Catalog`] and keep
//! it until they are answered; a reload builds a new catalog beside the old one (new versions
//! loaded and warmed up first) and swaps it in, so a request finishes on the version it started
//! on and a removed version is unloaded when its last request lets go of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use axum::http::StatusCode;

use super::batch::{BatchConfig, BatchError, Batcher};
use super::metrics::Metrics;
use super::payload::ModelInfo;
use super::ApiError;
use crate::protocol::tensor::Images;
use emnist_model::contract::{Outputs, PIXELS};
use emnist_runtime::{Engine, EngineKind, EngineName, ModelOptions, ServedModel};

/// The file a repository version is read from.
pub const MODEL_FILE: &str = "model.onnx";
/// Class names beside a repository version's model (one per line, or an EMNIST mapping).
pub const LABELS_FILE: &str = "labels.txt";
/// The highest version number (TF Serving's versions are positive 64-bit signed integers).
pub const MAX_VERSION: u64 = i64::MAX as u64;

/// The version a folder or request names: a whole number from 1 to [`MAX_VERSION`] written in
/// decimal without sign or leading zeros (`7`, not `+7` or `007`), so that one version has one name.
pub fn parse_version(s: &str) -> Option<u64> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|&v| (1..=MAX_VERSION).contains(&v))
}

/// Why `s` is not a version, for a log line or an error.
fn not_a_version(s: &str) -> String {
    format!("`{s}` is not a version: versions are whole numbers from 1 to {MAX_VERSION}, without sign or leading zeros")
}

/// A file's identity between two polls: its size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKey {
    pub bytes: u64,
    pub modified: Option<SystemTime>,
}

impl FileKey {
    fn of(path: &Path) -> Option<FileKey> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileKey { bytes: m.len(), modified: m.modified().ok() })
    }
}

/// One loaded, warmed-up version of a model, with its own batcher.
pub struct Version {
    pub name: String,
    pub number: u64,
    pub model: Arc<ServedModel>,
    /// Which engine runs it.
    pub engine: EngineName,
    /// What the payload log's records and feedback checks name it by (shared, made once).
    pub info: Arc<ModelInfo>,
    key: Option<FileKey>,
    batcher: Batcher,
}

/// What loading a version needs.
#[derive(Clone)]
pub struct Loader {
    pub engine: EngineKind,
    pub batch: BatchConfig,
    pub options: ModelOptions,
    pub metrics: Arc<Metrics>,
}

impl Loader {
    /// Reads, checks and optimises `path`, loads its engine, runs one warm-up inference, and starts
    /// its batcher (on the current tokio runtime). Blocking: call it off the async workers.
    pub fn load(&self, name: &str, number: u64, path: &Path, labels: Option<PathBuf>) -> Result<Version> {
        let key = FileKey::of(path);
        let mut options = self.options.clone();
        options.limits.max_batch = self.batch.max_batch;
        if labels.is_some() {
            options.labels = labels;
        }
        let model = ServedModel::load(path, &options)?;
        let mut v = self.serve(name, number, model)?;
        v.key = key;
        Ok(v)
    }

    /// [`Loader::load`] for a model already read (a panic in the engine while it loads or warms up
    /// is an error).
    pub fn serve(&self, name: &str, number: u64, model: ServedModel) -> Result<Version> {
        let what = format!("loading and warming up `{}`", model.path.display());
        let engine = emnist_runtime::budget::catching(&what, || {
            let engine = Engine::load(&self.engine, &model, self.batch.workers)?;
            engine
                .run(&[0.0; PIXELS])
                .with_context(|| format!("`{}` fails its warm-up inference", model.path.display()))?;
            Ok(engine)
        })?;
        let engine_name = engine.name();
        let batcher = Batcher::start(Arc::new(engine), self.batch.clone(), self.metrics.clone());
        let info = Arc::new(ModelInfo { name: name.to_string(), version: number, classes: model.class_names.clone() });
        Ok(Version {
            name: name.to_string(),
            number,
            model: Arc::new(model),
            engine: engine_name,
            info,
            key: None,
            batcher,
        })
    }
}

impl Version {
    /// The version as protocols write it.
    pub fn label(&self) -> String {
        self.number.to_string()
    }

    /// Runs validated images through this version's batcher; `lone`: the only request the
    /// server is handling now.
    pub async fn run(&self, images: Images, lone: bool) -> Result<Outputs, ApiError> {
        self.batcher.infer(images, lone).await.map_err(|e| {
            let status = match e {
                BatchError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                BatchError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            ApiError { status, message: e.to_string() }
        })
    }

    /// Whether its batcher still takes requests.
    pub fn is_running(&self) -> bool {
        self.batcher.is_running()
    }
}

/// Every servable version, by model name and version number.
#[derive(Default, Clone)]
pub struct Catalog {
    pub models: BTreeMap<String, BTreeMap<u64, Arc<Version>>>,
}

impl Catalog {
    /// The version of model `name` a request means: `version` when named, else the newest.
    pub fn resolve(&self, name: &str, version: Option<&str>) -> Result<Arc<Version>, ApiError> {
        let Some(versions) = self.models.get(name) else {
            let served: Vec<String> = self.models.keys().map(|n| format!("`{n}`")).collect();
            return Err(ApiError {
                status: StatusCode::NOT_FOUND,
                message: format!("model `{name}` is not served here; this server serves {}", list(&served)),
            });
        };
        let found = match version {
            None => versions.values().next_back(),
            Some(v) => match parse_version(v) {
                Some(n) => versions.get(&n),
                None => return Err(ApiError { status: StatusCode::BAD_REQUEST, message: not_a_version(v) }),
            },
        };
        found.cloned().ok_or_else(|| {
            let have: Vec<String> = versions.keys().map(|n| format!("`{n}`")).collect();
            ApiError {
                status: StatusCode::NOT_FOUND,
                message: format!(
                    "model `{name}` has no version `{}`; it has {}",
                    version.unwrap_or_default(),
                    list(&have)
                ),
            }
        })
    }

    /// The model requests get when they name none (GraphPipe without `config`, the web page):
    /// `preferred` if served, else the first by name.
    pub fn default_model(&self, preferred: &str) -> Option<&str> {
        match self.models.get_key_value(preferred) {
            Some((name, _)) => Some(name.as_str()),
            None => self.models.keys().next().map(String::as_str),
        }
    }

    /// The newest version of the default model (see [`Catalog::default_model`]).
    pub fn default_version(&self, preferred: &str) -> Result<Arc<Version>, ApiError> {
        self.default_model_version(preferred, None)
    }

    /// Version `version` (the newest when `None`) of the default model.
    pub fn default_model_version(&self, preferred: &str, version: Option<&str>) -> Result<Arc<Version>, ApiError> {
        match self.default_model(preferred) {
            Some(name) => self.resolve(name, version),
            None => Err(ApiError { status: StatusCode::SERVICE_UNAVAILABLE, message: "no model is loaded".into() }),
        }
    }

    /// Every version, newest last within each model.
    pub fn versions(&self) -> impl Iterator<Item = &Arc<Version>> {
        self.models.values().flat_map(|v| v.values())
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Where a version stands, for metadata (TF Serving's `model_version_status`, KServe's `versions`).
#[derive(Debug, Clone, PartialEq)]
pub enum VersionState {
    Loading,
    Available,
    /// Its file could not be served (the message says why); an older copy of the same version
    /// may still be serving.
    Failed(String),
}

impl VersionState {
    /// Why the version could not be served, when it could not.
    pub fn error(&self) -> Option<&str> {
        match self {
            VersionState::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// TF Serving's name for the state.
    pub fn tf_state(&self) -> &'static str {
        match self {
            VersionState::Loading => "LOADING",
            VersionState::Available => "AVAILABLE",
            VersionState::Failed(_) => "END",
        }
    }
}

/// A repository's versions as found on disk: `(name, version)` → model file, labels file, key.
pub type Found = BTreeMap<(String, u64), (PathBuf, Option<PathBuf>, Option<FileKey>)>;

/// What a scan of a repository found, and the folders it skipped (with why).
#[derive(Debug, Default)]
pub struct Scan {
    pub found: Found,
    pub skipped: BTreeMap<PathBuf, String>,
}

/// Lists `dir/<name>/<version>/model.onnx`. A version folder whose name is not a version (see
/// [`parse_version`]) is skipped, as TF Serving skips it, and listed in `skipped`. A `model.onnx`
/// that is there but is not a regular file (a FIFO, a folder, a dangling or looping link) is
/// listed all the same, never opened here: loading it fails, and says why.
pub fn scan(dir: &Path) -> Result<Scan> {
    let models =
        std::fs::read_dir(dir).with_context(|| format!("cannot read the model repository `{}`", dir.display()))?;
    let mut scan = Scan::default();
    for m in models.flatten() {
        let Ok(name) = m.file_name().into_string() else { continue };
        if name.starts_with('.') || !m.path().is_dir() {
            continue;
        }
        let Ok(versions) = std::fs::read_dir(m.path()) else { continue };
        for v in versions.flatten() {
            let folder = v.file_name().to_string_lossy().into_owned();
            if folder.starts_with('.') || !v.path().is_dir() {
                continue;
            }
            let Some(number) = parse_version(&folder) else {
                scan.skipped.insert(v.path(), not_a_version(&folder));
                continue;
            };
            let file = v.path().join(MODEL_FILE);
            match std::fs::symlink_metadata(&file) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                _ => {}
            }
            let labels = Some(v.path().join(LABELS_FILE)).filter(|p| p.is_file());
            let key = FileKey::of(&file);
            scan.found.insert((name.clone(), number), (file, labels, key));
        }
    }
    Ok(scan)
}

/// What a reload did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReloadReport {
    pub loaded: Vec<(String, u64)>,
    pub unloaded: Vec<(String, u64)>,
    pub failed: Vec<(String, u64, String)>,
}

/// The status table: every version seen, with its state and the file key it was judged on.
pub type StatusTable = BTreeMap<(String, u64), (VersionState, Option<FileKey>)>;

/// Builds the next catalog from `found`: versions whose file is unchanged are kept as they are;
/// new or changed files are loaded with `load` (a failure keeps what was serving and is not
/// retried until the file changes); versions no longer found are left out. `status` is updated.
pub fn next_catalog(
    current: &Catalog,
    found: &Found,
    status: &mut StatusTable,
    mut load: impl FnMut(&str, u64, &Path, Option<PathBuf>) -> Result<Version>,
) -> (Catalog, ReloadReport) {
    let mut next = Catalog::default();
    let mut report = ReloadReport::default();
    for ((name, number), (file, labels, key)) in found {
        let serving = current.models.get(name).and_then(|v| v.get(number));
        let judged = status.get(&(name.clone(), *number));
        let unchanged = serving.is_some_and(|v| v.key == *key);
        let failed_before = matches!(judged, Some((VersionState::Failed(_), k)) if k == key);
        let keep = if unchanged || failed_before {
            serving.cloned()
        } else {
            // A panic (an engine that cannot allocate) fails this version only.
            let loaded =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(name, *number, file, labels.clone())))
                    .unwrap_or_else(|_| {
                        Err(anyhow::anyhow!("loading `{}` panicked; the file cannot be served", file.display()))
                    });
            match loaded {
                Ok(v) => {
                    status.insert((name.clone(), *number), (VersionState::Available, *key));
                    report.loaded.push((name.clone(), *number));
                    Some(Arc::new(v))
                }
                Err(e) => {
                    let message = format!("{e:#}");
                    status.insert((name.clone(), *number), (VersionState::Failed(message.clone()), *key));
                    report.failed.push((name.clone(), *number, message));
                    serving.cloned()
                }
            }
        };
        if let Some(v) = keep {
            next.models.entry(name.clone()).or_default().insert(*number, v);
        }
    }
    for v in current.versions() {
        if !found.contains_key(&(v.name.clone(), v.number)) {
            report.unloaded.push((v.name.clone(), v.number));
        }
    }
    status.retain(|k, _| found.contains_key(k));
    (next, report)
}

/// Where the next version of model `name` goes in the repository at `dir`:
/// `dir/name/<newest + 1>/model.onnx` (version 1 for a new model; folders that are not versions,
/// see [`parse_version`], do not count). Refused when the newest is already [`MAX_VERSION`].
pub fn next_version_file(dir: &Path, name: &str) -> Result<PathBuf> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', ':']) {
        bail!("`{name}` cannot name a model in a repository: use letters, digits, `-` and `_`");
    }
    let folder = dir.join(name);
    let newest = match std::fs::read_dir(&folder) {
        Ok(entries) => entries.flatten().filter_map(|e| parse_version(e.file_name().to_str()?)).max().unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", folder.display())),
    };
    if newest >= MAX_VERSION {
        bail!(
            "`{}` already holds version {MAX_VERSION}, the highest there is: remove it (or renumber the versions) before adding one",
            folder.display()
        );
    }
    Ok(folder.join((newest + 1).to_string()).join(MODEL_FILE))
}

/// Checks that a repository holds at least one version before the server starts on it.
pub fn check_repository(dir: &Path) -> Result<Found> {
    let found = scan(dir)?.found;
    if found.is_empty() {
        bail!(
            "the model repository `{}` holds no model: put each file at `<name>/<version>/{MODEL_FILE}` (e.g. `emnist/1/{MODEL_FILE}`)",
            dir.display()
        );
    }
    Ok(found)
}
