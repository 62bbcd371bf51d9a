//! The payload log: what a deployment saw and what its users said about it, in a folder of
//! append-only segment files that `emnist serve --log-dir` writes and `emnist explore` and
//! `emnist train` read back.
//!
//! Each served image is one [`Prediction`] (the 28×28 uint8 image as the model saw it, the model and
//! version, the predicted class and top-3 probabilities, the protocol, the time, and the request id
//! the answer carried); each correction or confirmation is one [`Feedback`] naming that id. Records
//! are framed with their length and CRC-32 ([`record`]), so a segment cut short by `kill -9` reads
//! up to its last whole record and the torn tail is reported, never trusted ([`read`]). The writer
//! ([`write`](mod@write)) rolls segments at a size and drops the oldest beyond a total. `models.json`
//! ([`models`]) lists the class names of every model version the records name.

pub mod models;
pub mod read;
pub mod record;
pub mod write;

pub use models::{read_models, LogModel, LogModels, MODELS_FILE};
pub use read::{is_log_dir, read_dir, Labelled, LogContents, Torn};
pub use record::{framed_kind, framed_len, Entry, Feedback, FramedKind, Prediction, PredictionRef, RecordError};
pub use write::{LogWriter, LogWriterConfig};

/// Segment files are `segment-<10-digit sequence number>.plog`; the one being written ends in
/// `.plog.open` until it is closed.
pub const SEGMENT_PREFIX: &str = "segment-";
/// The extension of a closed segment.
pub const SEGMENT_EXT: &str = "plog";
/// The suffix of the segment a writer still has open (or had, when it was killed).
pub const OPEN_SUFFIX: &str = ".plog.open";

/// The sequence number of a segment file name (closed or open), `None` for any other name.
pub fn segment_seq(name: &str) -> Option<u64> {
    let rest = name.strip_prefix(SEGMENT_PREFIX)?;
    let digits = rest.strip_suffix(OPEN_SUFFIX).or_else(|| rest.strip_suffix(".plog"))?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The name of closed segment `seq`.
pub fn segment_name(seq: u64) -> String {
    format!("{SEGMENT_PREFIX}{seq:010}.{SEGMENT_EXT}")
}

/// The name of segment `seq` while it is open.
pub fn open_segment_name(seq: u64) -> String {
    format!("{SEGMENT_PREFIX}{seq:010}{OPEN_SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_others_are_not_segments() {
        assert_eq!(segment_seq(&segment_name(7)), Some(7));
        assert_eq!(segment_seq(&open_segment_name(12)), Some(12));
        for other in ["segment-7.plog", "segment-000000000x.plog", "notes.txt", "segment-0000000001.plog.tmp"] {
            assert_eq!(segment_seq(other), None, "{other}");
        }
    }
}
