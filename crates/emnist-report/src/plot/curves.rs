//! Curves against epochs: `curves.png` (loss and accuracy of one run) and the panel that
//! [`compare_curves`](super::compare_curves) draws too.

use std::ops::Range;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::train::{pct, OVERALL, TEST, TRAIN};
use super::{font, title, GRID, TITLE_HEIGHT};
use emnist_model::record::{MetricsRow, ModelRecord};

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

pub(super) struct Curve {
    pub(super) label: String,
    pub(super) colour: RGBColor,
    pub(super) points: Vec<(f64, f64)>,
}

/// One plot of curves against epochs.
pub(super) struct Panel<'a> {
    pub(super) caption: &'a str,
    pub(super) y_desc: &'a str,
    /// Values are shares, labelled as percentages.
    pub(super) percent: bool,
    pub(super) x_max: f64,
    pub(super) y: Range<f64>,
}

impl Panel<'_> {
    /// Draws the curves (markers too when they are sparse), then `references` as dashed
    /// horizontal lines, with a legend at `legend`.
    pub(super) fn draw(
        &self,
        area: &Area,
        curves: &[Curve],
        references: &[(String, RGBColor, f64)],
        legend: SeriesLabelPosition,
    ) -> Result<()> {
        let mut builder = ChartBuilder::on(area);
        if !self.caption.is_empty() {
            builder.caption(self.caption, font(18));
        }
        let mut chart = builder
            .margin(10)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..self.x_max * 1.02, self.y.clone())?;
        let percent = self.percent;
        let y_fmt = move |v: &f64| if percent { format!("{:.0}", v * 100.0) } else { format!("{v:.2}") };
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(self.y_desc)
            .y_label_formatter(&y_fmt)
            .x_label_formatter(&|x: &f64| format!("{}", (x * 1e4).round() / 1e4))
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
                .draw_series(DashedLineSeries::new(
                    [(0.0, *value), (self.x_max * 1.02, *value)],
                    8,
                    5,
                    colour.stroke_width(2),
                ))?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 8, y)], colour.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(self.free_corner(curves, legend))
            .label_font(font(14))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
        Ok(())
    }

    /// `preferred` if no point of `curves` lies in that corner, else the first corner free of
    /// points (`preferred` again if none is): where the legend hides nothing.
    fn free_corner(&self, curves: &[Curve], preferred: SeriesLabelPosition) -> SeriesLabelPosition {
        use SeriesLabelPosition::*;
        let (y0, height) = (self.y.start, self.y.end - self.y.start);
        let occupied = |corner: &SeriesLabelPosition| {
            let (right, upper) = (matches!(corner, UpperRight | LowerRight), matches!(corner, UpperLeft | UpperRight));
            curves.iter().flat_map(|c| &c.points).any(|p| {
                let (x, y) = (p.0 / self.x_max, (p.1 - y0) / height);
                (if right { x > 0.55 } else { x < 0.45 }) && (if upper { y > 0.7 } else { y < 0.3 })
            })
        };
        [preferred.clone(), UpperRight, LowerRight, UpperLeft, LowerLeft]
            .into_iter()
            .find(|c| !occupied(c))
            .unwrap_or(preferred)
    }
}

/// The last epoch among `rows`, or 1 when there is none.
pub(super) fn epoch_max<'a>(rows: impl Iterator<Item = &'a MetricsRow>) -> f64 {
    let max = rows.map(|r| r.epoch).filter(|e| e.is_finite()).fold(0.0, f64::max);
    if max > 0.0 {
        max
    } else {
        1.0
    }
}

/// A y range for shares: from below the smallest to above the largest, on tenths, within [0, 1].
pub(super) fn accuracy_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return 0.0..1.0;
    }
    let lo = (((lo - 0.02) * 10.0).floor() / 10.0).clamp(0.0, 0.9);
    let hi = (((hi + 0.02) * 10.0).ceil() / 10.0).clamp(lo + 0.1, 1.0);
    lo..hi
}

pub(super) fn draw_curves(root: &Area, record: &ModelRecord, rows: &[MetricsRow], run: &str) -> Result<()> {
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
    let loss = Panel {
        caption: "loss",
        y_desc: "cross-entropy loss",
        percent: false,
        x_max,
        y: 0.0..(if top > 0.0 { top * 1.05 } else { 1.0 }),
    };
    let curves = [curve("train (running mean)", TRAIN, |r| r.train_loss), curve(&test, TEST, |r| r.test_loss)];
    let reference = [(format!("final, whole test set: {:.3}", m.test_loss), OVERALL, m.test_loss)];
    loss.draw(&left, &curves, &reference, SeriesLabelPosition::UpperRight)?;

    let accuracies = rows.iter().flat_map(|r| [r.train_acc, r.test_acc]).chain([m.test_accuracy]);
    let accuracy =
        Panel { caption: "accuracy", y_desc: "accuracy (%)", percent: true, x_max, y: accuracy_range(accuracies) };
    let curves = [curve("train (running mean)", TRAIN, |r| r.train_acc), curve(&test, TEST, |r| r.test_acc)];
    let reference = [(format!("final, whole test set: {}", pct(m.test_accuracy)), OVERALL, m.test_accuracy)];
    accuracy.draw(&right, &curves, &reference, SeriesLabelPosition::LowerRight)
}
