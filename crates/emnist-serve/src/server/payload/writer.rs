//! The writer thread: it owns the [`LogWriter`], takes entries off the queue as they come,
//! appends them, and flushes whenever the queue runs dry (and every [`FLUSH_EVERY`] entries
//! while it does not), so a `kill -9` loses at most what is still queued.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::{Dropped, Stats};
use emnist_data::payload_log::{Entry, LogWriter};

/// Entries appended between two flushes while the queue never runs dry.
const FLUSH_EVERY: usize = 1024;

/// What the queue carries.
pub enum Msg {
    Entry(Entry),
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
    'queue: while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut since_flush = 0;
        while let Some(msg) = next.take() {
            match msg {
                Msg::Entry(entry) => {
                    append(&mut writer, &entry, stats, &mut errors);
                    since_flush += 1;
                }
                Msg::Close(ack) => {
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
            next = rx.try_recv().ok();
        }
        flush(&mut writer, stats, &mut errors);
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

fn append(writer: &mut LogWriter, entry: &Entry, stats: &Stats, errors: &mut u64) {
    match writer.append(entry) {
        Ok(()) => {
            let counter = match entry {
                Entry::Prediction(_) => &stats.predictions,
                Entry::Feedback(_) => &stats.feedback,
            };
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
