//! One way to stop long work cleanly. The executable owns the signals: it turns SIGINT/SIGTERM
//! into [`Shutdown::request`]. Training polls [`Shutdown::is_requested`] between steps (then
//! checkpoints and returns `Interrupted`); the server awaits [`Shutdown::requested`] (then stops
//! accepting, answers what is in flight within its grace period, and returns). The library never
//! installs a signal handler, so a caller embedding it decides what stops it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// A stop request shared by whoever asks and whoever stops; cheap to clone.
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    requested: AtomicBool,
    notify: Notify,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown").field("requested", &self.is_requested()).finish()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks everything holding a clone to stop. Returns whether a stop had already been asked
    /// for (a second Ctrl-C, which executables take as "stop now").
    pub fn request(&self) -> bool {
        let already = self.inner.requested.swap(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
        already
    }

    /// Whether a stop has been asked for.
    pub fn is_requested(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }

    /// Resolves once a stop has been asked for (at once if it already has).
    pub async fn requested(&self) {
        let notified = self.inner.notify.notified();
        let mut notified = std::pin::pin!(notified);
        // Registered before the check: a request between the two still wakes this waiter.
        notified.as_mut().enable();
        if self.is_requested() {
            return;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reaches_every_clone_and_waiters_before_and_after() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let stop = Shutdown::new();
        let waiter = {
            let stop = stop.clone();
            rt.spawn(async move { stop.requested().await })
        };
        assert!(!stop.clone().is_requested());
        assert!(!stop.request(), "the first request");
        assert!(stop.request(), "a second request says so");
        rt.block_on(async {
            waiter.await.unwrap();
            stop.requested().await;
        });
        assert!(stop.is_requested());
    }
}
