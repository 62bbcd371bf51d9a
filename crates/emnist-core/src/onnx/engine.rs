//! The engines `emnist serve` can run an exported file with: tract (pure Rust, the default) or
//! onnxruntime, loaded at run time from a `libonnxruntime.so` (the PyPI wheel ships one in
//! `onnxruntime/capi/`) through the `ort` crate's `load-dynamic`: nothing native is linked, so
//! every build has both, and only `--engine onnxruntime` needs the library.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use ort::session::Session;
use ort::value::Tensor;

use super::classifier::Interface;
use super::tract::{complete, run_images};
use super::ServedModel;
use crate::contract::{OutputKind, Outputs};

/// Which engine runs the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineKind {
    Tract,
    /// onnxruntime from this shared library.
    Onnxruntime {
        library: PathBuf,
    },
}

/// A loaded engine; `run` may be called from several threads at once.
pub enum Engine {
    Tract(super::TractModel),
    Onnxruntime(OrtPool),
}

impl Engine {
    /// Loads `model` with the engine of `kind`; onnxruntime gets one session per worker, each on
    /// one thread (requests run in parallel, as tract's do).
    pub fn load(kind: &EngineKind, model: &ServedModel, workers: usize) -> Result<Engine> {
        match kind {
            EngineKind::Tract => Ok(Engine::Tract(model.model.clone())),
            EngineKind::Onnxruntime { library } => Ok(Engine::Onnxruntime(OrtPool::load(library, model, workers)?)),
        }
    }

    /// The engine's name, for logs and metadata.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Tract(_) => "tract",
            Engine::Onnxruntime(_) => "onnxruntime",
        }
    }

    /// Number of classes the model outputs.
    pub fn classes(&self) -> usize {
        match self {
            Engine::Tract(m) => m.classes(),
            Engine::Onnxruntime(p) => p.classes,
        }
    }

    /// Runs one batch of `n` images (`n × 784` values in [0, 1]).
    pub fn run(&self, input: &[f32]) -> Result<Outputs> {
        match self {
            Engine::Tract(m) => m.run(input),
            Engine::Onnxruntime(p) => p.run(input),
        }
    }
}

/// onnxruntime sessions, one per worker (a session runs one call at a time here).
pub struct OrtPool {
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
    classes: usize,
    iface: Interface,
    transpose: bool,
}

impl OrtPool {
    fn load(library: &Path, model: &ServedModel, workers: usize) -> Result<OrtPool> {
        if !library.is_file() {
            bail!("no onnxruntime library at `{}`: pass the `libonnxruntime.so` of an onnxruntime install (the PyPI wheel has one in `onnxruntime/capi/`)", library.display());
        }
        let iface = model.interface().clone();
        if iface.opset < 7 {
            bail!(
                "onnxruntime does not run opset {} files (`{}`); serve it with the default engine, tract, which does",
                iface.opset,
                model.path.display()
            );
        }
        let env = environment(library)?;
        let mut sessions = Vec::new();
        for _ in 0..workers.max(1) {
            let s = session(&env, &model.bytes)
                .map_err(|e| anyhow::anyhow!("onnxruntime cannot load `{}`: {e}", model.path.display()))?;
            sessions.push(Mutex::new(s));
        }
        Ok(OrtPool {
            sessions,
            next: AtomicUsize::new(0),
            classes: model.classes(),
            iface,
            transpose: model.options.transpose,
        })
    }

    fn run(&self, input: &[f32]) -> Result<Outputs> {
        run_images(input, self.transpose, self.iface.fixed_batch, self.classes, |x, n| self.run_batch(x, n))
    }

    fn run_batch(&self, input: &[f32], n: usize) -> Result<Outputs> {
        // A free session if there is one, else wait for the next in turn.
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let k = self.sessions.len();
        let mut guard = (0..k).find_map(|i| self.sessions[(start + i) % k].try_lock().ok());
        if guard.is_none() {
            guard = Some(self.sessions[start % k].lock().unwrap_or_else(|e| e.into_inner()));
        }
        let mut session = guard.expect("a session");
        let x = Tensor::from_array((self.iface.layout.dims(n), input.to_vec())).map_err(|e| anyhow::anyhow!("{e}"))?;
        let out = session
            .run(ort::inputs![self.iface.input.as_str() => x])
            .map_err(|e| anyhow::anyhow!("onnxruntime: {e}"))?;
        let read = |name: &str| -> Result<Vec<f32>> {
            let (shape, v) = out[name].try_extract_tensor::<f32>().map_err(|e| anyhow::anyhow!("{e}"))?;
            if shape.len() != 2 || shape[0] as usize != n || shape[1] as usize != self.classes {
                bail!("onnxruntime returned shape {shape:?} for `{name}`, expected [{n}, {}]", self.classes);
            }
            Ok(v.to_vec())
        };
        let (mut logits, mut probabilities) = (None, None);
        for (name, kind) in &self.iface.outputs {
            match kind {
                OutputKind::Logits => logits = Some(read(name)?),
                OutputKind::Probabilities => probabilities = Some(read(name)?),
            }
        }
        Ok(complete(n, self.classes, logits, probabilities))
    }
}

/// onnxruntime allows one environment per process: the first library loaded stays.
fn environment(library: &Path) -> Result<ort::environment::Environment> {
    static ENV: Mutex<Option<(PathBuf, ort::environment::Environment)>> = Mutex::new(None);
    let mut env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((loaded, e)) = env.as_ref() {
        if loaded != library {
            bail!(
                "onnxruntime is already loaded from `{}` in this process; `{}` cannot be loaded too",
                loaded.display(),
                library.display()
            );
        }
        return Ok(e.clone());
    }
    let e = ort::init_from(library)
        .with_context(|| format!("cannot load onnxruntime from `{}`", library.display()))?
        .with_name("emnist")
        .build()
        .context("cannot start onnxruntime")?;
    *env = Some((library.to_path_buf(), e.clone()));
    Ok(e)
}

/// One session on one thread.
fn session(env: &ort::environment::Environment, model: &[u8]) -> Result<Session, String> {
    let b = Session::builder(env).map_err(|e| e.to_string())?;
    let b = b.with_intra_threads(1).map_err(|e| e.to_string())?;
    let mut b = b.with_inter_threads(1).map_err(|e| e.to_string())?;
    b.commit_from_memory(model).map_err(|e| e.to_string())
}

/// The `libonnxruntime.so` of the project's `.venv` (what `make setup` installs), if there is one.
pub fn venv_onnxruntime(root: &Path) -> Option<PathBuf> {
    let lib = root.join(".venv/lib");
    for py in std::fs::read_dir(&lib).ok()?.flatten() {
        let capi = py.path().join("site-packages/onnxruntime/capi");
        if let Ok(files) = std::fs::read_dir(&capi) {
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if name.starts_with("libonnxruntime.so") {
                    return Some(f.path());
                }
            }
        }
    }
    None
}
