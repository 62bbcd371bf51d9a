//! Progress reporting: the library tells an observer about long work; the binary decides how to show it.

/// Receives progress events from long-running library work (loading, generating, downloading).
///
/// The library never prints: it calls these methods and the binary renders them as
/// progress bars, plain lines, or nothing.
pub trait Progress: Sync {
    /// A new stage of work begins; `total` is the number of units when known (bytes, images, steps).
    fn start(&self, stage: &str, total: Option<u64>);
    /// `n` more units of the current stage are done.
    fn advance(&self, n: u64);
    /// The current stage is finished.
    fn finish(&self);
    /// A one-line note worth showing to the user (which dataset is used, a cache hit, a warning).
    fn note(&self, message: &str);
    /// Like `start`, for work counted in steps rather than bytes (training epochs).
    fn start_steps(&self, stage: &str, total: u64) {
        self.start(stage, Some(total));
    }
    /// A short live status for the current stage (running loss, samples/s), shown beside the bar.
    fn status(&self, _text: &str) {}
    /// A result line worth keeping in the log (an evaluation during training), printed as is.
    fn report(&self, _text: &str) {}
}

/// An observer that ignores everything: for tests and `--quiet` callers.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _stage: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
    fn note(&self, _message: &str) {}
}
