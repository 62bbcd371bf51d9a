//! `emnist explore --data LOGDIR --out DIR`: what a deployment saw against its reference data:
//! predicted class shares, the confidence histogram and the mean-ink distributions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{legend, paired_share_bars, register_font, share_mesh, thousands, title, write_png, TITLE_HEIGHT};
use emnist_data::deployment::{DeploymentReport, INK_BINS};

/// The log's colour and the reference's.
const LOG_COLOUR: RGBColor = RGBColor(214, 39, 40);
const REFERENCE_COLOUR: RGBColor = RGBColor(31, 119, 180);

/// The figures [`deployment_figures`] writes, in order.
pub const DEPLOYMENT_FIGURES: [&str; 3] = ["predicted_classes.png", "confidence.png", "mean_ink.png"];

/// Writes the deployment figures into `dir` (created if missing); returns the paths written, in
/// the order of [`DEPLOYMENT_FIGURES`].
pub fn deployment_figures(report: &DeploymentReport, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    emnist_data::fsutil::remove_stale_temps(dir, |n| DEPLOYMENT_FIGURES.contains(&n));
    register_font()?;
    let paths: Vec<PathBuf> = DEPLOYMENT_FIGURES.iter().map(|n| dir.join(n)).collect();
    write_png(&paths[0], classes_size(report), |root| draw_classes(root, report))?;
    write_png(&paths[1], (900, 560), |root| draw_confidence(root, report))?;
    write_png(&paths[2], (900, 560), |root| draw_ink(root, report))?;
    Ok(paths)
}

/// The reference's name, marked when it is the synthetic stand-in.
fn reference_label(report: &DeploymentReport) -> String {
    let r = &report.reference;
    if r.synthetic && !r.dataset.name.contains("not EMNIST") {
        format!("{} (synthetic, not EMNIST)", r.dataset.name)
    } else {
        r.dataset.name.clone()
    }
}

fn classes_size(report: &DeploymentReport) -> (u32, u32) {
    ((140 + 22 * report.classes.len() as u32).max(900), TITLE_HEIGHT + 20 + 420)
}

fn draw_classes(root: &DrawingArea<BitMapBackend, Shift>, report: &DeploymentReport) -> Result<()> {
    let psi = report.drift.class_psi.map_or_else(String::new, |p| format!(" (PSI {p:.3})"));
    title(root, &format!("Predicted classes vs the reference's shares{psi}"))?;
    legend(
        root,
        &[
            (LOG_COLOUR, format!("predicted ({} logged images)", thousands(report.images))),
            (
                REFERENCE_COLOUR,
                format!("{} ({} train images)", reference_label(report), thousands(report.reference.train_images)),
            ),
        ],
    )?;
    let body = root.margin(TITLE_HEIGHT + 20, 0, 0, 0);
    let max = report.classes.iter().map(|c| c.predicted_share.max(c.reference_share)).fold(0.0, f64::max) * 100.0;
    let names: Vec<&str> = report.classes.iter().map(|c| c.name.as_str()).collect();
    let shares: Vec<(f64, f64)> = report.classes.iter().map(|c| (c.predicted_share, c.reference_share)).collect();
    paired_share_bars(&body, None, &names, &shares, (LOG_COLOUR, REFERENCE_COLOUR), (max * 1.15).max(1.0))
}

fn draw_confidence(root: &DrawingArea<BitMapBackend, Shift>, report: &DeploymentReport) -> Result<()> {
    let mean = report.confidence.mean.map_or_else(String::new, |m| format!(" (mean {m:.3})"));
    title(root, &format!("Top-1 probability of {} logged images{mean}", thousands(report.images)))?;
    let bins = &report.confidence.bins;
    let y_max = (bins.iter().map(|b| b.share).fold(0.0, f64::max) * 115.0).max(1.0);
    let mut chart = ChartBuilder::on(&root.margin(TITLE_HEIGHT, 0, 0, 0))
        .margin(10)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..1.0, 0.0..y_max)?;
    share_mesh(&mut chart)
        .x_labels(11)
        .x_label_formatter(&|x: &f64| format!("{x:.1}"))
        .y_label_formatter(&|y: &f64| format!("{y:.0}"))
        .x_desc("top-1 probability")
        .draw()?;
    chart.draw_series(bins.iter().map(|b| {
        let pad = (b.high - b.low) * 0.06;
        Rectangle::new([(b.low + pad, 0.0), (b.high - pad, b.share * 100.0)], LOG_COLOUR.filled())
    }))?;
    Ok(())
}

fn draw_ink(root: &DrawingArea<BitMapBackend, Shift>, report: &DeploymentReport) -> Result<()> {
    let ink = &report.ink;
    let ks =
        report.drift.ink_ks.map_or_else(String::new, |t| format!(" (KS D {:.3}, p {:.2e})", t.statistic, t.p_value));
    title(root, &format!("Mean ink per image{ks}"))?;
    legend(
        root,
        &[
            (LOG_COLOUR, format!("logged (mean {:.3})", ink.log_mean)),
            (REFERENCE_COLOUR, format!("{} (mean {:.3})", reference_label(report), ink.reference_mean)),
        ],
    )?;
    let width = 1.0 / INK_BINS as f64;
    // Up to the last bin either side fills, plus one.
    let last = ink.log_histogram.iter().zip(&ink.reference_histogram).rposition(|(a, b)| *a > 0.0 || *b > 0.0);
    let x_max = last.map_or(1.0, |i| ((i + 2) as f64 * width).min(1.0));
    let y_max = ink.log_histogram.iter().chain(&ink.reference_histogram).fold(0.0f64, |m, &v| m.max(v)) * 115.0;
    let mut chart = ChartBuilder::on(&root.margin(TITLE_HEIGHT + 20, 0, 0, 0))
        .margin(10)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max.max(1.0))?;
    share_mesh(&mut chart)
        .x_label_formatter(&|x: &f64| format!("{x:.2}"))
        .y_label_formatter(&|y: &f64| format!("{y:.0}"))
        .x_desc("mean pixel value of an image (0 = blank, 1 = all ink)")
        .draw()?;
    // Each histogram as a step outline, so both stay visible where they overlap.
    for (hist, colour) in [(&ink.reference_histogram, REFERENCE_COLOUR), (&ink.log_histogram, LOG_COLOUR)] {
        let mut points = vec![(0.0, 0.0)];
        for (i, &s) in hist.iter().enumerate() {
            points.push((i as f64 * width, s * 100.0));
            points.push(((i + 1) as f64 * width, s * 100.0));
        }
        points.push((1.0, 0.0));
        chart.draw_series(LineSeries::new(points, colour.stroke_width(2)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::png_size;
    use super::*;
    use emnist_data::payload_log::{LogContents, Prediction};
    use emnist_data::{ClassTable, Dataset, DatasetInfo, Part, SourceFormat, PIXELS};

    #[test]
    fn writes_the_three_figures() {
        let part = Part { images: vec![40u8; 3 * PIXELS].into(), labels: vec![0u8, 1, 1].into(), writers: None };
        let reference = Dataset {
            info: DatasetInfo { name: "tiny".into(), split: None, format: SourceFormat::Synthetic, path: None },
            classes: ClassTable::numbered(3),
            train: part.clone(),
            test: part,
        };
        let prediction = |i: usize| Prediction {
            id: format!("r{i}"),
            index: 0,
            time_ms: i as u64,
            model: "m".into(),
            version: 1,
            protocol: "kserve".into(),
            class: (i % 3).to_string(),
            top: vec![((i % 3).to_string(), (i as f32 / 20.0).min(1.0))],
            pixels: vec![(i * 7) as u8; PIXELS],
        };
        let log = LogContents { predictions: (0..20).map(prediction).collect(), ..LogContents::default() };
        let report = emnist_data::deployment::report(Path::new("log"), &log, &reference);
        assert_eq!(reference_label(&report), "tiny (synthetic, not EMNIST)");
        let dir = tempfile::tempdir().unwrap();
        let paths = deployment_figures(&report, dir.path()).unwrap();
        let names: Vec<_> = paths.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, DEPLOYMENT_FIGURES);
        for (p, size) in paths.iter().zip([classes_size(&report), (900, 560), (900, 560)]) {
            let bytes = std::fs::read(p).unwrap();
            assert!(bytes.len() > 2000, "{} is only {} bytes", p.display(), bytes.len());
            assert_eq!(png_size(&bytes), size);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "no temporary file is left behind");
    }
}
