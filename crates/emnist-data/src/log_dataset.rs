//! A payload log as a dataset: its labelled images (a logged prediction joined with the latest
//! feedback on it), class indices from the served model's class names, split into train and test
//! by a hash of the request id and image index.
//!
//! The split is fixed per image, so an image never moves between the parts as the log grows: one
//! image in [`TEST_ONE_IN`] goes to test. The class table is the one `models.json` lists for the
//! model versions the labelled images name (all must agree); without that file it is inferred from
//! the names the records use: digits only → ten numbered classes, else EMNIST byclass's 62.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::payload_log::{self, Labelled, LogContents, LogModels, MODELS_FILE};
use crate::{ClassTable, Dataset, DatasetInfo, Part, SourceFormat};

/// One labelled image in this many goes to the test part.
pub const TEST_ONE_IN: u64 = 10;

/// Whether the image `index` of request `id` belongs to the test part: a stable hash (xxh3 of the
/// id's bytes and the index), the same on every machine and in every version.
pub fn is_test(id: &str, index: u32) -> bool {
    let mut key = Vec::with_capacity(id.len() + 5);
    key.extend_from_slice(id.as_bytes());
    key.push(0);
    key.extend_from_slice(&index.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&key).is_multiple_of(TEST_ONE_IN)
}

/// Where the class table of a log came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableSource {
    /// `models.json`, for these model versions.
    Models(Vec<(String, u64)>),
    /// Inferred from the class names the records use (no `models.json`).
    Inferred,
}

/// The class table every labelled image of `log` is read with. `models` is the folder's
/// `models.json`, if it has one.
pub fn class_table(log: &LogContents, models: Option<&LogModels>, dir: &Path) -> Result<(ClassTable, TableSource)> {
    let labelled = log.labelled();
    let Some(models) = models else {
        return Ok((inferred_table(log), TableSource::Inferred));
    };
    // The model versions the labelled images name, with how many each.
    let mut named: BTreeMap<(&str, u64), usize> = BTreeMap::new();
    for l in &labelled {
        *named.entry((l.prediction.model.as_str(), l.prediction.version)).or_default() += 1;
    }
    let mut table: Option<(&str, u64, &[String])> = None;
    for (&(name, version), &n) in &named {
        let Some(m) = models.find(name, version) else {
            bail!(
                "`{}` does not list model `{name}` version {version}, which {n} labelled images name: its class names are unknown",
                dir.join(MODELS_FILE).display()
            );
        };
        match table {
            Some((first, first_version, classes)) if classes != m.classes.as_slice() => bail!(
                "the payload log `{}` mixes models with different classes (`{first}` version {first_version}: {} classes, `{name}` version {version}: {}): its labelled images are not one dataset",
                dir.display(),
                classes.len(),
                m.classes.len()
            ),
            Some(_) => {}
            None => table = Some((name, version, &m.classes)),
        }
    }
    let table = match table {
        Some((_, _, classes)) => named_table(classes, dir)?,
        // No labelled image: the first listed model's classes, else the inferred table.
        None => match models.models.first() {
            Some(m) => named_table(&m.classes, dir)?,
            None => return Ok((inferred_table(log), TableSource::Inferred)),
        },
    };
    let used = named.keys().map(|&(n, v)| (n.to_string(), v)).collect();
    Ok((table, TableSource::Models(used)))
}

/// A table of these class names, in output order: byclass's own when they are byclass's.
fn named_table(classes: &[String], dir: &Path) -> Result<ClassTable> {
    if classes.is_empty() || classes.len() > 256 {
        bail!(
            "`{}` lists a model with {} classes; 1 to 256 are supported",
            dir.join(MODELS_FILE).display(),
            classes.len()
        );
    }
    let byclass = ClassTable::byclass();
    if classes == byclass.names.as_slice() {
        return Ok(byclass);
    }
    Ok(ClassTable { labels: (0..classes.len() as i64).collect(), names: classes.to_vec() })
}

/// Without `models.json`: ten numbered classes when every name the records use is a digit, else
/// EMNIST byclass (names it lacks are refused when the labels are mapped).
fn inferred_table(log: &LogContents) -> ClassTable {
    let digit = |s: &str| s.len() == 1 && s.as_bytes()[0].is_ascii_digit();
    let all_digits = log.predictions.iter().all(|p| digit(&p.class) && p.top.iter().all(|(c, _)| digit(c)))
        && log.feedback.iter().all(|f| digit(&f.label));
    if all_digits {
        ClassTable::numbered(10)
    } else {
        ClassTable::byclass()
    }
}

/// The labelled images of the log in `dir` as a dataset (parts may be empty), with the log read.
pub fn load(dir: &Path) -> Result<(Dataset, LogContents)> {
    let log = payload_log::read_dir(dir)?;
    let models = payload_log::read_models(dir)?;
    let (classes, _) = class_table(&log, models.as_ref(), dir)?;
    let dataset = dataset(&log, classes, dir)?;
    Ok((dataset, log))
}

/// The labelled images of `log` with class indices from `classes`, split by [`is_test`].
pub fn dataset(log: &LogContents, classes: ClassTable, dir: &Path) -> Result<Dataset> {
    let mut train = (Vec::new(), Vec::new());
    let mut test = (Vec::new(), Vec::new());
    for Labelled { prediction: p, label } in log.labelled() {
        let Some(c) = classes.names.iter().position(|n| n == label) else {
            bail!(
                "the payload log `{}` labels image {} of request `{}` as `{label}`, a class the model's {} classes lack",
                dir.display(),
                p.index,
                p.id,
                classes.len()
            );
        };
        let (images, labels) = if is_test(&p.id, p.index) { &mut test } else { &mut train };
        images.extend_from_slice(&p.pixels);
        labels.push(c as u8);
    }
    let part =
        |(images, labels): (Vec<u8>, Vec<u8>)| Part { images: images.into(), labels: labels.into(), writers: None };
    let name = format!(
        "payload log {} (labelled images)",
        dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
    );
    let path = dir.canonicalize().with_context(|| format!("cannot resolve `{}`", dir.display()))?;
    Ok(Dataset {
        info: DatasetInfo { name, split: None, format: SourceFormat::PayloadLog, path: Some(path) },
        classes,
        train: part(train),
        test: part(test),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload_log::{Entry, Feedback, LogModel, LogWriter, LogWriterConfig, Prediction};
    use crate::PIXELS;

    fn prediction(id: &str, model: &str, version: u64, class: &str) -> Prediction {
        Prediction {
            id: id.into(),
            index: 0,
            time_ms: 1,
            model: model.into(),
            version,
            protocol: "kserve".into(),
            class: class.into(),
            top: vec![(class.into(), 0.8)],
            pixels: vec![id.len() as u8; PIXELS],
        }
    }

    fn feedback(id: &str, label: &str) -> Feedback {
        Feedback { id: id.into(), index: 0, time_ms: 2, label: label.into() }
    }

    fn write_log(dir: &Path, entries: &[Entry]) -> LogContents {
        let mut w = LogWriter::open(LogWriterConfig::new(dir.to_path_buf(), 1 << 20)).unwrap();
        for e in entries {
            w.append(e).unwrap();
        }
        w.close().unwrap();
        payload_log::read_dir(dir).unwrap()
    }

    fn model(name: &str, version: u64, classes: &[&str]) -> LogModel {
        LogModel {
            name: name.into(),
            version,
            sha256: None,
            classes: classes.iter().map(|c| c.to_string()).collect(),
            input: payload_log::models::INPUT_U8_28X28.into(),
        }
    }

    #[test]
    fn the_split_is_stable_and_about_one_in_ten() {
        let test = (0..10_000).filter(|&i| is_test(&format!("req-{i}"), 0)).count();
        assert!((850..1150).contains(&test), "{test} of 10000 in test");
        // Fixed by the hash (xxh3 is specified, unlike the standard library's hasher): these
        // images of request `r` are in test on every machine and in every version.
        let tests: Vec<u32> = (0..60).filter(|&i| is_test("r", i)).collect();
        assert_eq!(tests, [9, 51, 53]);
    }

    #[test]
    fn labelled_images_become_parts_with_the_models_class_indices() {
        let dir = tempfile::tempdir().unwrap();
        let mut entries = Vec::new();
        for i in 0..60 {
            let id = format!("r{i}");
            entries.push(Entry::Prediction(prediction(&id, "m", 1, "b")));
            if i % 2 == 0 {
                entries.push(Entry::Feedback(feedback(&id, if i % 4 == 0 { "c" } else { "a" })));
            }
        }
        let log = write_log(dir.path(), &entries);
        let mut models = LogModels::default();
        models.insert(model("m", 1, &["a", "b", "c"]));
        let (table, source) = class_table(&log, Some(&models), dir.path()).unwrap();
        assert_eq!(table.names, ["a", "b", "c"]);
        assert_eq!(source, TableSource::Models(vec![("m".into(), 1)]));
        let ds = dataset(&log, table, dir.path()).unwrap();
        assert_eq!(ds.train.len() + ds.test.len(), 30);
        let tests = (0..60).step_by(2).filter(|i| is_test(&format!("r{i}"), 0)).count();
        assert_eq!(ds.test.len(), tests);
        // Labels in log order within each part: "c" (index 2) for multiples of 4, else "a" (0).
        let want_train: Vec<u8> = (0..60)
            .step_by(2)
            .filter(|i| !is_test(&format!("r{i}"), 0))
            .map(|i| if i % 4 == 0 { 2 } else { 0 })
            .collect();
        assert_eq!(&ds.train.labels[..], want_train.as_slice());
        assert_eq!(ds.info.format, SourceFormat::PayloadLog);
        assert_eq!(ds.train.image(0), &[2u8; PIXELS][..], "the logged pixels ({})", "r0".len());
    }

    #[test]
    fn unknown_labels_mixed_tables_and_unlisted_models_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = write_log(
            dir.path(),
            &[
                Entry::Prediction(prediction("x", "m", 1, "a")),
                Entry::Feedback(feedback("x", "z")),
                Entry::Prediction(prediction("y", "m", 2, "a")),
                Entry::Feedback(feedback("y", "a")),
            ],
        );
        let mut models = LogModels::default();
        models.insert(model("m", 1, &["a", "b"]));
        let e = class_table(&log, Some(&models), dir.path()).unwrap_err().to_string();
        assert!(e.contains("does not list model `m` version 2") && e.contains("1 labelled images"), "{e}");
        models.insert(model("m", 2, &["a", "b", "c"]));
        let e = class_table(&log, Some(&models), dir.path()).unwrap_err().to_string();
        assert!(e.contains("mixes models with different classes") && e.contains("2 classes"), "{e}");
        models.insert(model("m", 2, &["a", "b"]));
        let (table, _) = class_table(&log, Some(&models), dir.path()).unwrap();
        let e = dataset(&log, table, dir.path()).unwrap_err().to_string();
        assert!(e.contains("labels image 0 of request `x` as `z`") && e.contains("2 classes lack"), "{e}");
    }

    #[test]
    fn without_models_json_the_table_is_inferred() {
        let dir = tempfile::tempdir().unwrap();
        let digits = write_log(
            &dir.path().join("d"),
            &[Entry::Prediction(prediction("x", "m", 1, "7")), Entry::Feedback(feedback("x", "1"))],
        );
        let (t, source) = class_table(&digits, None, dir.path()).unwrap();
        assert_eq!((t, source), (ClassTable::numbered(10), TableSource::Inferred));
        let letters = write_log(
            &dir.path().join("l"),
            &[Entry::Prediction(prediction("x", "m", 1, "7")), Entry::Feedback(feedback("x", "Q"))],
        );
        let (t, _) = class_table(&letters, None, dir.path()).unwrap();
        assert_eq!(t, ClassTable::byclass());
        let ds = dataset(&letters, t, dir.path()).unwrap();
        assert_eq!(ds.train.labels.iter().chain(ds.test.labels.iter()).copied().collect::<Vec<_>>(), [26]);
    }
}
