//! Dynamic batching: requests queue their images; one task coalesces what arrives within
//! `--batch-timeout-us` (and whatever queued while every worker was busy) into one model call
//! of at most `--max-batch` images, run on a blocking worker, and hands each request its rows.
//!
//! A lone small request (the only one the server is handling, nothing queued, the batcher's last
//! batch a single request's, no batch timeout set) is run on the thread that received it: the
//! hand-offs to the batching task, the blocking pool and back cost a one-image request more than
//! the model call itself. Under concurrent load requests keep going to the batcher, whose batches
//! cost less per image than a call each (run inline whenever the model was idle, one-image KServe
//! JSON at 32 connections lost 17 % of its requests/s).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

use super::metrics::Metrics;
use crate::protocol::tensor::Images;
use emnist_model::contract::Outputs;
use emnist_runtime::Engine;

/// How batches form.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Most images in one model call (a larger request runs alone, whole).
    pub max_batch: usize,
    /// How long the first request of a batch waits for company; zero batches only what queued.
    pub timeout: Duration,
    /// Model calls that may run at once.
    pub workers: usize,
}

struct Job {
    images: Images,
    /// The only request the server was handling when it came (a large one may then use every
    /// core in the engine).
    lone: bool,
    reply: oneshot::Sender<Result<Outputs, BatchError>>,
}

/// Why a request got no outputs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BatchError {
    /// The batching task is gone: the server cannot run the model any more.
    #[error("the server cannot run the model now (it is shutting down or its model worker stopped); retry on another instance")]
    Unavailable,
    /// The model call failed.
    #[error("inference failed: {0}")]
    Failed(String),
}

/// Requests of at most this many images may run on the thread that received them (a one-image
/// DNN call takes about 40 µs; body decoding of up to 2 MiB already runs there).
pub const INLINE_MAX_IMAGES: usize = 8;

/// The handle requests use; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<Job>,
    shared: Arc<Inline>,
}

/// What a request needs to run the model itself.
struct Inline {
    model: Arc<Engine>,
    /// The model workers (`BatchConfig::workers` permits), shared with the batching task.
    workers: Arc<Semaphore>,
    /// Jobs sent to the batching task and not yet handed to a model call (or given up).
    queued: AtomicUsize,
    /// Requests in the batching task's last model call: more than one means requests are
    /// arriving together, and the next lone one is batched too.
    last_jobs: AtomicUsize,
    /// Whether requests may run inline at all (not with a batch timeout: waiting for company
    /// was asked for).
    enabled: bool,
    metrics: Arc<Metrics>,
}

impl Batcher {
    /// Starts the batching task on the current tokio runtime.
    pub fn start(model: Arc<Engine>, cfg: BatchConfig, metrics: Arc<Metrics>) -> Batcher {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Inline {
            model,
            workers: Arc::new(Semaphore::new(cfg.workers.max(1))),
            queued: AtomicUsize::new(0),
            last_jobs: AtomicUsize::new(1),
            enabled: cfg.timeout.is_zero(),
            metrics,
        });
        tokio::spawn(run(rx, shared.clone(), cfg));
        Batcher { tx, shared }
    }

    /// Runs `images` through the model, batched with whatever else is waiting; `lone`: this is
    /// the only request the server is handling now. Dropping the future before it resolves
    /// withdraws the images: a model call that has not started leaves them out.
    pub async fn infer(&self, images: Images, lone: bool) -> Result<Outputs, BatchError> {
        if let Some(done) = lone.then(|| self.try_inline(&images)).flatten() {
            return done;
        }
        let (reply, rx) = oneshot::channel();
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(Job { images, lone, reply }).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(BatchError::Unavailable);
        }
        // The batching task gone with the request queued (the server stopping) is a 503; a model
        // call that died under a request (a worker panicked) is a 500.
        rx.await.map_err(|_| {
            if self.tx.is_closed() {
                BatchError::Unavailable
            } else {
                BatchError::Failed("the model call was lost (a worker stopped)".into())
            }
        })?
    }

    /// Whether the batching task still takes requests.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Runs a lone small request here and now when nothing is queued, the last batch was one
    /// request's and a model worker is free; `None` sends it to the batching task.
    fn try_inline(&self, images: &Images) -> Option<Result<Outputs, BatchError>> {
        let s = &*self.shared;
        if !s.enabled
            || images.n > INLINE_MAX_IMAGES
            || s.queued.load(Ordering::Acquire) > 0
            || s.last_jobs.load(Ordering::Relaxed) > 1
            || !self.is_running()
        {
            return None;
        }
        let _permit = s.workers.try_acquire().ok()?;
        let result = catch_unwind(AssertUnwindSafe(|| s.model.run(&images.pixels)));
        s.metrics.batch(images.n);
        Some(match result {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(call_failed(&e, images.n)),
            Err(_) => {
                tracing::error!(rows = images.n, "the model call panicked");
                Err(BatchError::Failed("the model call was lost (it panicked)".into()))
            }
        })
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Job>, shared: Arc<Inline>, cfg: BatchConfig) {
    let workers = shared.workers.clone();
    let metrics = &shared.metrics;
    let max = cfg.max_batch.max(1);
    let mut pending: Option<Job> = None;
    loop {
        let first = match pending.take() {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => break,
            },
        };
        let mut rows = first.images.n;
        let mut jobs = vec![first];
        let deadline = Instant::now() + cfg.timeout;
        while rows < max && pending.is_none() {
            let next = if cfg.timeout.is_zero() {
                rx.try_recv().ok()
            } else {
                tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten()
            };
            match next {
                Some(j) => add(&mut jobs, &mut rows, &mut pending, j, max),
                None => break,
            }
        }
        let Ok(permit) = workers.clone().acquire_owned().await else { break };
        // Whatever queued while every worker was busy joins this batch.
        while rows < max && pending.is_none() {
            match rx.try_recv() {
                Ok(j) => add(&mut jobs, &mut rows, &mut pending, j, max),
                Err(_) => break,
            }
        }
        // These jobs are now the batch's (or given up): not queued any more.
        shared.queued.fetch_sub(jobs.len(), Ordering::AcqRel);
        // Requests that went away while queued (timed out, client gone) are not run.
        let before = jobs.len();
        jobs.retain(|j| !j.reply.is_closed());
        if jobs.len() < before {
            let kept: usize = jobs.iter().map(|j| j.images.n).sum();
            metrics.abandoned(rows - kept);
            rows = kept;
        }
        if jobs.is_empty() {
            continue;
        }
        shared.last_jobs.store(jobs.len(), Ordering::Relaxed);
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            run_batch(&shared.model, jobs, rows, &shared.metrics);
        });
    }
}

fn add(jobs: &mut Vec<Job>, rows: &mut usize, pending: &mut Option<Job>, j: Job, max: usize) {
    if *rows + j.images.n > max {
        *pending = Some(j);
    } else {
        *rows += j.images.n;
        jobs.push(j);
    }
}

/// One model call for all `jobs`; each gets its own rows back.
fn run_batch(model: &Engine, jobs: Vec<Job>, rows: usize, metrics: &Metrics) {
    let result = if jobs.len() == 1 {
        model.run_as(&jobs[0].images.pixels, jobs[0].lone)
    } else {
        let mut pixels = Vec::with_capacity(rows * emnist_data::PIXELS);
        for j in &jobs {
            pixels.extend_from_slice(&j.images.pixels);
        }
        model.run(&pixels)
    };
    metrics.batch(rows);
    match result {
        Ok(out) if jobs.len() == 1 => {
            let _ = jobs.into_iter().next().expect("one job").reply.send(Ok(out));
        }
        Ok(out) => {
            let mut row = 0;
            for j in jobs {
                let n = j.images.n;
                let _ = j.reply.send(Ok(out.rows(row, n)));
                row += n;
            }
        }
        Err(e) => {
            let failed = call_failed(&e, rows);
            for j in jobs {
                let _ = j.reply.send(Err(failed.clone()));
            }
        }
    }
}

/// Logs a failed model call of `rows` images; the error each of its requests gets.
fn call_failed(e: &anyhow::Error, rows: usize) -> BatchError {
    tracing::error!(error = %format!("{e:#}"), rows, "model call failed");
    BatchError::Failed(format!("{e:#}"))
}
