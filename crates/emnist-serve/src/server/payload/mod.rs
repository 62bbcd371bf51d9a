//! The payload log of `emnist serve --log-dir DIR`: every sampled request's images as the model
//! saw them, with the answer, written off the hot path, and `POST /feedback` on them.
//!
//! A request frames its records into a bounded queue's buffer under one short lock and goes on;
//! one writer thread (`writer.rs`) owns the [`LogWriter`], drains the queue every 10 ms while
//! entries keep coming (without being woken by each) and flushes after each drain, so a `kill -9`
//! loses at most what was still queued. A full queue drops the entry and counts it
//! (`emnist_payload_log_dropped_total`): requests never wait for the disk. A bounded index of the
//! last logged requests (`index.rs`) lets feedback be checked against what was answered
//! (`feedback.rs`). `DIR/models.json` lists the class names of every model version logged for.

mod feedback;
mod index;
mod writer;

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

pub use feedback::handle as feedback;
pub use index::ModelInfo;
use index::RequestIndex;
use writer::Queue;

use super::defaults;
use super::repo::Catalog;
use emnist_data::payload_log::models::INPUT_U8_28X28;
use emnist_data::payload_log::{read_models, LogModel, LogModels, LogWriter, LogWriterConfig, PredictionRef};
use emnist_data::setting::Setting;
use emnist_data::PIXELS;
use emnist_model::contract::Outputs;

thread_local! {
    /// A request thread's framed records, reused from request to request.
    static FRAMED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The protocol name `/predict` requests are logged under (the others use their metric label).
pub const PREDICT: &str = "predict";
/// Ids longer than this are not logged (the request is answered, its entries dropped as
/// `too_large`): the index keeps ids in memory, and a record must stay small.
pub const MAX_ID_BYTES: usize = 256;

/// Where the log goes and how much of it to keep (`--log-dir`, `--log-sample`, `--log-max-mb`).
#[derive(Debug, Clone)]
pub struct PayloadConfig {
    /// The log folder (created if missing; one server per folder).
    pub dir: PathBuf,
    /// Share of requests logged, in (0, 1]; all images of a sampled request are logged.
    pub sample: f64,
    /// Most bytes the folder's segments may hold; the oldest segments go beyond it.
    pub max_bytes: u64,
    /// Entries the queue holds before new ones are dropped.
    pub queue: usize,
    /// Logged requests the server remembers for feedback.
    pub index: usize,
}

impl PayloadConfig {
    /// The defaults for a log in `dir`.
    pub fn new(dir: PathBuf) -> PayloadConfig {
        PayloadConfig {
            dir,
            sample: defaults::LOG_SAMPLE,
            max_bytes: defaults::LOG_MAX_MB << 20,
            queue: defaults::LOG_QUEUE,
            index: defaults::LOG_INDEX,
        }
    }
}

/// Why an entry was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The queue was full: the writer fell behind.
    QueueFull,
    /// The disk refused it.
    WriteError,
    /// Too large for a record (an id over [`MAX_ID_BYTES`]).
    TooLarge,
    /// The log was already closed (the server is stopping).
    Stopped,
}

impl Dropped {
    const ALL: [Dropped; 4] = [Dropped::QueueFull, Dropped::WriteError, Dropped::TooLarge, Dropped::Stopped];

    fn label(self) -> &'static str {
        match self {
            Dropped::QueueFull => "queue_full",
            Dropped::WriteError => "write_error",
            Dropped::TooLarge => "too_large",
            Dropped::Stopped => "stopped",
        }
    }
}

/// What the log counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    predictions: AtomicU64,
    feedback: AtomicU64,
    dropped: [AtomicU64; 4],
    bytes: AtomicU64,
    segments_removed: AtomicU64,
    corrections: AtomicU64,
    confirmations: AtomicU64,
}

impl Stats {
    fn drop_entries(&self, why: Dropped, n: u64) {
        self.dropped[why as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Entries dropped so far for `why`.
    pub fn dropped(&self, why: Dropped) -> u64 {
        self.dropped[why as usize].load(Ordering::Relaxed)
    }

    /// Predictions written so far.
    pub fn predictions(&self) -> u64 {
        self.predictions.load(Ordering::Relaxed)
    }

    /// Feedback written so far.
    pub fn feedback(&self) -> u64 {
        self.feedback.load(Ordering::Relaxed)
    }
}

/// The log of one server: the queue's sending end, the writer thread, the index, the models.
pub struct PayloadLog {
    dir: PathBuf,
    queue: Arc<Queue>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// A request is sampled when its draw is below this; `None`: every request is.
    sample_below: Option<u64>,
    draws: AtomicU64,
    stats: Arc<Stats>,
    index: Mutex<RequestIndex>,
    models: Mutex<Registry>,
}

/// The model versions logged for: `models.json`'s document.
#[derive(Default)]
struct Registry {
    doc: LogModels,
    /// `models.json` is behind the document (a write failed): the next change retries.
    dirty: bool,
}

impl PayloadLog {
    /// Opens `cfg.dir` (its lock taken, a killed writer's segment closed) and starts the writer
    /// thread. A folder already holding `models.json` keeps its entries.
    pub fn open(cfg: &PayloadConfig) -> Result<PayloadLog> {
        let writer = LogWriter::open(LogWriterConfig::new(cfg.dir.clone(), cfg.max_bytes))
            .with_context(|| format!("cannot keep the payload log ({})", Setting::LogDir))?;
        let doc = match read_models(&cfg.dir) {
            Ok(doc) => doc.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "starting a new model list in the log folder");
                LogModels::default()
            }
        };
        let stats = Arc::new(Stats::default());
        let queue = Queue::new(cfg.queue);
        let thread = writer::start(writer, queue.clone(), stats.clone())?;
        let sample_below = (cfg.sample < 1.0).then(|| (cfg.sample.max(0.0) * 2f64.powi(64)) as u64);
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish();
        Ok(PayloadLog {
            dir: cfg.dir.clone(),
            queue,
            writer: Mutex::new(Some(thread)),
            sample_below,
            draws: AtomicU64::new(seed),
            stats,
            index: Mutex::new(RequestIndex::new(cfg.index)),
            models: Mutex::new(Registry { doc, ..Default::default() }),
        })
    }

    /// The log folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// What the log counted so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether this request is logged (`--log-sample`): one draw per request.
    pub fn sampled(&self) -> bool {
        let Some(below) = self.sample_below else { return true };
        // splitmix64 over a shared counter: lock-free, uniform, one atomic add per request.
        let mut z = self.draws.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) < below
    }

    /// Logs one request `model` answered: each image (`pixels`: `out.n` images of 784 bytes, as
    /// the model saw them) with its predicted class and top 3, under `id`. Never waits on the
    /// disk: entries that find the queue full are dropped and counted.
    pub fn record(&self, id: &str, protocol: &'static str, model: &Arc<ModelInfo>, pixels: &[u8], out: &Outputs) {
        let n = out.n;
        if id.len() > MAX_ID_BYTES || id.is_empty() {
            self.stats.drop_entries(Dropped::TooLarge, n as u64);
            return;
        }
        let time_ms = now_ms();
        let mut predicted = smallvec::SmallVec::<[u32; 8]>::with_capacity(n);
        let queued = FRAMED.with_borrow_mut(|framed| {
            // Framed here, outside the queue's lock (a 128-image request frames 128 records).
            framed.clear();
            for i in 0..n {
                let row = &out.probabilities[i * out.classes..(i + 1) * out.classes];
                let top = top_three(row);
                let top = top.as_slice();
                predicted.push(top[0] as u32);
                let names: [std::borrow::Cow<'_, str>; 3] =
                    std::array::from_fn(|j| model.class(top[j.min(top.len() - 1)]));
                let named: [(&str, f32); 3] =
                    std::array::from_fn(|j| (names[j].as_ref(), row[top[j.min(top.len() - 1)]]));
                PredictionRef {
                    id,
                    index: i as u32,
                    time_ms,
                    model: &model.name,
                    version: model.version,
                    protocol,
                    class: &names[0],
                    top: &named[..top.len()],
                    pixels: &pixels[i * PIXELS..(i + 1) * PIXELS],
                }
                .encode_into(framed);
            }
            let (queued, refused) = self.queue.push(framed, n);
            if let Some(why) = refused {
                self.stats.drop_entries(why, (n - queued) as u64);
            }
            queued
        });
        if queued > 0 {
            self.index.lock().unwrap_or_else(|e| e.into_inner()).insert(id, model, &predicted);
        }
    }

    /// Lists every version of `catalog` in `models.json` (written atomically, only when it
    /// changes): at start and after each reload.
    pub fn note_models(&self, catalog: &Catalog) -> Result<()> {
        let mut reg = self.models.lock().unwrap_or_else(|e| e.into_inner());
        let mut changed = false;
        for v in catalog.versions() {
            let entry = LogModel {
                name: v.name.clone(),
                version: v.number,
                sha256: Some(v.model.sha256.clone()).filter(|s| !s.is_empty()),
                classes: v.model.class_names.clone(),
                input: INPUT_U8_28X28.into(),
            };
            changed |= reg.doc.insert(entry);
        }
        if !(changed || reg.dirty) {
            return Ok(());
        }
        reg.dirty = true;
        reg.doc.write(&self.dir).context("cannot write the payload log's model list")?;
        reg.dirty = false;
        Ok(())
    }

    /// Feedback counted by this server so far: (corrections, confirmations).
    pub fn feedback_counts(&self) -> (u64, u64) {
        (self.stats.corrections.load(Ordering::Relaxed), self.stats.confirmations.load(Ordering::Relaxed))
    }

    /// Writes what is queued, closes the open segment, and stops the writer thread: the clean
    /// stop. Entries recorded afterwards are dropped as `stopped`.
    pub fn close(&self) {
        let Some(thread) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
        self.queue.close(thread);
    }

    /// The Prometheus lines of the log.
    pub fn render_metrics(&self, out: &mut String) {
        let s = &self.stats;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str(
            "# HELP emnist_payload_log_entries_total Records written to the payload log (--log-dir), by kind.\n",
        );
        out.push_str("# TYPE emnist_payload_log_entries_total counter\n");
        let _ = writeln!(out, "emnist_payload_log_entries_total{{kind=\"prediction\"}} {}", load(&s.predictions));
        let _ = writeln!(out, "emnist_payload_log_entries_total{{kind=\"feedback\"}} {}", load(&s.feedback));
        out.push_str("# HELP emnist_payload_log_dropped_total Records not written, by reason (queue_full: the writer fell behind and requests do not wait).\n");
        out.push_str("# TYPE emnist_payload_log_dropped_total counter\n");
        for why in Dropped::ALL {
            let _ = writeln!(out, "emnist_payload_log_dropped_total{{reason=\"{}\"}} {}", why.label(), s.dropped(why));
        }
        out.push_str("# HELP emnist_payload_log_bytes Bytes the log folder's segments hold.\n");
        out.push_str("# TYPE emnist_payload_log_bytes gauge\n");
        let _ = writeln!(out, "emnist_payload_log_bytes {}", load(&s.bytes));
        out.push_str(
            "# HELP emnist_payload_log_segments_removed_total Oldest segments removed to stay under --log-max-mb.\n",
        );
        out.push_str("# TYPE emnist_payload_log_segments_removed_total counter\n");
        let _ = writeln!(out, "emnist_payload_log_segments_removed_total {}", load(&s.segments_removed));
        out.push_str("# HELP emnist_feedback_total Feedback recorded (POST /feedback), by verdict.\n");
        out.push_str("# TYPE emnist_feedback_total counter\n");
        let _ = writeln!(out, "emnist_feedback_total{{verdict=\"correction\"}} {}", load(&s.corrections));
        let _ = writeln!(out, "emnist_feedback_total{{verdict=\"confirmation\"}} {}", load(&s.confirmations));
    }

    /// Holds the writer until the returned sender is dropped or sent on; the queue fills
    /// meanwhile (tests).
    #[cfg(test)]
    fn hold_writer(&self) -> std::sync::mpsc::Sender<()> {
        self.queue.hold()
    }
}

impl Drop for PayloadLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// The three likeliest classes of a row of probabilities, likeliest first (the lower index first
/// on ties, in `f32::total_cmp`'s order); fewer for a model of fewer classes. One comparison per
/// class for most of them (those below the third).
fn top_three(row: &[f32]) -> TopThree {
    // `total_cmp`'s order as integers: flip the magnitude bits of negative numbers.
    let key = |p: f32| {
        let b = p.to_bits() as i32;
        b ^ (((b >> 31) as u32) >> 1) as i32
    };
    let mut best = TopThree { classes: [0; 3], len: 0 };
    let mut keys = [i32::MIN; 3];
    for (i, &p) in row.iter().enumerate() {
        let k = key(p);
        if best.len == 3 && k <= keys[2] {
            continue;
        }
        // Strictly greater moves past: an equal later class stays behind the earlier one.
        let at = keys[..best.len].iter().position(|&b| k > b).unwrap_or(best.len);
        best.len = (best.len + 1).min(3);
        keys.copy_within(at..best.len - 1, at + 1);
        best.classes.copy_within(at..best.len - 1, at + 1);
        keys[at] = k;
        best.classes[at] = i;
    }
    best
}

/// Up to three class indices, likeliest first, without an allocation.
#[derive(Debug, Clone, Copy)]
struct TopThree {
    classes: [usize; 3],
    len: usize,
}

impl TopThree {
    fn as_slice(&self) -> &[usize] {
        &self.classes[..self.len]
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests;
