//! Dynamic batching: requests queue their images; one task coalesces what arrives within
//! `--batch-timeout-us` (and whatever queued while every worker was busy) into one model call
//! of at most `--max-batch` images, run on a blocking worker, and hands each request its rows.

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

/// The handle requests use; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<Job>,
}

impl Batcher {
    /// Starts the batching task on the current tokio runtime.
    pub fn start(model: Arc<Engine>, cfg: BatchConfig, metrics: Arc<Metrics>) -> Batcher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, model, cfg, metrics));
        Batcher { tx }
    }

    /// Runs `images` through the model, batched with whatever else is waiting. Dropping the
    /// future before it resolves withdraws the images: a model call that has not started leaves
    /// them out.
    pub async fn infer(&self, images: Images) -> Result<Outputs, BatchError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job { images, reply }).map_err(|_| BatchError::Unavailable)?;
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
}

async fn run(mut rx: mpsc::UnboundedReceiver<Job>, model: Arc<Engine>, cfg: BatchConfig, metrics: Arc<Metrics>) {
    let workers = Arc::new(Semaphore::new(cfg.workers.max(1)));
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
        let model = model.clone();
        let metrics = metrics.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            run_batch(&model, jobs, rows, &metrics);
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
        model.run(&jobs[0].images.pixels)
    } else {
        let mut pixels = Vec::with_capacity(rows * emnist_data::PIXELS);
        for j in &jobs {
            pixels.extend_from_slice(&j.images.pixels);
        }
        model.run(&pixels)
    };
    metrics.batch(rows);
    match result {
        Ok(out) => {
            let mut row = 0;
            for j in jobs {
                let n = j.images.n;
                let _ = j.reply.send(Ok(out.rows(row, n)));
                row += n;
            }
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), rows, "model call failed");
            for j in jobs {
                let _ = j.reply.send(Err(BatchError::Failed(format!("{e:#}"))));
            }
        }
    }
}
