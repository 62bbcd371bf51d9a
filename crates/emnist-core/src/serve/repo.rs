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
use super::ApiError;
use crate::contract::{Outputs, PIXELS};
use crate::onnx::{Engine, EngineKind, ModelOptions, ServedModel};
use crate::protocol::tensor::Images;

/// The file a repository version is read from.
pub const MODEL_FILE: &str = "model.onnx";
/// Class names beside a repository version's model (one per line, or an EMNIST mapping).
pub const LABELS_FILE: &str = "labels.txt";

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
    /// Which engine runs it (`tract` or `onnxruntime`).
    pub engine: &'static str,
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
        if labels.is_some() {
            options.labels = labels;
        }
        let model = ServedModel::load(path, &options)?;
        let mut v = self.serve(name, number, model)?;
        v.key = key;
        Ok(v)
    }

    /// [`Loader::load`] for a model already read.
    pub fn serve(&self, name: &str, number: u64, model: ServedModel) -> Result<Version> {
        let engine = Engine::load(&self.engine, &model, self.batch.workers)?;
        engine
            .run(&[0.0; PIXELS])
            .with_context(|| format!("`{}` fails its warm-up inference", model.path.display()))?;
        let engine_name = engine.name();
        let batcher = Batcher::start(Arc::new(engine), self.batch.clone(), self.metrics.clone());
        Ok(Version { name: name.to_string(), number, model: Arc::new(model), engine: engine_name, key: None, batcher })
    }
}

impl Version {
    /// The version as protocols write it.
    pub fn label(&self) -> String {
        self.number.to_string()
    }

    /// Runs validated images through this version's batcher.
    pub async fn run(&self, images: Images) -> Result<Outputs, ApiError> {
        self.batcher.infer(images).await.map_err(|e| {
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
            Some(v) => v.parse::<u64>().ok().and_then(|n| versions.get(&n)),
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
        match self.default_model(preferred) {
            Some(name) => self.resolve(name, None),
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

/// Lists `dir/<name>/<version>/model.onnx` (versions: whole numbers; anything else is skipped,
/// as TF Serving skips it).
pub fn scan(dir: &Path) -> Result<Found> {
    let models =
        std::fs::read_dir(dir).with_context(|| format!("cannot read the model repository `{}`", dir.display()))?;
    let mut found = Found::new();
    for m in models.flatten() {
        let Ok(name) = m.file_name().into_string() else { continue };
        if name.starts_with('.') || !m.path().is_dir() {
            continue;
        }
        let Ok(versions) = std::fs::read_dir(m.path()) else { continue };
        for v in versions.flatten() {
            let Some(number) = v.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else { continue };
            let file = v.path().join(MODEL_FILE);
            if !file.is_file() {
                continue;
            }
            let labels = Some(v.path().join(LABELS_FILE)).filter(|p| p.is_file());
            let key = FileKey::of(&file);
            found.insert((name.clone(), number), (file, labels, key));
        }
    }
    Ok(found)
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
            match load(name, *number, file, labels.clone()) {
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
/// `dir/name/<newest + 1>/model.onnx` (version 1 for a new model).
pub fn next_version_file(dir: &Path, name: &str) -> Result<PathBuf> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', ':']) {
        bail!("`{name}` cannot name a model in a repository: use letters, digits, `-` and `_`");
    }
    let newest = match std::fs::read_dir(dir.join(name)) {
        Ok(entries) => entries.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok()).max().unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", dir.join(name).display())),
    };
    Ok(dir.join(name).join((newest + 1).to_string()).join(MODEL_FILE))
}

/// Checks that a repository holds at least one version before the server starts on it.
pub fn check_repository(dir: &Path) -> Result<Found> {
    let found = scan(dir)?;
    if found.is_empty() {
        bail!(
            "the model repository `{}` holds no model: put each file at `<name>/<version>/{MODEL_FILE}` (e.g. `emnist/1/{MODEL_FILE}`)",
            dir.display()
        );
    }
    Ok(found)
}
