//! The engines `emnist serve` can run an exported file with: tract (pure Rust) or onnxruntime,
//! loaded at run time from a `libonnxruntime.so` (the PyPI wheel ships one in
//! `onnxruntime/capi/`) through the `ort` crate's `load-dynamic`: nothing native is linked, so
//! every build has both, and only onnxruntime needs the library. `auto` (the default) times both
//! on each model at load and keeps the faster.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use ort::session::Session;
use ort::value::TensorRef;

use super::classifier::Interface;
use super::tract::{complete, run_images};
use super::ServedModel;
use emnist_data::setting::Setting;
use emnist_model::contract::{OutputKind, Outputs};

/// Which engine runs the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineKind {
    Tract,
    /// onnxruntime from this shared library.
    Onnxruntime {
        library: PathBuf,
    },
    /// For each model, the faster of tract and onnxruntime by a short timed trial at load
    /// ([`Trial`]); tract alone when there is no onnxruntime `library` or it cannot run the file.
    Auto {
        library: Option<PathBuf>,
    },
}

impl EngineKind {
    /// The default (`--engine auto`): onnxruntime's library looked up as [`find_onnxruntime`]
    /// does (beside the executable first), tract alone where there is none.
    pub fn auto() -> EngineKind {
        EngineKind::Auto { library: find_onnxruntime().map(|(path, _)| path) }
    }
}

/// The engine that runs a loaded model, as logs, metadata and the ready file name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineName {
    Tract,
    Onnxruntime,
}

impl EngineName {
    /// `tract` or `onnxruntime`.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineName::Tract => "tract",
            EngineName::Onnxruntime => "onnxruntime",
        }
    }
}

impl std::fmt::Display for EngineName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `--engine auto` measured on one model: the best microseconds per call, one image and a
/// batch of [`TRIAL_BATCH`], each engine on one thread, the two interleaved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trial {
    pub tract_us: [f64; 2],
    pub onnxruntime_us: [f64; 2],
}

/// The batch of the trial's second measurement (what dynamic batching builds under load).
pub const TRIAL_BATCH: usize = 128;

impl Trial {
    /// onnxruntime's time relative to tract's, the geometric mean of the two batch sizes (so that
    /// light load, one image per call, and heavy load, full batches, weigh alike); below 1:
    /// onnxruntime is faster.
    pub fn onnxruntime_relative(&self) -> f64 {
        let r1 = self.onnxruntime_us[0] / self.tract_us[0].max(1e-3);
        let rb = self.onnxruntime_us[1] / self.tract_us[1].max(1e-3);
        (r1 * rb).sqrt()
    }

    /// The engine to keep.
    pub fn choice(&self) -> EngineName {
        if self.onnxruntime_relative() < 1.0 {
            EngineName::Onnxruntime
        } else {
            EngineName::Tract
        }
    }
}

/// Times `tract` and `onnxruntime` on the same pseudo-random images (deterministic), after a
/// warm-up call of each size. Each engine's figure is its best call: other work on the machine
/// only ever adds time, and a burst of it (neighbours starting beside a server) can slow a few
/// calls of one engine and not the other's: a median once gave onnxruntime 9.1 ms per batch
/// against tract's 1.9 ms (it takes about 1.6 ms) and kept the slower engine
/// (bench/RESULTS.md). A size stops early, after three calls of each engine, once one's best is
/// more than twice as fast as the other's: more calls would not change the choice, and start-up
/// (of every version a repository loads) waits for the trial.
pub fn trial(tract: &Engine, onnxruntime: &Engine) -> Result<Trial> {
    let images = |n: usize, seed: u64| -> Vec<f32> {
        let mut rng = emnist_data::rng::Rng::derive(0x7a1a1, seed, n as u64);
        (0..n * emnist_model::contract::PIXELS).map(|_| rng.uniform()).collect()
    };
    let (one, many) = (images(1, 1), images(TRIAL_BATCH, 2));
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let mut times: [[Vec<f64>; 2]; 2] = Default::default();
    for (size, x, reps) in [(0, &one, 25), (1, &many, 7)] {
        for engine in [tract, onnxruntime] {
            engine.run(x)?;
        }
        for rep in 0..reps {
            for (e, engine) in [tract, onnxruntime].into_iter().enumerate() {
                let t0 = std::time::Instant::now();
                engine.run(x)?;
                times[e][size].push(t0.elapsed().as_secs_f64() * 1e6);
            }
            let ratio = best(&times[1][size]) / best(&times[0][size]).max(1e-3);
            if rep >= 2 && !(0.5..=2.0).contains(&ratio) {
                break;
            }
        }
    }
    let [[t1, tb], [o1, ob]] = &times;
    Ok(Trial { tract_us: [best(t1), best(tb)], onnxruntime_us: [best(o1), best(ob)] })
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
            EngineKind::Auto { library } => Ok(Engine::auto(library.as_deref(), model, workers)?.0),
        }
    }

    /// `--engine auto`: the engine kept for `model`, and the trial that chose it (none when only
    /// tract could run it; the log says why).
    pub fn auto(library: Option<&Path>, model: &ServedModel, workers: usize) -> Result<(Engine, Option<Trial>)> {
        let file = model.path.display().to_string();
        let tract = Engine::Tract(model.model.clone());
        let Some(library) = library else {
            tracing::warn!(
                %file,
                "{:#}: no onnxruntime library beside the executable, in the project's .venv or on the \
                 system's library path: serving with tract, which may be slower; put libonnxruntime.so beside \
                 the executable (`make build` does) or pass {}",
                Setting::Engine.given("auto"),
                Setting::OnnxruntimeLib
            );
            return Ok((tract, None));
        };
        let ort = match OrtPool::load(library, model, workers) {
            Ok(p) => Engine::Onnxruntime(p),
            Err(e) => {
                tracing::warn!(
                    %file,
                    reason = %format!("{e:#}"),
                    "{:#}: onnxruntime cannot run this file: tract",
                    Setting::Engine.given("auto")
                );
                return Ok((tract, None));
            }
        };
        let t = trial(&tract, &ort)?;
        tracing::info!(
            %file,
            tract_us_1 = t.tract_us[0], onnxruntime_us_1 = t.onnxruntime_us[0],
            tract_us_batch = t.tract_us[1], onnxruntime_us_batch = t.onnxruntime_us[1],
            onnxruntime_relative = t.onnxruntime_relative(),
            chosen = t.choice().as_str(),
            "{:#}: timed both engines",
            Setting::Engine.given("auto")
        );
        Ok((if t.choice() == EngineName::Onnxruntime { ort } else { tract }, Some(t)))
    }

    /// The engine's name, for logs and metadata.
    pub fn name(&self) -> EngineName {
        match self {
            Engine::Tract(_) => EngineName::Tract,
            Engine::Onnxruntime(_) => EngineName::Onnxruntime,
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
        self.run_as(input, false)
    }

    /// Calls that used every core (onnxruntime's wide session) so far.
    pub fn wide_calls(&self) -> usize {
        match self {
            Engine::Tract(_) => 0,
            Engine::Onnxruntime(p) => p.wide_calls.load(Ordering::Relaxed),
        }
    }

    /// [`Engine::run`], for the only request the caller has when `alone`: a large batch may then
    /// use every core (onnxruntime's wide session, when no other call is running).
    pub fn run_as(&self, input: &[f32], alone: bool) -> Result<Outputs> {
        match self {
            Engine::Tract(m) => m.run(input),
            Engine::Onnxruntime(p) => p.run(input, alone),
        }
    }
}

/// onnxruntime sessions, one per worker (a session runs one call at a time here), and on a
/// machine of several cores one more whose calls use all of them: a large batch takes it when no
/// other call is running, so that one big request alone is not held to one core.
pub struct OrtPool {
    sessions: Vec<Mutex<Session>>,
    wide: Option<Mutex<Session>>,
    /// Calls running now.
    running: AtomicUsize,
    /// Calls the wide session ran.
    wide_calls: AtomicUsize,
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
                "onnxruntime does not run opset {} files (`{}`); serve it with {} (or `auto`, which then keeps tract)",
                iface.opset,
                model.path.display(),
                Setting::Engine.given("tract")
            );
        }
        let env = environment(library)?;
        let mut sessions = Vec::new();
        for _ in 0..workers.max(1) {
            let s = session(&env, &model.bytes)
                .map_err(|e| anyhow::anyhow!("onnxruntime cannot load `{}`: {e}", model.path.display()))?;
            sessions.push(Mutex::new(s));
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let wide = if cores > 1 {
            Some(Mutex::new(
                session_of(&env, &model.bytes, cores)
                    .map_err(|e| anyhow::anyhow!("onnxruntime cannot load `{}`: {e}", model.path.display()))?,
            ))
        } else {
            None
        };
        Ok(OrtPool {
            sessions,
            wide,
            running: AtomicUsize::new(0),
            wide_calls: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            classes: model.classes(),
            iface,
            transpose: model.options.transpose,
        })
    }

    fn run(&self, input: &[f32], alone: bool) -> Result<Outputs> {
        run_images(input, self.transpose, self.iface.fixed_batch, self.classes, |x, n| self.run_batch(x, n, alone))
    }

    fn run_batch(&self, input: &[f32], n: usize, alone: bool) -> Result<Outputs> {
        let running = Running::start(&self.running);
        // A large batch of the caller's only request, no other call running: the session that
        // uses every core. (Under load the cores are busy with other requests: more threads for
        // one call would only take them away, measured in bench/RESULTS.md.)
        let wide = self
            .wide
            .as_ref()
            .filter(|_| alone && n >= WIDE_BATCH && running.others == 0)
            .and_then(|w| w.try_lock().ok());
        // Else a free session if there is one, else wait for the next in turn.
        let mut session = match wide {
            Some(w) => {
                self.wide_calls.fetch_add(1, Ordering::Relaxed);
                w
            }
            None => {
                let start = self.next.fetch_add(1, Ordering::Relaxed);
                let k = self.sessions.len();
                match (0..k).find_map(|i| self.sessions[(start + i) % k].try_lock().ok()) {
                    Some(s) => s,
                    None => self.sessions[start % k].lock().unwrap_or_else(|e| e.into_inner()),
                }
            }
        };
        // A view of the caller's pixels (a 128-image batch is 400 KB: no copy of it).
        let x = TensorRef::from_array_view((self.iface.layout.dims(n), input)).map_err(|e| anyhow::anyhow!("{e}"))?;
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
    session_of(env, model, 1)
}

/// A session whose calls use `threads` threads (the caller's and `threads - 1` of its own, which
/// sleep between calls instead of spinning: a spinning pool would take the cores from the
/// server's other work).
fn session_of(env: &ort::environment::Environment, model: &[u8], threads: usize) -> Result<Session, String> {
    let b = Session::builder(env).map_err(|e| e.to_string())?;
    let b = b.with_intra_threads(threads).map_err(|e| e.to_string())?;
    let b = b.with_intra_op_spinning(false).map_err(|e| e.to_string())?;
    let mut b = b.with_inter_threads(1).map_err(|e| e.to_string())?;
    b.commit_from_memory(model).map_err(|e| e.to_string())
}

/// Batches of at least this many images may take the wide session (smaller ones gain less from
/// more threads than the threads cost).
pub const WIDE_BATCH: usize = 32;

/// One call counted in [`OrtPool::running`] while it lasts.
struct Running<'a> {
    count: &'a AtomicUsize,
    /// Calls that were running when this one started.
    others: usize,
}

impl<'a> Running<'a> {
    fn start(count: &'a AtomicUsize) -> Running<'a> {
        Running { others: count.fetch_add(1, Ordering::AcqRel), count }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where [`find_onnxruntime`] found an onnxruntime library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibraryPlace {
    /// In the executable's own folder, or `../lib` beside it (`make build` and the serving image
    /// install it there).
    BesideExecutable,
    /// In the `.venv` of the project the executable sits in (`target/{debug,release}/`), as
    /// `make setup` installs it.
    ProjectVenv,
    /// In a folder of `LD_LIBRARY_PATH` or a standard library folder.
    SystemPath,
}

impl LibraryPlace {
    /// How the serve log and `emnist --version` say it.
    pub fn describe(self) -> &'static str {
        match self {
            LibraryPlace::BesideExecutable => "beside the executable",
            LibraryPlace::ProjectVenv => "in the project's .venv",
            LibraryPlace::SystemPath => "on the system's library path",
        }
    }
}

/// The onnxruntime library `--engine auto` and `onnxruntime` use when none is named: beside the
/// executable first, then the `.venv` of the project it was built in, then the system's library
/// folders. Never looked up from the current directory: the same binary finds the same library
/// wherever it is started from.
pub fn find_onnxruntime() -> Option<(PathBuf, LibraryPlace)> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let beside = [dir.to_path_buf(), dir.join("../lib")];
    if let Some(p) = beside.iter().find_map(|d| library_in(d)) {
        return Some((p, LibraryPlace::BesideExecutable));
    }
    // target/{debug,release}/emnist → the project root two folders up.
    if let Some(p) = dir.ancestors().skip(1).take(2).find_map(venv_onnxruntime) {
        return Some((p, LibraryPlace::ProjectVenv));
    }
    let ld_path = std::env::var_os("LD_LIBRARY_PATH").unwrap_or_default();
    let standard = ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib"];
    std::env::split_paths(&ld_path)
        .chain(standard.iter().map(PathBuf::from))
        .find_map(|d| library_in(&d))
        .map(|p| (p, LibraryPlace::SystemPath))
}

/// `libonnxruntime.so` (or a versioned `libonnxruntime.so.1.x.y`) in `dir`, if there is one.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let plain = dir.join("libonnxruntime.so");
    if plain.is_file() {
        return Some(plain);
    }
    let mut versioned: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().starts_with("libonnxruntime.so."))
        .map(|f| f.path())
        .filter(|p| p.is_file())
        .collect();
    versioned.sort();
    versioned.pop()
}

/// The `libonnxruntime.so` of a project's `.venv` under `root` (what `make setup` installs), if
/// there is one.
pub fn venv_onnxruntime(root: &Path) -> Option<PathBuf> {
    let lib = root.join(".venv/lib");
    std::fs::read_dir(&lib).ok()?.flatten().find_map(|py| library_in(&py.path().join("site-packages/onnxruntime/capi")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_is_found_by_its_plain_or_versioned_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(library_in(dir.path()), None);
        std::fs::write(dir.path().join("libonnxruntime.so.1.20.1"), b"").unwrap();
        std::fs::write(dir.path().join("libonnxruntime.so.1.22.0"), b"").unwrap();
        std::fs::create_dir(dir.path().join("libonnxruntime.so.9")).unwrap();
        assert_eq!(library_in(dir.path()), Some(dir.path().join("libonnxruntime.so.1.22.0")), "the newest file");
        std::fs::write(dir.path().join("libonnxruntime.so"), b"").unwrap();
        assert_eq!(library_in(dir.path()), Some(dir.path().join("libonnxruntime.so")));
    }

    #[test]
    fn auto_keeps_the_engine_faster_over_both_batch_sizes() {
        let t = |o1, ob| Trial { tract_us: [100.0, 10_000.0], onnxruntime_us: [o1, ob] };
        assert_eq!(t(50.0, 5_000.0).choice(), EngineName::Onnxruntime);
        assert_eq!(t(150.0, 15_000.0).choice(), EngineName::Tract);
        // Twice as fast on one image, 1.5× slower on full batches: √(0.5 × 1.5) < 1.
        assert!((t(50.0, 15_000.0).onnxruntime_relative() - 0.75f64.sqrt()).abs() < 1e-12);
        assert_eq!(t(50.0, 15_000.0).choice(), EngineName::Onnxruntime);
        // A tie keeps tract (no library needed).
        assert_eq!(t(100.0, 10_000.0).choice(), EngineName::Tract);
    }
}
