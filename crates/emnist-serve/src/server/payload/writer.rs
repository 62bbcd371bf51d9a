//! The writer thread: it owns the [`LogWriter`], appends what is queued and flushes after each
//! drain of the queue (and every [`FLUSH_EVERY`] entries within one), so a `kill -9` loses at most
//! what is still queued.
//!
//! While entries keep coming, it drains the queue once every [`TICK`] and sleeps in between:
//! requests then hand their entries over without waking it (a system call each, and a thread
//! switch, on a machine whose cores serve requests), and the log is written in large writes. Once
//! a drain finds the queue empty, it waits on the queue again, and the first entry wakes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Dropped, Stats};
use emnist_data::payload_log::{Entry, LogWriter};

/// Entries appended between two flushes within one drain.
const FLUSH_EVERY: usize = 1024;

/// How long the writer sleeps between drains while entries keep coming: what a `kill -9` may
/// lose beyond the queue, and how late a close is seen.
pub const TICK: Duration = Duration::from_millis(10);

/// What the queue carries.
pub enum Msg {
    Entry(Entry),
    /// A prediction record already framed on the request's thread ([`emnist_data::payload_log::PredictionRef`]).
    Prediction(Vec<u8>),
    /// Write what came before, close the segment, answer, and stop.
    Close(Sender<()>),
    /// Say so on the first sender, then wait on the receiver (tests: a writer that falls behind).
    #[cfg(test)]
    Hold(Sender<()>, Receiver<()>),
}

/// Starts the thread.
pub fn start(writer: LogWriter, rx: Receiver<Msg>, stats: Arc<Stats>) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("emnist-payload-log".into())
        .spawn(move || run(writer, rx, &stats))
        .context("cannot start the payload log's writer thread")
}

fn run(mut writer: LogWriter, rx: Receiver<Msg>, stats: &Stats) {
    let mut errors = 0u64;
    let mut closed_by = None;
    // Idle: wait for the first entry. Busy: drain, flush, sleep a tick, drain again.
    'queue: while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        loop {
            let mut since_flush = 0;
            let mut drained = 0usize;
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Entry(entry) => {
                        let counter = match entry {
                            Entry::Prediction(_) => &stats.predictions,
                            Entry::Feedback(_) => &stats.feedback,
                        };
                        append(&mut writer, &entry.encode(), counter, stats, &mut errors);
                        since_flush += 1;
                        drained += 1;
                    }
                    Msg::Prediction(bytes) => {
                        append(&mut writer, &bytes, &stats.predictions, stats, &mut errors);
                        since_flush += 1;
                        drained += 1;
                    }
                    Msg::Close(ack) => {
                        flush(&mut writer, stats, &mut errors);
                        closed_by = Some(ack);
                        break 'queue;
                    }
                    #[cfg(test)]
                    Msg::Hold(held, release) => {
                        let _ = held.send(());
                        let _ = release.recv();
                    }
                }
                if since_flush >= FLUSH_EVERY {
                    flush(&mut writer, stats, &mut errors);
                    since_flush = 0;
                }
                next = match rx.try_recv() {
                    Ok(msg) => Some(msg),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => {
                        flush(&mut writer, stats, &mut errors);
                        break 'queue;
                    }
                };
            }
            flush(&mut writer, stats, &mut errors);
            if drained == 0 {
                // The tick brought nothing: back to waiting on the queue.
                break;
            }
            std::thread::sleep(TICK);
            next = match rx.try_recv() {
                Ok(msg) => Some(msg),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => break 'queue,
            };
        }
    }
    // Closed (or every sender gone): what is still queued after the close is not written.
    stats.drop_entries(Dropped::Stopped, rx.try_iter().count() as u64);
    drop(rx);
    if let Err(e) = writer.close() {
        tracing::warn!(error = %e, "cannot close the payload log's last segment; its records read back all the same");
    }
    if let Some(ack) = closed_by {
        let _ = ack.send(());
    }
}

/// Appends one framed record and counts it in `counter`, or counts why it was dropped.
fn append(writer: &mut LogWriter, bytes: &[u8], counter: &AtomicU64, stats: &Stats, errors: &mut u64) {
    match writer.append_encoded(bytes) {
        Ok(()) => {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => stats.drop_entries(Dropped::TooLarge, 1),
        Err(e) => {
            stats.drop_entries(Dropped::WriteError, 1);
            failed(errors, &e);
        }
    }
    stats.segments_removed.store(writer.dropped_segments(), Ordering::Relaxed);
}

fn flush(writer: &mut LogWriter, stats: &Stats, errors: &mut u64) {
    if let Err(e) = writer.flush() {
        failed(errors, &e);
    }
    stats.bytes.store(writer.total_bytes(), Ordering::Relaxed);
}

/// Logs the 1st, 2nd, 4th, 8th, ... failure: a full disk does not flood the log.
fn failed(errors: &mut u64, e: &std::io::Error) {
    *errors += 1;
    if errors.is_power_of_two() {
        tracing::warn!(error = %e, failures = *errors, "cannot write the payload log; its entries are dropped (emnist_payload_log_dropped_total)");
    }
}
