//! The queue and the writer thread. Requests frame their records on their own thread and append
//! them to the queue's byte buffer under one short lock ([`Queue::push`]): no allocation, no
//! channel message, and no buffer freed on another thread (which glibc's allocator pays for with
//! its arena locks). The writer
//! thread owns the [`LogWriter`]; it swaps the full buffer for its empty one, appends the records
//! and flushes, so a `kill -9` loses at most what is still queued.
//!
//! While entries keep coming, the writer drains the queue once every [`TICK`] and sleeps in
//! between: requests then hand their entries over without waking it (a system call each, and a
//! thread switch, on a machine whose cores serve requests), and the log is written in large
//! writes. Once a drain finds the queue empty, it waits, and the next entry wakes it.

use std::sync::atomic::Ordering;
#[cfg(test)]
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Dropped, Stats};
use emnist_data::payload_log::{framed_kind, framed_len, FramedKind, LogWriter};

/// How long the writer sleeps between drains while entries keep coming: what a `kill -9` may
/// lose beyond the queue, and how late a close is seen.
pub const TICK: Duration = Duration::from_millis(10);

/// Records waiting for the writer, bounded by a count of entries.
pub struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    limit: usize,
}

#[derive(Default)]
struct State {
    /// Framed records, back to back.
    bytes: Vec<u8>,
    entries: usize,
    /// The writer waits on the condition variable (a push must wake it).
    waiting: bool,
    /// `close` was called: entries are refused; the writer writes what is queued and stops.
    closed: bool,
    /// Tests: the writer says so on the first sender, then waits on the receiver.
    #[cfg(test)]
    hold: Option<(Sender<()>, std::sync::mpsc::Receiver<()>)>,
}

impl Queue {
    /// A queue of at most `limit` entries.
    pub fn new(limit: usize) -> Arc<Queue> {
        Arc::new(Queue { state: Mutex::new(State::default()), wake: Condvar::new(), limit: limit.max(1) })
    }

    /// Appends `records` framed records (`bytes`, framed on the caller's thread, outside the
    /// lock) as far as the queue has room: how many were taken, and why the rest were not.
    pub fn push(&self, bytes: &[u8], records: usize) -> (usize, Option<Dropped>) {
        let mut st = self.lock();
        if st.closed {
            return (0, Some(Dropped::Stopped));
        }
        let take = records.min(self.limit.saturating_sub(st.entries));
        let end = if take == records {
            bytes.len()
        } else {
            (0..take).fold(0, |at, _| at + framed_len(&bytes[at..]).expect("records framed by this module"))
        };
        st.bytes.extend_from_slice(&bytes[..end]);
        st.entries += take;
        if take > 0 && st.waiting {
            st.waiting = false;
            self.wake.notify_one();
        }
        (take, (take < records).then_some(Dropped::QueueFull))
    }

    /// Refuses entries from now on; returns once the writer wrote what was queued and closed its
    /// segment (at once when the writer is gone).
    pub fn close(&self, writer: std::thread::JoinHandle<()>) {
        self.lock().closed = true;
        self.wake.notify_one();
        let _ = writer.join();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds the writer until the returned sender is dropped or sent on (tests).
    #[cfg(test)]
    pub fn hold(&self) -> Sender<()> {
        let (held, is_held) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel();
        self.lock().hold = Some((held, released));
        self.wake.notify_one();
        is_held.recv().unwrap();
        release
    }
}

/// Starts the thread.
pub fn start(writer: LogWriter, queue: Arc<Queue>, stats: Arc<Stats>) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("emnist-payload-log".into())
        .spawn(move || run(writer, &queue, &stats))
        .context("cannot start the payload log's writer thread")
}

fn run(mut writer: LogWriter, queue: &Queue, stats: &Stats) {
    let mut errors = 0u64;
    let mut spare = Vec::new();
    loop {
        let (closed, entries) = {
            let mut st = queue.lock();
            loop {
                #[cfg(test)]
                if let Some((held, release)) = st.hold.take() {
                    drop(st);
                    let _ = held.send(());
                    let _ = release.recv();
                    st = queue.lock();
                    continue;
                }
                if st.entries > 0 || st.closed {
                    break;
                }
                st.waiting = true;
                st = queue.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.waiting = false;
            std::mem::swap(&mut st.bytes, &mut spare);
            (st.closed, std::mem::take(&mut st.entries))
        };
        write_all(&mut writer, &spare, stats, &mut errors);
        spare.clear();
        if let Err(e) = writer.flush() {
            failed(&mut errors, &e);
        }
        stats.bytes.store(writer.total_bytes(), Ordering::Relaxed);
        if closed {
            break;
        }
        if entries > 0 {
            // Busy: let the next entries gather for a tick rather than be woken by each.
            std::thread::sleep(TICK);
        }
    }
    if let Err(e) = writer.close() {
        tracing::warn!(error = %e, "cannot close the payload log's last segment; its records read back all the same");
    }
}

/// Appends the framed records of `bytes` one by one (the writer rolls segments between records)
/// and counts them, once per drain.
fn write_all(writer: &mut LogWriter, mut bytes: &[u8], stats: &Stats, errors: &mut u64) {
    let (mut predictions, mut feedback) = (0, 0);
    while let Some(len) = framed_len(bytes) {
        let (record, rest) = bytes.split_at(len);
        bytes = rest;
        let counter = match framed_kind(record) {
            Some(FramedKind::Feedback) => &mut feedback,
            _ => &mut predictions,
        };
        match writer.append_encoded(record) {
            Ok(()) => *counter += 1,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => stats.drop_entries(Dropped::TooLarge, 1),
            Err(e) => {
                stats.drop_entries(Dropped::WriteError, 1);
                failed(errors, &e);
            }
        }
    }
    stats.predictions.fetch_add(predictions, Ordering::Relaxed);
    stats.feedback.fetch_add(feedback, Ordering::Relaxed);
    stats.segments_removed.store(writer.dropped_segments(), Ordering::Relaxed);
}

/// Logs the 1st, 2nd, 4th, 8th, ... failure: a full disk does not flood the log.
fn failed(errors: &mut u64, e: &std::io::Error) {
    *errors += 1;
    if errors.is_power_of_two() {
        tracing::warn!(error = %e, failures = *errors, "cannot write the payload log; its entries are dropped (emnist_payload_log_dropped_total)");
    }
}
