//! Reading a payload log folder: every whole record of every segment, oldest first, and a report
//! of what could not be trusted (a tail cut short by `kill -9`, a damaged record).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::record::{Entry, Feedback, Prediction, RecordError, MAGIC};
use super::{segment_seq, OPEN_SUFFIX};

/// Bytes of a segment that were skipped, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Torn {
    /// The segment file.
    pub file: PathBuf,
    /// Where the skipped bytes start.
    pub offset: u64,
    /// How many bytes were skipped.
    pub skipped_bytes: u64,
    /// Why (a record cut short, a checksum that does not match, ...).
    pub reason: String,
    /// True for a segment a writer still had open: its tail may just not be written yet.
    pub open: bool,
}

impl std::fmt::Display for Torn {
    /// `skipped 7 bytes of `…/segment-0000000002.plog.open` at offset 812 (the record is cut short;
    /// the segment a writer had open)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "skipped {} bytes of `{}` at offset {} ({}",
            self.skipped_bytes,
            self.file.display(),
            self.offset,
            self.reason
        )?;
        if self.open {
            write!(f, "; the segment a writer had open")?;
        }
        write!(f, ")")
    }
}

/// Everything a log folder holds.
#[derive(Debug, Default)]
pub struct LogContents {
    /// Every served image, oldest first.
    pub predictions: Vec<Prediction>,
    /// Every correction or confirmation, oldest first.
    pub feedback: Vec<Feedback>,
    /// Segment files read.
    pub segments: usize,
    /// Bytes those files hold.
    pub bytes: u64,
    /// What was skipped.
    pub torn: Vec<Torn>,
}

/// A logged image with the class a person gave it.
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    /// The logged prediction (image, model, predicted class).
    pub prediction: &'a Prediction,
    /// The true class's name, from the latest feedback on it.
    pub label: &'a str,
}

impl LogContents {
    /// The logged images that received feedback, in log order, each with its latest label.
    pub fn labelled(&self) -> Vec<Labelled<'_>> {
        let mut latest: HashMap<(&str, u32), &str> = HashMap::new();
        for f in &self.feedback {
            latest.insert((f.id.as_str(), f.index), f.label.as_str());
        }
        self.predictions
            .iter()
            .filter_map(|p| latest.get(&(p.id.as_str(), p.index)).map(|label| Labelled { prediction: p, label }))
            .collect()
    }

    /// Feedback whose id and index match no logged prediction (its image was dropped by the size
    /// limit or by sampling).
    pub fn unmatched_feedback(&self) -> usize {
        let seen: std::collections::HashSet<(&str, u32)> =
            self.predictions.iter().map(|p| (p.id.as_str(), p.index)).collect();
        self.feedback.iter().filter(|f| !seen.contains(&(f.id.as_str(), f.index))).count()
    }
}

/// True when `dir` is a folder holding at least one segment file.
pub fn is_log_dir(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|entries| entries.flatten().any(|e| segment_seq(&e.file_name().to_string_lossy()).is_some()))
        .unwrap_or(false)
}

/// Reads every segment in `dir`, oldest first. Damaged or cut-short bytes are skipped and listed
/// in [`LogContents::torn`]; only a folder that cannot be listed or a segment that cannot be read
/// is an error.
pub fn read_dir(dir: &Path) -> Result<LogContents> {
    let mut files: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .with_context(|| format!("cannot list the log folder `{}`", dir.display()))?
        .flatten()
        .filter_map(|e| segment_seq(&e.file_name().to_string_lossy()).map(|s| (s, e.path())))
        .collect();
    files.sort();
    let mut out = LogContents::default();
    for (_, path) in files {
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            // Dropped by the writer's size limit between listing and reading.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read the log segment `{}`", path.display())),
        };
        out.segments += 1;
        out.bytes += bytes.len() as u64;
        read_segment(&path, &bytes, &mut out);
    }
    Ok(out)
}

fn read_segment(path: &Path, bytes: &[u8], out: &mut LogContents) {
    let open = path.to_string_lossy().ends_with(OPEN_SUFFIX);
    let torn = |offset: usize, skipped: usize, reason: String| Torn {
        file: path.to_path_buf(),
        offset: offset as u64,
        skipped_bytes: skipped as u64,
        reason,
        open,
    };
    if !bytes.starts_with(MAGIC) {
        // A writer killed before its first byte reached the disk leaves an empty file.
        if !bytes.is_empty() || !open {
            out.torn.push(torn(0, bytes.len(), "not a payload log segment (no header)".into()));
        }
        return;
    }
    let mut at = MAGIC.len();
    while at < bytes.len() {
        match Entry::decode(&bytes[at..]) {
            Ok((entry, used)) => {
                match entry {
                    Entry::Prediction(p) => out.predictions.push(p),
                    Entry::Feedback(f) => out.feedback.push(f),
                }
                at += used;
            }
            // The frame is whole and its checksum right, but its content is not ours to read:
            // skip this one record.
            Err(
                e @ (RecordError::Kind(_) | RecordError::Metadata(_) | RecordError::Pixels(_) | RecordError::Sparse),
            ) => {
                let used =
                    super::record::FRAME_HEADER + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                out.torn.push(torn(at, used, e.to_string()));
                at += used;
            }
            // Nothing after this point can be framed with confidence.
            Err(e) => {
                out.torn.push(torn(at, bytes.len() - at, e.to_string()));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::prediction;
    use super::super::{open_segment_name, segment_name};
    use super::*;

    fn segment(entries: &[Entry]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        for e in entries {
            b.extend(e.encode());
        }
        b
    }

    #[test]
    fn labels_join_predictions_by_id_and_index_and_the_latest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let fb = |id: &str, index, label: &str| {
            Entry::Feedback(Feedback { id: id.into(), index, time_ms: 0, label: label.into() })
        };
        fs::write(
            dir.path().join(segment_name(1)),
            segment(&[
                Entry::Prediction(prediction("r1", 0, "7", 1)),
                Entry::Prediction(prediction("r1", 1, "1", 2)),
                Entry::Prediction(prediction("r2", 0, "3", 3)),
            ]),
        )
        .unwrap();
        fs::write(
            dir.path().join(open_segment_name(2)),
            segment(&[fb("r1", 1, "4"), fb("r1", 1, "9"), fb("gone", 0, "2")]),
        )
        .unwrap();
        fs::write(dir.path().join("notes.txt"), "not a segment").unwrap();
        assert!(is_log_dir(dir.path()));
        let log = read_dir(dir.path()).unwrap();
        assert_eq!((log.segments, log.predictions.len(), log.feedback.len()), (2, 3, 3));
        let labelled: Vec<(&str, u32, &str)> =
            log.labelled().iter().map(|l| (l.prediction.id.as_str(), l.prediction.index, l.label)).collect();
        assert_eq!(labelled, [("r1", 1, "9")]);
        assert_eq!(log.unmatched_feedback(), 1);
        assert!(log.torn.is_empty());
    }

    #[test]
    fn damage_is_skipped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let good = Entry::Prediction(prediction("ok", 0, "7", 1)).encode();
        // A flipped bit in the second record: the first is kept, the rest reported.
        let mut flipped = segment(&[Entry::Prediction(prediction("ok", 0, "7", 1))]);
        let second_at = flipped.len();
        flipped.extend(&good);
        flipped[second_at + 30] ^= 4;
        fs::write(dir.path().join(segment_name(1)), &flipped).unwrap();
        fs::write(dir.path().join(segment_name(2)), b"garbage!").unwrap();
        fs::write(dir.path().join(open_segment_name(3)), b"").unwrap();
        let log = read_dir(dir.path()).unwrap();
        assert_eq!(log.predictions.len(), 1);
        assert_eq!(log.torn.len(), 2, "{:?}", log.torn);
        assert_eq!(log.torn[0].offset, second_at as u64);
        assert!(log.torn[0].reason.contains("checksum"), "{}", log.torn[0].reason);
        assert!(log.torn[1].reason.contains("no header"));
        assert!(!is_log_dir(&dir.path().join("missing")));
    }
}
