//! Figures of training runs: one run's learning curves, confusion matrix and per-class accuracy
//! ([`training_figures`]), and several runs' test-accuracy curves on one plot ([`compare_curves`]).

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{draw_pixels, font, register_font, text, thousands, title, viridis, write_png};
use super::{ClassAxis, MARGIN, TITLE_HEIGHT};
use crate::model::record::{MetricsRow, ModelRecord};

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
const TRAIN: RGBColor = PALETTE[0];
const TEST: RGBColor = PALETTE[1];
/// Reference lines: the final accuracy on the whole test set, and balanced accuracy.
const OVERALL: RGBColor = PALETTE[3];
const BALANCED: RGBColor = RGBColor(40, 40, 40);
const GRID: RGBColor = RGBColor(225, 225, 225);

const CURVES_SIZE: (u32, u32) = (1400, 560);
const COMPARE_SIZE: (u32, u32) = (1000, 600);
const PER_CLASS_HEIGHT: u32 = 520;

/// Writes a training run's figures into `dir` (created if missing): `curves.png`, `confusion.png`
/// and `per_class.png`, in that order; returns their paths. `confusion[truth][predicted]` counts
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
    let path = dir.join("curves.png");
    write_png(&path, CURVES_SIZE, |root| draw_curves(root, record, rows, &run))?;
    written.push(path);
    let path = dir.join("confusion.png");
    let layout = ConfusionLayout::new(&record.spec.classes.names)?;
    write_png(&path, layout.size, |root| draw_confusion(root, &layout, record, confusion, &run))?;
    written.push(path);
    let path = dir.join("per_class.png");
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
        let panel = Panel { caption: "", y_desc: "test accuracy on the evaluation sample (%)", percent: true, x_max, y };
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
fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

// ---- curves.png and compare_curves ----

struct Curve {
    label: String,
    colour: RGBColor,
    points: Vec<(f64, f64)>,
}

/// One plot of curves against epochs.
struct Panel<'a> {
    caption: &'a str,
    y_desc: &'a str,
    /// Values are shares, labelled as percentages.
    percent: bool,
    x_max: f64,
    y: Range<f64>,
}

impl Panel<'_> {
    /// Draws the curves (markers too when they are sparse), then `references` as dashed
    /// horizontal lines, with a legend at `legend`.
    fn draw(&self, area: &Area, curves: &[Curve], references: &[(String, RGBColor, f64)], legend: SeriesLabelPosition) -> Result<()> {
        let mut builder = ChartBuilder::on(area);
        if !self.caption.is_empty() {
            builder.caption(self.caption, font(18));
        }
        let mut chart = builder
            .margin(10)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..self.x_max, self.y.clone())?;
        let percent = self.percent;
        let y_fmt = move |v: &f64| if percent { format!("{:.0}", v * 100.0) } else { format!("{v:.2}") };
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(self.y_desc)
            .y_label_formatter(&y_fmt)
            .x_label_formatter(&|x: &f64| format!("{x}"))
            .label_style(font(14))
            .axis_desc_style(font(15))
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .draw()?;
        for c in curves {
            let (colour, points) = (c.colour, c.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()));
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(&c.label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
            if c.points.len() <= 25 {
                chart.draw_series(points.map(|p| Circle::new(p, 3, colour.filled())))?;
            }
        }
        for (label, colour, value) in references.iter().filter(|r| r.2.is_finite()) {
            let colour = *colour;
            chart
                .draw_series(DashedLineSeries::new([(0.0, *value), (self.x_max, *value)], 8, 5, colour.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 8, y)], colour.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(legend)
            .label_font(font(14))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
        Ok(())
    }
}

/// The last epoch among `rows`, or 1 when there is none.
fn epoch_max<'a>(rows: impl Iterator<Item = &'a MetricsRow>) -> f64 {
    let max = rows.map(|r| r.epoch).filter(|e| e.is_finite()).fold(0.0, f64::max);
    if max > 0.0 { max } else { 1.0 }
}

/// A y range for shares: from below the smallest to above the largest, on tenths, within [0, 1].
fn accuracy_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return 0.0..1.0;
    }
    let lo = (((lo - 0.02) * 10.0).floor() / 10.0).clamp(0.0, 0.9);
    let hi = (((hi + 0.02) * 10.0).ceil() / 10.0).clamp(lo + 0.1, 1.0);
    lo..hi
}

fn draw_curves(root: &Area, record: &ModelRecord, rows: &[MetricsRow], run: &str) -> Result<()> {
    let m = &record.metrics;
    let headline = format!("test accuracy {}, balanced accuracy {}", pct(m.test_accuracy), pct(m.balanced_accuracy));
    title(root, &format!("Training curves — {run}: {headline}"))?;
    let fraction = record.training.eval_fraction;
    let test = if fraction > 0.0 && fraction < 1.0 {
        format!("test ({}% sample)", (fraction * 1000.0).round() / 10.0)
    } else {
        "test".to_string()
    };
    let curve = |label: &str, colour, y: fn(&MetricsRow) -> f64| Curve {
        label: label.to_string(),
        colour,
        points: rows.iter().map(|r| (r.epoch, y(r))).collect(),
    };
    let x_max = epoch_max(rows.iter());
    let body = root.margin(TITLE_HEIGHT, 10, 10, 10);
    let (left, right) = body.split_horizontally(body.dim_in_pixel().0 / 2);

    let losses = rows.iter().flat_map(|r| [r.train_loss, r.test_loss]).chain([m.test_loss]);
    let top = losses.filter(|v| v.is_finite()).fold(0.0, f64::max);
    let loss = Panel { caption: "loss", y_desc: "cross-entropy loss", percent: false, x_max, y: 0.0..(if top > 0.0 { top * 1.05 } else { 1.0 }) };
    let curves = [curve("train (running mean)", TRAIN, |r| r.train_loss), curve(&test, TEST, |r| r.test_loss)];
    let reference = [(format!("final, whole test set: {:.3}", m.test_loss), OVERALL, m.test_loss)];
    loss.draw(&left, &curves, &reference, SeriesLabelPosition::UpperRight)?;

    let accuracies = rows.iter().flat_map(|r| [r.train_acc, r.test_acc]).chain([m.test_accuracy]);
    let accuracy = Panel { caption: "accuracy", y_desc: "accuracy (%)", percent: true, x_max, y: accuracy_range(accuracies) };
    let curves = [curve("train (running mean)", TRAIN, |r| r.train_acc), curve(&test, TEST, |r| r.test_acc)];
    let reference = [(format!("final, whole test set: {}", pct(m.test_accuracy)), OVERALL, m.test_accuracy)];
    accuracy.draw(&right, &curves, &reference, SeriesLabelPosition::LowerRight)
}

// ---- confusion.png ----

/// Where the parts of `confusion.png` go, from the class names.
struct ConfusionLayout {
    cell: u32,
    label_size: u32,
    /// Column names run upwards when they are wider than a cell.
    rotate: bool,
    /// Top left corner of the matrix.
    origin: (u32, u32),
    /// Height of the column names under the matrix.
    names_height: u32,
    size: (u32, u32),
}

const CONFUSION_NOTE: &str = "colour = √(share of the true class's test images), so small confusions stay visible";
/// Added to the note when some class has no test images.
const EMPTY_ROW_NOTE: &str = "; grey row: no test images";

impl ConfusionLayout {
    fn new(names: &[String]) -> Result<Self> {
        let k = names.len().max(1) as u32;
        let cell = (860 / k).clamp(14, 64).max(320_u32.div_ceil(k));
        let label_size = (cell * 3 / 4).clamp(11, 16);
        let name_width = text_width(names, label_size)?;
        let rotate = name_width + 4 > cell;
        let names_height = if rotate { name_width + 10 } else { label_size + 10 };
        let origin = (MARGIN + 30 + name_width + 8, TITLE_HEIGHT + 10);
        let side = k * cell;
        let note = text_width(&[format!("{CONFUSION_NOTE}{EMPTY_ROW_NOTE}")], 14)? + 2 * MARGIN;
        let width = (origin.0 + side + 24 + 18 + 50 + 30 + MARGIN).max(note).max(700);
        Ok(ConfusionLayout { cell, label_size, rotate, origin, names_height, size: (width, origin.1 + side + names_height + 70) })
    }
}

/// The widest of `texts` in pixels at font `size`.
fn text_width(texts: &[String], size: u32) -> Result<u32> {
    let f = font(size);
    texts.iter().try_fold(0, |w, t| Ok(w.max(f.font.box_size(t).map_err(|e| anyhow::anyhow!("{e}"))?.0)))
}

fn draw_confusion(root: &Area, l: &ConfusionLayout, record: &ModelRecord, confusion: &[Vec<u64>], run: &str) -> Result<()> {
    let names = &record.spec.classes.names;
    let k = names.len();
    let totals: Vec<u64> = confusion.iter().map(|r| r.iter().sum()).collect();
    let rate = |t: usize, p: usize| (totals[t] > 0).then(|| confusion[t][p] as f64 / totals[t] as f64);
    let colour = |r: Option<f64>| r.map_or(RGBColor(200, 200, 200), |r| viridis(r.sqrt() as f32));
    let images = thousands(totals.iter().sum::<u64>() as usize);
    title(root, &format!("Confusion matrix — {run}: {images} test images, rows normalised"))?;
    let ((x0, y0), side, cell) = (l.origin, k as u32 * l.cell, l.cell as i32);
    draw_pixels(&root.clone().shrink((x0, y0), (side, side)), (k, k), |p, t| colour(rate(t, p)))?;
    let (x0, y0, side) = (x0 as i32, y0 as i32, side as i32);
    // Thin lines between groups of classes (digits, uppercase, lowercase).
    let line = WHITE.mix(0.7).stroke_width(1);
    for i in (1..k).filter(|&i| record.spec.classes.group(i) != record.spec.classes.group(i - 1)) {
        let at = i as i32 * cell;
        root.draw(&PathElement::new([(x0 + at, y0), (x0 + at, y0 + side)], line))?;
        root.draw(&PathElement::new([(x0, y0 + at), (x0 + side, y0 + at)], line))?;
    }
    if k <= 20 {
        let size = (l.cell / 3).clamp(10, 16);
        for (t, p) in (0..k).flat_map(|t| (0..k).map(move |p| (t, p))) {
            let Some(r) = rate(t, p).filter(|_| confusion[t][p] > 0) else { continue };
            let ink = if r.sqrt() > 0.6 { BLACK } else { WHITE };
            let style = font(size).color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
            let at = (x0 + p as i32 * cell + cell / 2, y0 + t as i32 * cell + cell / 2);
            let share = if r < 0.005 { "<1".to_string() } else { format!("{:.0}", r * 100.0) };
            root.draw(&Text::new(share, at, style))?;
        }
    }
    let up = |size: u32| font(size).transform(FontTransform::Rotate270);
    for (i, name) in names.iter().enumerate() {
        let mid = i as i32 * cell + cell / 2;
        text(root, name, (x0 - 6, y0 + mid), l.label_size, (HPos::Right, VPos::Center))?;
        if l.rotate {
            root.draw(&Text::new(name.as_str(), (x0 + mid, y0 + side + 5), up(l.label_size).pos(Pos::new(HPos::Right, VPos::Center))))?;
        } else {
            text(root, name, (x0 + mid, y0 + side + 5), l.label_size, (HPos::Center, VPos::Top))?;
        }
    }
    let centre = Pos::new(HPos::Center, VPos::Center);
    root.draw(&Text::new("true class", (MARGIN as i32 + 8, y0 + side / 2), up(15).pos(centre)))?;
    let below = y0 + side + l.names_height as i32;
    text(root, "predicted class", (x0 + side / 2, below + 12), 15, (HPos::Center, VPos::Center))?;
    let note = if totals.contains(&0) { format!("{CONFUSION_NOTE}{EMPTY_ROW_NOTE}") } else { CONFUSION_NOTE.to_string() };
    text(root, &note, (root.dim_in_pixel().0 as i32 / 2, below + 44), 14, (HPos::Center, VPos::Center))?;
    // Colour bar, on the same √ scale as the cells.
    let bx = x0 + side + 24;
    draw_pixels(&root.clone().shrink((bx as u32, y0 as u32), (18, side as u32)), (1, side as usize), |_, y| {
        viridis(1.0 - y as f32 / (side - 1).max(1) as f32)
    })?;
    for r in [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0_f64] {
        let y = y0 + side - (r.sqrt() * side as f64).round() as i32;
        root.draw(&PathElement::new([(bx + 18, y), (bx + 23, y)], BLACK))?;
        text(root, &format!("{}%", r * 100.0), (bx + 26, y), 13, (HPos::Left, VPos::Center))?;
    }
    let bar_title = up(14).pos(centre);
    root.draw(&Text::new("share of the true class (√ scale)", (bx + 18 + 64, y0 + side / 2), bar_title))?;
    Ok(())
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
        (TRAIN, format!("accuracy on the class's test images (recall)")),
        (OVERALL, format!("overall test accuracy {}", pct(m.test_accuracy))),
        (BALANCED, format!("balanced accuracy {} (mean over classes)", pct(m.balanced_accuracy))),
    ];
    let widths: Vec<u32> = entries.iter().map(|(_, t)| text_width(&[t.clone()], 15)).collect::<Result<_>>()?;
    let mut x = (root.dim_in_pixel().0.saturating_sub(widths.iter().map(|w| w + 56).sum()) / 2) as i32;
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
    chart.draw_series(bars.map(|(i, &a)| Rectangle::new([(i as f64 + 0.15, 0.0), (i as f64 + 0.85, a)], TRAIN.filled())))?;
    let across = |v: f64| [(0.0, v), (k as f64, v)];
    chart.draw_series(LineSeries::new(across(m.test_accuracy), OVERALL.stroke_width(2)))?;
    chart.draw_series(LineSeries::new(across(m.balanced_accuracy), BALANCED.stroke_width(2)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::png_size;
    use super::*;
    use crate::data::ClassTable;
    use crate::model::record::{Confusion, DatasetRef, FinalMetrics, TrainSettings, Versions, RECORD_VERSION};
    use crate::model::{Architecture, ModelSpec};

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
                class_weights: "none".into(),
                eval_every: 100,
                eval_fraction: 0.1,
                device: "cpu".into(),
                threads: 4,
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
        assert_eq!(ConfusionLayout::new(&ClassTable::byclass().names).unwrap().size.0 > 62 * 14, true);
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
        let runs = vec![("linear".to_string(), rows(20, 2.0, 0.7)), ("dnn".to_string(), rows(40, 4.0, 0.85)), ("empty".to_string(), vec![])];
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

    #[test]
    fn look() {
        let out = std::path::Path::new("/tmp/plotlook");
        let mut r = record(ClassTable::byclass(), false);
        r.metrics.test_accuracy = 0.853;
        training_figures(&r, &rows(100, 5.0, 0.86), &confusion(62, None), &out.join("byclass")).unwrap();
        training_figures(&record(ClassTable::numbered(10), true), &rows(30, 3.0, 0.97), &confusion(10, Some(3)), &out.join("ten")).unwrap();
        let runs = vec![("linear".to_string(), rows(100, 5.0, 0.70)), ("dnn".to_string(), rows(100, 5.0, 0.85)), ("cnn".to_string(), rows(60, 3.0, 0.88))];
        compare_curves(&runs, "linear vs dnn vs cnn on EMNIST byclass", &out.join("compare.png")).unwrap();
        let rows_ = (1..=26).map(|i| vec![i, 64 + i, 96 + i]).collect::<Vec<_>>();
        let letters = ClassTable::from_mapping(&rows_).unwrap();
        training_figures(&record(letters, false), &rows(8, 2.0, 0.9), &confusion(26, None), &out.join("letters")).unwrap();
        let names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
        let fashion = ClassTable { labels: (0..10).collect(), names: names.iter().map(|n| n.to_string()).collect() };
        training_figures(&record(fashion, false), &rows(8, 2.0, 0.9), &confusion(10, None), &out.join("fashion")).unwrap();
        training_figures(&record(ClassTable::numbered(3), false), &rows(1, 0.1, 0.5), &confusion(3, None), &out.join("three")).unwrap();
    }
}
