//! Figures of training runs: one run's learning curves, confusion matrix and per-class accuracy
//! ([`training_figures`]), and several runs' test-accuracy curves on one plot ([`compare_curves`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::confusion::{draw_confusion, ConfusionLayout};
use super::curves::{accuracy_range, draw_curves, epoch_max, Curve, Panel};
use super::{font, register_font, text, text_width, title, write_png, ClassAxis, GRID, MARGIN, TITLE_HEIGHT};
use emnist_model::artifacts::RunDir;
use emnist_model::record::{MetricsRow, ModelRecord};

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Line colours (matplotlib's tab10): the first two are train and test, compared runs cycle through all.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
pub(super) const TRAIN: RGBColor = PALETTE[0];
pub(super) const TEST: RGBColor = PALETTE[1];
/// Reference lines: the final accuracy on the whole test set, and balanced accuracy.
pub(super) const OVERALL: RGBColor = PALETTE[3];
const BALANCED: RGBColor = RGBColor(40, 40, 40);

const CURVES_SIZE: (u32, u32) = (1400, 560);
const COMPARE_SIZE: (u32, u32) = (1000, 600);
const PER_CLASS_HEIGHT: u32 = 520;

/// Writes a training run's figures into `dir` (created if missing): [`RunDir::FIGURES`] —
/// `curves.png`, `confusion.png` and `per_class.png`, in that order; returns their paths. `confusion[truth][predicted]` counts
/// the test images of each class by prediction, one row and column per class of `record`.
pub fn training_figures(
    record: &ModelRecord,
    rows: &[MetricsRow],
    confusion: &[Vec<u64>],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let k = record.spec.classes.len();
    if confusion.len() != k || confusion.iter().any(|r| r.len() != k) {
        bail!("the confusion matrix is not {k}×{k}, one row and column for each of the model's classes");
    }
    if record.metrics.per_class_accuracy.len() != k {
        bail!("the record has {} per-class accuracies for {k} classes", record.metrics.per_class_accuracy.len());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    register_font()?;
    let run = run_label(record);
    let mut written = Vec::new();
    let [curves, confusion_png, per_class] = RunDir::FIGURES.map(|(f, _)| dir.join(f));
    let path = curves;
    write_png(&path, CURVES_SIZE, |root| draw_curves(root, record, rows, &run))?;
    written.push(path);
    let path = confusion_png;
    let layout = ConfusionLayout::new(&record.spec.classes.names)?;
    write_png(&path, layout.size, |root| draw_confusion(root, &layout, record, confusion, &run))?;
    written.push(path);
    let path = per_class;
    write_png(&path, per_class_size(&record.spec.classes.names)?, |root| draw_per_class(root, record, &run))?;
    written.push(path);
    Ok(written)
}

/// Writes one plot of several runs' test-accuracy curves (on the evaluation sample, against
/// epochs) to `path`; each run's legend entry is its name and its last evaluation's accuracy.
pub fn compare_curves(runs: &[(String, Vec<MetricsRow>)], title_text: &str, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    register_font()?;
    let curves: Vec<Curve> = runs
        .iter()
        .enumerate()
        .map(|(i, (name, rows))| Curve {
            label: match rows.last() {
                Some(last) => format!("{name}: {}", pct(last.test_acc)),
                None => format!("{name}: no evaluations"),
            },
            colour: PALETTE[i % PALETTE.len()],
            points: rows.iter().map(|r| (r.epoch, r.test_acc)).collect(),
        })
        .collect();
    let all = runs.iter().flat_map(|(_, rows)| rows);
    let (x_max, y) = (epoch_max(all.clone()), accuracy_range(all.map(|r| r.test_acc)));
    write_png(path, COMPARE_SIZE, |root| {
        title(root, title_text)?;
        let panel =
            Panel { caption: "", y_desc: "test accuracy on the evaluation sample (%)", percent: true, x_max, y };
        panel.draw(&root.margin(TITLE_HEIGHT, 10, 10, 10), &curves, &[], SeriesLabelPosition::LowerRight)
    })
}

/// `dnn on EMNIST byclass`; a synthetic dataset always says it is not EMNIST.
fn run_label(record: &ModelRecord) -> String {
    let name = &record.dataset.name;
    let dataset = if record.dataset.synthetic && !name.contains("not EMNIST") {
        format!("{name} (synthetic, not EMNIST)")
    } else {
        name.clone()
    };
    format!("{} on {dataset}", record.spec.architecture.name())
}

/// A share as a percentage with one decimal: `85.3%`.
pub(super) fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

// ---- per_class.png ----

/// Width of each class's slot: wide enough for its name.
fn per_class_slot(names: &[String]) -> Result<u32> {
    Ok((text_width(names, 13)? + 8).max(18))
}

fn per_class_size(names: &[String]) -> Result<(u32, u32)> {
    Ok(((110 + names.len() as u32 * per_class_slot(names)? + 34).max(900), PER_CLASS_HEIGHT))
}

fn draw_per_class(root: &Area, record: &ModelRecord, run: &str) -> Result<()> {
    let (names, m) = (&record.spec.classes.names, &record.metrics);
    let k = names.len();
    title(root, &format!("Per-class test accuracy — {run}"))?;
    // The legend sits under the title, where it cannot hide a bar.
    let entries = [
        (TRAIN, "accuracy on the class's test images".to_string()),
        (OVERALL, format!("test accuracy {}", pct(m.test_accuracy))),
        (BALANCED, format!("balanced accuracy {} (mean over classes)", pct(m.balanced_accuracy))),
    ];
    let widths: Vec<u32> = entries.iter().map(|(_, t)| text_width(&[t], 15)).collect::<Result<_>>()?;
    let mut x = (root.dim_in_pixel().0.saturating_sub(widths.iter().map(|w| w + 56).sum()) / 2).max(MARGIN) as i32;
    let y = TITLE_HEIGHT as i32 + 2;
    for (i, ((colour, label), w)) in entries.iter().zip(widths).enumerate() {
        if i == 0 {
            root.draw(&Rectangle::new([(x, y - 7), (x + 20, y + 7)], colour.filled()))?;
        } else {
            root.draw(&PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(3)))?;
        }
        text(root, label, (x + 26, y), 15, (HPos::Left, VPos::Center))?;
        x += w as i32 + 56;
    }
    let mut chart = ChartBuilder::on(&root.margin(TITLE_HEIGHT + 20, 0, 0, 0))
        .margin(10)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(ClassAxis(k), 0.0..1.0)?;
    let x_fmt = |x: &f64| names.get(x.floor() as usize).cloned().unwrap_or_default();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|y: &f64| format!("{:.0}", y * 100.0))
        .x_desc("class")
        .y_desc("test accuracy (%)")
        .label_style(font(13))
        .axis_desc_style(font(15))
        .y_labels(11)
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .draw()?;
    let bars = m.per_class_accuracy.iter().enumerate().filter(|(_, a)| a.is_finite());
    chart.draw_series(
        bars.map(|(i, &a)| Rectangle::new([(i as f64 + 0.15, 0.0), (i as f64 + 0.85, a)], TRAIN.filled())),
    )?;
    let across = |v: f64| [(0.0, v), (k as f64, v)];
    chart.draw_series(LineSeries::new(across(m.test_accuracy), OVERALL.stroke_width(2)))?;
    chart.draw_series(LineSeries::new(across(m.balanced_accuracy), BALANCED.stroke_width(2)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::png_size;
    use super::*;
    use emnist_data::ClassTable;
    use emnist_model::record::{Confusion, DatasetRef, FinalMetrics, TrainSettings, Versions, RECORD_VERSION};
    use emnist_model::{Architecture, ModelSpec};

    /// A record for `classes` whose class `i` has accuracy falling with `i`.
    pub(crate) fn record(classes: ClassTable, synthetic: bool) -> ModelRecord {
        let k = classes.len();
        let per_class_accuracy: Vec<f64> = (0..k).map(|i| 0.98 - 0.5 * i as f64 / k as f64).collect();
        let balanced_accuracy = per_class_accuracy.iter().sum::<f64>() / k as f64;
        let name = if synthetic { "synthetic 10 digits (not EMNIST)" } else { "EMNIST byclass" };
        ModelRecord {
            format_version: RECORD_VERSION,
            spec: ModelSpec::new(Architecture::dnn(), classes),
            parameters: 549_182,
            dataset: DatasetRef {
                name: name.into(),
                split: None,
                fingerprint: "0123456789abcdef".into(),
                train_images: 697_932,
                test_images: 116_323,
                synthetic,
            },
            training: TrainSettings {
                learning_rate: 1e-3,
                batch_size: 256,
                epochs: 5,
                seed: 7,
                class_weights: emnist_model::train::ClassWeights::None,
                eval_every: 100,
                eval_fraction: 0.1,
                device: "cpu".into(),
                threads: 4,
                practice: emnist_model::train::Practice::default(),
            },
            metrics: FinalMetrics {
                test_loss: 0.45,
                test_accuracy: 0.853,
                balanced_accuracy,
                per_class_accuracy,
                top_confusions: vec![Confusion { truth: "O".into(), predicted: "0".into(), count: 90, rate: 0.3 }],
                steps: 13_630,
                epochs_completed: 5,
            },
            validation: None,
            fine_tune: None,
            wall_time_s: 812.5,
            versions: Versions { emnist: "0.1.0".into(), tch: "0.26".into(), libtorch: "2.11".into() },
        }
    }

    /// `n` evaluations over `epochs` epochs: loss falling and accuracy rising towards `top`, with a wobble.
    pub(crate) fn rows(n: usize, epochs: f64, top: f64) -> Vec<MetricsRow> {
        (1..=n)
            .map(|i| {
                let epoch = epochs * i as f64 / n as f64;
                let wobble = 0.01 * ((i * 7919) % 13) as f64 / 13.0;
                let acc = top - (top - 0.3) * (-2.0 * epoch).exp();
                MetricsRow {
                    step: i * 100,
                    epoch,
                    train_loss: 2.5 * (1.0 - acc) + 0.2 + wobble,
                    train_acc: acc - 0.01 + wobble,
                    test_loss: 2.5 * (1.0 - acc) + 0.25 - wobble,
                    test_acc: acc - wobble,
                }
            })
            .collect()
    }

    /// Mostly right, with a few confusions between neighbouring and case-twin classes; class
    /// `empty` has no test images.
    pub(crate) fn confusion(k: usize, empty: Option<usize>) -> Vec<Vec<u64>> {
        (0..k)
            .map(|t| {
                let mut row = vec![0u64; k];
                if Some(t) == empty {
                    return row;
                }
                row[t] = 900 - 5 * t as u64;
                row[(t + 1) % k] += 40;
                row[(t * 7 + 3) % k] += 8;
                row[(t + 26) % k] += if k > 36 && t >= 36 { 200 } else { 1 };
                row
            })
            .collect()
    }

    fn check(k: ClassTable, rows: &[MetricsRow], empty: Option<usize>) {
        let record = record(k, empty.is_some());
        let names = &record.spec.classes.names;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let paths = training_figures(&record, rows, &confusion(names.len(), empty), &out).unwrap();
        let files: Vec<_> = paths.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(files, ["curves.png", "confusion.png", "per_class.png"]);
        let expected = [CURVES_SIZE, ConfusionLayout::new(names).unwrap().size, per_class_size(names).unwrap()];
        for (p, size) in paths.iter().zip(expected) {
            let bytes = std::fs::read(p).unwrap();
            assert!(bytes.len() > 2000, "{} is only {} bytes", p.display(), bytes.len());
            assert_eq!(png_size(&bytes), size, "{}", p.display());
        }
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
    }

    #[test]
    fn writes_training_figures_for_five_classes() {
        check(ClassTable::numbered(5), &rows(12, 3.0, 0.9), None);
    }

    #[test]
    fn writes_training_figures_for_62_classes() {
        check(ClassTable::byclass(), &rows(100, 5.0, 0.86), None);
    }

    #[test]
    fn draws_without_rows_or_test_images() {
        // No evaluations yet, a single one, and a class without test images.
        check(ClassTable::numbered(10), &[], Some(3));
        check(ClassTable::numbered(10), &rows(1, 0.1, 0.5), Some(0));
    }

    #[test]
    fn rejects_a_confusion_matrix_of_the_wrong_size() {
        let dir = tempfile::tempdir().unwrap();
        let err = training_figures(&record(ClassTable::numbered(5), false), &[], &confusion(4, None), dir.path());
        assert!(err.unwrap_err().to_string().contains("5×5"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn compares_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cmp").join("linear_vs_dnn.png");
        let runs = vec![
            ("linear".to_string(), rows(20, 2.0, 0.7)),
            ("dnn".to_string(), rows(40, 4.0, 0.85)),
            ("empty".to_string(), vec![]),
        ];
        compare_curves(&runs, "linear vs dnn", &path).unwrap();
        assert_eq!(png_size(&std::fs::read(&path).unwrap()), COMPARE_SIZE);
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn ranges_and_labels() {
        assert_eq!(accuracy_range([0.31, 0.86].into_iter()), 0.2..0.9);
        assert_eq!(accuracy_range([0.01, 0.99].into_iter()), 0.0..1.0);
        assert_eq!(accuracy_range([f64::NAN].into_iter()), 0.0..1.0);
        assert_eq!(accuracy_range([1.0].into_iter()), 0.9..1.0);
        assert_eq!(pct(0.8534), "85.3%");
        let mut r = record(ClassTable::numbered(2), false);
        assert_eq!(run_label(&r), "dnn on EMNIST byclass");
        r.dataset.name = "generated".into();
        r.dataset.synthetic = true;
        assert_eq!(run_label(&r), "dnn on generated (synthetic, not EMNIST)");
    }
}
