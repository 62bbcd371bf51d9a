//! What a deployment saw, from its payload log, against the data its model was trained on (the
//! reference): traffic, predicted classes against the reference's class shares, the labelled share
//! and the served model's accuracy on it, confidence, ink, drift scores and damaged records.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::drift::{self, KsTest, PsiReading};
use crate::explore::class_counts;
use crate::payload_log::LogContents;
use crate::setting::Setting;
use crate::source::{describe, Source};
use crate::{Dataset, DatasetInfo, Part, PIXELS};

/// Bins of the top-1 probability histogram, over [0, 1].
pub const CONFIDENCE_BINS: usize = 10;
/// Bins of the mean-ink histograms, over [0, 1].
pub const INK_BINS: usize = 50;

/// Everything `emnist explore` reports on a payload log.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentReport {
    /// The log folder.
    pub log: PathBuf,
    /// Segment files read and the bytes they hold.
    pub segments: usize,
    pub bytes: u64,
    /// Images logged (one prediction each) and the distinct requests they came in.
    pub images: usize,
    pub requests: usize,
    /// The oldest and newest logged answer, milliseconds since the Unix epoch.
    pub first_time_ms: Option<u64>,
    pub last_time_ms: Option<u64>,
    /// Images per model version, with the labelled ones and the model's accuracy on them.
    pub models: Vec<ModelCount>,
    /// Images per protocol.
    pub protocols: Vec<ProtocolCount>,
    /// The training data the log is compared with.
    pub reference: ReferenceInfo,
    /// Per class: the reference's share, the predicted count and share, the labelled count. The
    /// reference's classes in order, then any the log names that the reference lacks.
    pub classes: Vec<ClassShare>,
    pub labelled: LabelledStats,
    pub confidence: Confidence,
    pub ink: InkStats,
    pub drift: Drift,
    /// Bytes skipped as damaged: a torn tail left by `kill -9`, a bad record.
    pub torn: Vec<TornTail>,
}

/// One model version's traffic and accuracy.
#[derive(Debug, Clone, Serialize)]
pub struct ModelCount {
    pub model: String,
    pub version: u64,
    pub images: usize,
    pub labelled: usize,
    pub correct: usize,
    /// correct / labelled; `None` without a labelled image.
    pub accuracy: Option<f64>,
}

/// Images that came in over one protocol.
#[derive(Debug, Clone, Serialize)]
pub struct ProtocolCount {
    pub protocol: String,
    pub images: usize,
}

/// The reference dataset, briefly.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceInfo {
    pub dataset: DatasetInfo,
    /// True for the generated default: then the comparison says nothing about real EMNIST.
    pub synthetic: bool,
    pub train_images: usize,
    pub classes: usize,
}

/// One class, in the reference and in the log.
#[derive(Debug, Clone, Serialize)]
pub struct ClassShare {
    pub name: String,
    /// False for a class the log names that the reference lacks.
    pub in_reference: bool,
    pub reference_share: f64,
    pub predicted: usize,
    pub predicted_share: f64,
    /// Labelled images whose label is this class.
    pub labelled: usize,
}

/// Feedback and what it says about the served model.
#[derive(Debug, Clone, Serialize)]
pub struct LabelledStats {
    /// Logged images with a label (corrected or confirmed).
    pub images: usize,
    /// images / logged images.
    pub share: f64,
    /// Labelled images the model predicted right.
    pub correct: usize,
    /// correct / images; `None` without a labelled image.
    pub accuracy: Option<f64>,
    /// Feedback records, and those naming no logged image (dropped by sampling or the size limit).
    pub feedback: usize,
    pub unmatched_feedback: usize,
}

/// The top-1 probability's distribution.
#[derive(Debug, Clone, Serialize)]
pub struct Confidence {
    /// Mean top-1 probability; `None` without an image.
    pub mean: Option<f64>,
    /// [`CONFIDENCE_BINS`] equal bins over [0, 1] (the last includes 1).
    pub bins: Vec<ConfidenceBin>,
}

/// One bin of the confidence histogram, with the labelled images in it (a reliability check).
#[derive(Debug, Clone, Serialize)]
pub struct ConfidenceBin {
    pub low: f64,
    pub high: f64,
    pub images: usize,
    pub share: f64,
    pub labelled: usize,
    pub correct: usize,
}

/// Mean ink per image (its pixels' mean, scaled to [0, 1]) in the log and the reference's train part.
#[derive(Debug, Clone, Serialize)]
pub struct InkStats {
    pub log_mean: f64,
    pub log_std: f64,
    pub reference_mean: f64,
    pub reference_std: f64,
    /// Shares of images per bin of width 1 / [`INK_BINS`] over [0, 1].
    pub log_histogram: Vec<f64>,
    pub reference_histogram: Vec<f64>,
}

/// Drift scores, one per dimension.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    /// Population stability index of the predicted classes against the reference's class shares
    /// (shares below [`drift::PSI_EPSILON`] count as that); `None` without an image.
    pub class_psi: Option<f64>,
    pub class_psi_reading: Option<PsiReading>,
    /// Two-sample Kolmogorov–Smirnov test of mean ink, log against reference.
    pub ink_ks: Option<KsTest>,
}

/// Bytes of a segment that were skipped.
#[derive(Debug, Clone, Serialize)]
pub struct TornTail {
    pub file: PathBuf,
    pub offset: u64,
    pub bytes: u64,
    pub reason: String,
    /// The segment a writer had open (or had when it was killed).
    pub open: bool,
}

/// Refuses a reference that is not a training dataset.
pub fn check_reference(source: &Source) -> Result<()> {
    if let Source::PayloadLog(_) = source {
        bail!(
            "the reference {} is a payload log: pass a training dataset (a .mat file or an idx folder) to {}, or leave it out for the default",
            describe(source),
            Setting::Reference
        );
    }
    Ok(())
}

fn share(n: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 / total as f64
    }
}

/// The mean pixel of each image, scaled to [0, 1].
fn mean_ink<'a>(images: impl Iterator<Item = &'a [u8]>) -> Vec<f64> {
    images.map(|img| img.iter().map(|&p| p as u64).sum::<u64>() as f64 / (PIXELS as f64 * 255.0)).collect()
}

fn ink_histogram(inks: &[f64]) -> Vec<f64> {
    let mut h = vec![0usize; INK_BINS];
    for &x in inks {
        h[((x * INK_BINS as f64) as usize).min(INK_BINS - 1)] += 1;
    }
    h.iter().map(|&n| share(n, inks.len())).collect()
}

fn part_images(part: &Part) -> impl Iterator<Item = &[u8]> {
    (0..part.len()).map(|i| part.image(i))
}

/// The report on the log `log` read from `dir`, against `reference` (its train part).
pub fn report(dir: &Path, log: &LogContents, reference: &Dataset) -> DeploymentReport {
    let preds = &log.predictions;
    let labelled = log.labelled();
    // Classes: the reference's, then names the log uses that it lacks (sorted, for a stable order).
    let ref_counts = class_counts(&reference.train, reference.classes.len());
    let mut names: Vec<String> = reference.classes.names.clone();
    let known: HashSet<&str> = reference.classes.names.iter().map(String::as_str).collect();
    let mut extra: Vec<&str> = preds
        .iter()
        .map(|p| p.class.as_str())
        .chain(labelled.iter().map(|l| l.label))
        .filter(|n| !known.contains(n))
        .collect();
    extra.sort_unstable();
    extra.dedup();
    names.extend(extra.iter().map(|s| s.to_string()));
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut predicted = vec![0usize; names.len()];
    for p in preds {
        predicted[index[p.class.as_str()]] += 1;
    }
    let mut labels = vec![0usize; names.len()];
    for l in &labelled {
        labels[index[l.label]] += 1;
    }
    let classes: Vec<ClassShare> = names
        .iter()
        .enumerate()
        .map(|(i, name)| ClassShare {
            name: name.clone(),
            in_reference: i < ref_counts.len(),
            reference_share: ref_counts.get(i).map_or(0.0, |&n| share(n, reference.train.len())),
            predicted: predicted[i],
            predicted_share: share(predicted[i], preds.len()),
            labelled: labels[i],
        })
        .collect();
    let class_psi = (!preds.is_empty()).then(|| {
        let expected: Vec<f64> = classes.iter().map(|c| c.reference_share).collect();
        let actual: Vec<f64> = classes.iter().map(|c| c.predicted_share).collect();
        drift::psi(&expected, &actual)
    });

    // Traffic per model version and protocol; accuracy on the labelled images.
    let mut models: BTreeMap<(&str, u64), ModelCount> = BTreeMap::new();
    let mut protocols: BTreeMap<&str, usize> = BTreeMap::new();
    for p in preds {
        models
            .entry((p.model.as_str(), p.version))
            .or_insert_with(|| ModelCount {
                model: p.model.clone(),
                version: p.version,
                images: 0,
                labelled: 0,
                correct: 0,
                accuracy: None,
            })
            .images += 1;
        *protocols.entry(p.protocol.as_str()).or_default() += 1;
    }
    let correct = |l: &&crate::payload_log::Labelled| l.prediction.class == l.label;
    for l in &labelled {
        let m = models.get_mut(&(l.prediction.model.as_str(), l.prediction.version)).expect("counted above");
        m.labelled += 1;
        m.correct += usize::from(correct(&l));
    }
    let mut models: Vec<ModelCount> = models.into_values().collect();
    for m in &mut models {
        m.accuracy = (m.labelled > 0).then(|| share(m.correct, m.labelled));
    }
    let n_correct = labelled.iter().filter(correct).count();

    // Confidence: the top-1 probability, with the labelled images per bin.
    let bin = |p: f64| ((p * CONFIDENCE_BINS as f64) as usize).min(CONFIDENCE_BINS - 1);
    let top1 = |p: &crate::payload_log::Prediction| p.top.first().map(|&(_, prob)| (prob as f64).clamp(0.0, 1.0));
    let mut bins: Vec<ConfidenceBin> = (0..CONFIDENCE_BINS)
        .map(|i| ConfidenceBin {
            low: i as f64 / CONFIDENCE_BINS as f64,
            high: (i + 1) as f64 / CONFIDENCE_BINS as f64,
            images: 0,
            share: 0.0,
            labelled: 0,
            correct: 0,
        })
        .collect();
    let probs: Vec<f64> = preds.iter().filter_map(top1).collect();
    for &p in &probs {
        bins[bin(p)].images += 1;
    }
    for l in &labelled {
        if let Some(p) = top1(l.prediction) {
            bins[bin(p)].labelled += 1;
            bins[bin(p)].correct += usize::from(correct(&l));
        }
    }
    for b in &mut bins {
        b.share = share(b.images, probs.len());
    }

    // Ink, and its drift.
    let log_ink = mean_ink(preds.iter().map(|p| p.pixels.as_slice()));
    let ref_ink = mean_ink(part_images(&reference.train));
    let ((log_mean, log_std), (reference_mean, reference_std)) = (drift::mean_std(&log_ink), drift::mean_std(&ref_ink));

    let times = || preds.iter().map(|p| p.time_ms);
    DeploymentReport {
        log: dir.to_path_buf(),
        segments: log.segments,
        bytes: log.bytes,
        images: preds.len(),
        requests: preds.iter().map(|p| p.id.as_str()).collect::<HashSet<_>>().len(),
        first_time_ms: times().min(),
        last_time_ms: times().max(),
        models,
        protocols: protocols.into_iter().map(|(p, images)| ProtocolCount { protocol: p.to_string(), images }).collect(),
        reference: ReferenceInfo {
            dataset: reference.info.clone(),
            synthetic: reference.is_synthetic(),
            train_images: reference.train.len(),
            classes: reference.classes.len(),
        },
        classes,
        labelled: LabelledStats {
            images: labelled.len(),
            share: share(labelled.len(), preds.len()),
            correct: n_correct,
            accuracy: (!labelled.is_empty()).then(|| share(n_correct, labelled.len())),
            feedback: log.feedback.len(),
            unmatched_feedback: log.unmatched_feedback(),
        },
        confidence: Confidence {
            mean: (!probs.is_empty()).then(|| probs.iter().sum::<f64>() / probs.len() as f64),
            bins,
        },
        ink: InkStats {
            log_mean,
            log_std,
            reference_mean,
            reference_std,
            log_histogram: ink_histogram(&log_ink),
            reference_histogram: ink_histogram(&ref_ink),
        },
        drift: Drift {
            class_psi,
            class_psi_reading: class_psi.map(PsiReading::of),
            ink_ks: drift::ks_2samp(&log_ink, &ref_ink),
        },
        torn: log
            .torn
            .iter()
            .map(|t| TornTail {
                file: t.file.clone(),
                offset: t.offset,
                bytes: t.skipped_bytes,
                reason: t.reason.clone(),
                open: t.open,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload_log::{Feedback, Prediction, Torn};
    use crate::{ClassTable, SourceFormat};

    fn prediction(id: &str, model: &str, class: &str, p: f32, ink: u8) -> Prediction {
        Prediction {
            id: id.into(),
            index: 0,
            time_ms: 1_000 + id.len() as u64,
            model: model.into(),
            version: 1,
            protocol: if model == "a" { "kserve" } else { "grpc" }.into(),
            class: class.into(),
            top: vec![(class.into(), p)],
            pixels: vec![ink; PIXELS],
        }
    }

    fn reference() -> Dataset {
        // Classes x, y: train shares 3/4 and 1/4; mean ink 1.0 (255) and 0.0.
        let labels = vec![0u8, 0, 0, 1];
        let mut images = vec![255u8; 3 * PIXELS];
        images.extend(vec![0u8; PIXELS]);
        let part = Part { images: images.into(), labels: labels.into(), writers: None };
        Dataset {
            info: DatasetInfo { name: "ref".into(), split: None, format: SourceFormat::Idx, path: None },
            classes: ClassTable { labels: vec![0, 1], names: vec!["x".into(), "y".into()] },
            train: part.clone(),
            test: part,
        }
    }

    #[test]
    fn counts_accuracy_confidence_and_drift() {
        let fb = |id: &str, label: &str| Feedback { id: id.into(), index: 0, time_ms: 9, label: label.into() };
        let log = LogContents {
            predictions: vec![
                prediction("r1", "a", "x", 0.95, 255),
                prediction("r22", "a", "x", 0.55, 51),
                prediction("r333", "b", "y", 1.0, 0),
                prediction("r4444", "b", "w", 0.05, 0),
            ],
            feedback: vec![fb("r1", "x"), fb("r22", "y"), fb("r4444", "w"), fb("gone", "x")],
            segments: 2,
            bytes: 4096,
            torn: vec![Torn {
                file: "segment-0000000002.plog.open".into(),
                offset: 100,
                skipped_bytes: 7,
                reason: "the record is cut short".into(),
                open: true,
            }],
        };
        let r = report(Path::new("log"), &log, &reference());
        assert_eq!((r.images, r.requests, r.segments), (4, 4, 2));
        assert_eq!((r.first_time_ms, r.last_time_ms), (Some(1_002), Some(1_005)));
        let names: Vec<&str> = r.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["x", "y", "w"], "the class the reference lacks comes last");
        assert_eq!(r.classes.iter().map(|c| c.predicted).collect::<Vec<_>>(), [2, 1, 1]);
        assert_eq!(r.classes.iter().map(|c| c.labelled).collect::<Vec<_>>(), [1, 1, 1]);
        assert!(!r.classes[2].in_reference && r.classes[2].reference_share == 0.0);
        // 3 of 4 labelled; r1 and r4444 right, r22 wrong.
        let l = &r.labelled;
        assert_eq!((l.images, l.correct, l.feedback, l.unmatched_feedback), (3, 2, 4, 1));
        assert_eq!((l.share, l.accuracy), (0.75, Some(2.0 / 3.0)));
        let models: Vec<(&str, usize, usize, Option<f64>)> =
            r.models.iter().map(|m| (m.model.as_str(), m.images, m.labelled, m.accuracy)).collect();
        assert_eq!(models, [("a", 2, 2, Some(0.5)), ("b", 2, 1, Some(1.0))]);
        let protocols: Vec<(&str, usize)> = r.protocols.iter().map(|p| (p.protocol.as_str(), p.images)).collect();
        assert_eq!(protocols, [("grpc", 2), ("kserve", 2)]);
        // Confidence 0.05, 0.55, 0.95 and 1.0 (in the last bin).
        let images: Vec<usize> = r.confidence.bins.iter().map(|b| b.images).collect();
        assert_eq!(images, [1, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!((r.confidence.bins[5].labelled, r.confidence.bins[5].correct), (1, 0));
        assert!((r.confidence.mean.unwrap() - 2.55 / 4.0).abs() < 1e-6);
        // Ink: log 1.0, 0.2, 0, 0; reference 1, 1, 1, 0.
        assert!((r.ink.log_mean - 0.3).abs() < 1e-12);
        assert!((r.ink.reference_mean - 0.75).abs() < 1e-12);
        assert_eq!(r.ink.log_histogram[10], 0.25);
        assert_eq!(r.ink.reference_histogram[INK_BINS - 1], 0.75);
        // ECDFs at 0: 1/2 against 1/4, at 0.2: 3/4 against 1/4: D = 1/2.
        assert_eq!(r.drift.ink_ks.unwrap().statistic, 0.5);
        // PSI of (1/2, 1/4, 1/4) against (3/4, 1/4, 0 → 1e-4).
        let want = (0.5 - 0.75) * (0.5f64 / 0.75).ln() + (0.25 - 1e-4) * (0.25f64 / 1e-4).ln();
        assert!((r.drift.class_psi.unwrap() - want).abs() < 1e-12);
        assert_eq!(r.drift.class_psi_reading, Some(PsiReading::Shift));
        assert_eq!((r.torn.len(), r.torn[0].bytes, r.torn[0].open), (1, 7, true));
    }

    #[test]
    fn an_empty_log_reports_zeros_and_no_scores() {
        let r = report(Path::new("log"), &LogContents::default(), &reference());
        assert_eq!((r.images, r.labelled.images, r.labelled.accuracy), (0, 0, None));
        assert!(r.drift.class_psi.is_none() && r.drift.ink_ks.is_none() && r.confidence.mean.is_none());
        assert_eq!(r.classes.len(), 2);
    }

    #[test]
    fn a_log_is_no_reference() {
        let e = check_reference(&Source::PayloadLog("logs".into())).unwrap_err().to_string();
        assert!(e.contains("is a payload log") && e.contains("`reference`"), "{e}");
        assert!(check_reference(&Source::Idx("data".into())).is_ok());
    }
}
