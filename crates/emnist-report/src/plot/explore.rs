//! `emnist explore --out DIR`: the class distribution, sample images and mean images of a dataset.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{draw_pixels, grey, legend, paired_share_bars, register_font, text, thousands, title, viridis, write_png};
use super::{MARGIN, TITLE_HEIGHT};
use emnist_data::classes::ClassGroup;
use emnist_data::explore::{mean_images, ExploreReport};
use emnist_data::{Dataset, SIDE};

/// Sample images per class row in `samples.png`.
const SAMPLES_PER_CLASS: usize = 10;
/// Mean images per row in `mean_images.png`.
const MEANS_PER_ROW: usize = 10;
/// Bar colours of the train and test shares.
const TRAIN_COLOUR: RGBColor = RGBColor(31, 119, 180);
const TEST_COLOUR: RGBColor = RGBColor(255, 127, 14);

/// The figures [`explore_figures`] writes.
const FIGURES: [&str; 3] = ["class_distribution.png", "samples.png", "mean_images.png"];

/// Writes the exploration figures into `dir` (created if missing); returns the paths written:
/// `class_distribution.png`, `samples.png` and `mean_images.png`, in that order.
pub fn explore_figures(ds: &Dataset, report: &ExploreReport, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    emnist_data::fsutil::remove_stale_temps(dir, |n| FIGURES.contains(&n));
    register_font()?;
    let label = dataset_label(report);
    let mut written = Vec::new();
    let path = dir.join("class_distribution.png");
    write_png(&path, distribution_size(report), |root| draw_distribution(root, report, &label))?;
    written.push(path);
    let path = dir.join("samples.png");
    write_png(&path, samples_size(report.classes), |root| draw_samples(root, ds, report, &label))?;
    written.push(path);
    let path = dir.join("mean_images.png");
    write_png(&path, means_size(report.classes), |root| draw_means(root, ds, report, &label))?;
    written.push(path);
    Ok(written)
}

/// How titles name the dataset; the synthetic set always says it is synthetic and not EMNIST.
fn dataset_label(report: &ExploreReport) -> String {
    let name = &report.dataset.name;
    if report.synthetic && !(name.contains("synthetic") && name.contains("not EMNIST")) {
        format!("{name}: synthetic (not EMNIST)")
    } else {
        name.clone()
    }
}

// ---- class_distribution.png ----

const PANEL_HEIGHT: u32 = 300;

fn distribution_size(report: &ExploreReport) -> (u32, u32) {
    let widest = report.groups.iter().map(|g| g.classes).max().unwrap_or(1) as u32;
    ((140 + 42 * widest).max(900), TITLE_HEIGHT + 20 + PANEL_HEIGHT * report.groups.len().max(1) as u32)
}

fn group_caption(group: ClassGroup, classes: usize, only: bool) -> String {
    let what = match group {
        _ if only => "classes",
        ClassGroup::Digit => "digits",
        ClassGroup::Uppercase => "uppercase letters",
        ClassGroup::Lowercase => "lowercase letters",
        ClassGroup::Letter => "letters, upper and lower case merged",
        ClassGroup::Other => "other classes",
    };
    format!("{what} ({classes})")
}

fn draw_distribution(root: &DrawingArea<BitMapBackend, Shift>, report: &ExploreReport, label: &str) -> Result<()> {
    title(root, &format!("Class distribution — {label}"))?;
    // The legend sits under the title, where it cannot hide a bar.
    let entries = [
        (TRAIN_COLOUR, format!("train ({} images)", thousands(report.train_images))),
        (TEST_COLOUR, format!("test ({} images)", thousands(report.test_images))),
    ];
    legend(root, &entries)?;
    let body = root.margin(TITLE_HEIGHT + 20, 0, 0, 0);
    let max_pct = report.per_class.iter().map(|c| c.train_share.max(c.test_share)).fold(0.0, f64::max) * 100.0;
    let y_max = (max_pct * 1.15).max(1.0);
    let panels = body.split_evenly((report.groups.len().max(1), 1));
    let only = report.groups.len() == 1;
    for (group, panel) in report.groups.iter().zip(&panels) {
        let classes: Vec<_> = report.per_class.iter().filter(|c| c.group == group.group).collect();
        let names: Vec<&str> = classes.iter().map(|c| c.name.as_str()).collect();
        let shares: Vec<(f64, f64)> = classes.iter().map(|c| (c.train_share, c.test_share)).collect();
        let caption = group_caption(group.group, classes.len(), only);
        paired_share_bars(panel, Some(caption), &names, &shares, (TRAIN_COLOUR, TEST_COLOUR), y_max)?;
    }
    Ok(())
}

// ---- samples.png and mean_images.png: grids of images ----

const SAMPLE_SCALE: u32 = 2;
const SAMPLE_GAP: u32 = 4;
const NAME_WIDTH: u32 = 48;
const BLOCK_GAP: u32 = 36;

/// Columns of class rows in `samples.png`: about as wide as tall for 62 classes, one column for 10.
fn sample_columns(classes: usize) -> usize {
    ((classes as f64 / 12.0).sqrt().ceil() as usize).max(1)
}

fn samples_size(classes: usize) -> (u32, u32) {
    let cols = sample_columns(classes) as u32;
    let rows = classes.div_ceil(cols as usize) as u32;
    let cell = SIDE as u32 * SAMPLE_SCALE + SAMPLE_GAP;
    let block = NAME_WIDTH + SAMPLES_PER_CLASS as u32 * cell;
    let width = (2 * MARGIN + cols * block + (cols - 1) * BLOCK_GAP).max(700);
    (width, TITLE_HEIGHT + rows * cell + MARGIN)
}

fn draw_samples(
    root: &DrawingArea<BitMapBackend, Shift>,
    ds: &Dataset,
    report: &ExploreReport,
    label: &str,
) -> Result<()> {
    let k = report.classes;
    let mut picks: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in ds.train.labels.iter().enumerate() {
        if let Some(p) = picks.get_mut(l as usize).filter(|p| p.len() < SAMPLES_PER_CLASS) {
            p.push(i);
        }
    }
    title(root, &format!("First {SAMPLES_PER_CLASS} train images per class — {label}"))?;
    let cols = sample_columns(k);
    let rows = k.div_ceil(cols);
    let side = SIDE as u32 * SAMPLE_SCALE;
    let cell = side + SAMPLE_GAP;
    let block = NAME_WIDTH + SAMPLES_PER_CLASS as u32 * cell + BLOCK_GAP;
    for (c, picked) in picks.iter().enumerate() {
        let x0 = MARGIN + (c / rows) as u32 * block;
        let y0 = TITLE_HEIGHT + (c % rows) as u32 * cell;
        let (name_x, mid) = ((x0 + NAME_WIDTH) as i32, (y0 + side / 2) as i32);
        text(root, &report.per_class[c].name, (name_x - 10, mid), 20, (HPos::Right, VPos::Center))?;
        if picked.is_empty() {
            text(root, "no train images", (name_x, mid), 15, (HPos::Left, VPos::Center))?;
        }
        for (j, &i) in picked.iter().enumerate() {
            let img = ds.train.image(i);
            let area = root.clone().shrink((x0 + NAME_WIDTH + j as u32 * cell, y0), (side, side));
            draw_pixels(&area, (SIDE, SIDE), |x, y| grey(img[y * SIDE + x] as f32 / 255.0))?;
        }
    }
    Ok(())
}

const MEAN_SCALE: u32 = 3;
const MEAN_LABEL: u32 = 26;
const MEAN_GAP: u32 = 12;
const COLOURBAR: u32 = 56;

fn means_size(classes: usize) -> (u32, u32) {
    let per_row = classes.min(MEANS_PER_ROW) as u32;
    let rows = classes.div_ceil(MEANS_PER_ROW) as u32;
    let side = SIDE as u32 * MEAN_SCALE;
    let width = (2 * MARGIN + per_row * (side + MEAN_GAP)).max(900);
    (width, TITLE_HEIGHT + rows * (MEAN_LABEL + side + MEAN_GAP) + COLOURBAR)
}

fn draw_means(
    root: &DrawingArea<BitMapBackend, Shift>,
    ds: &Dataset,
    report: &ExploreReport,
    label: &str,
) -> Result<()> {
    let k = report.classes;
    let means = mean_images(&ds.train, k);
    let (width, height) = root.dim_in_pixel();
    title(root, &format!("Mean train image per class — {label}"))?;
    let side = SIDE as u32 * MEAN_SCALE;
    let per_row = k.min(MEANS_PER_ROW) as u32;
    let x_start = (width - per_row * (side + MEAN_GAP) + MEAN_GAP) / 2;
    for (c, mean) in means.iter().enumerate() {
        let x0 = x_start + (c % MEANS_PER_ROW) as u32 * (side + MEAN_GAP);
        let y0 = TITLE_HEIGHT + (c / MEANS_PER_ROW) as u32 * (MEAN_LABEL + side + MEAN_GAP);
        let name = format!("{} ({})", report.per_class[c].name, thousands(report.per_class[c].train));
        text(root, &name, ((x0 + side / 2) as i32, (y0 + MEAN_LABEL / 2) as i32), 15, (HPos::Center, VPos::Center))?;
        let area = root.clone().shrink((x0, y0 + MEAN_LABEL), (side, side));
        draw_pixels(&area, (SIDE, SIDE), |x, y| viridis(mean[y * SIDE + x]))?;
    }
    // Colour bar: what the colours mean.
    let (bar_w, bar_h) = (300u32, 14u32);
    let (bx, by) = ((width - bar_w) / 2, height - COLOURBAR + 10);
    draw_pixels(&root.clone().shrink((bx, by), (bar_w, bar_h)), (bar_w as usize, 1), |x, _| {
        viridis(x as f32 / (bar_w - 1) as f32)
    })?;
    let mid = (by + bar_h / 2) as i32;
    text(root, "0 (background)", (bx as i32 - 8, mid), 14, (HPos::Right, VPos::Center))?;
    text(root, "1 (full ink)", ((bx + bar_w) as i32 + 8, mid), 14, (HPos::Left, VPos::Center))?;
    let note = "mean pixel value; (n) = train images";
    text(root, note, ((width / 2) as i32, mid + 20), 14, (HPos::Center, VPos::Center))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::png_size;
    use super::*;
    use emnist_data::explore::explore;
    use emnist_data::{ClassTable, DatasetInfo, Part, SourceFormat, PIXELS};

    fn dataset(classes: ClassTable, train: Vec<u8>, test: Vec<u8>) -> Dataset {
        let part = |labels: Vec<u8>| {
            let images: Vec<u8> = (0..labels.len() * PIXELS).map(|i| ((i * 37) % 256) as u8).collect();
            Part { images: images.into(), labels: labels.into(), writers: None }
        };
        let info = DatasetInfo { name: "tiny".into(), split: None, format: SourceFormat::Idx, path: None };
        Dataset { info, classes, train: part(train), test: part(test) }
    }

    fn check(ds: &Dataset) {
        let report = explore(ds);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("figures");
        let paths = explore_figures(ds, &report, &out).unwrap();
        let names: Vec<_> = paths.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["class_distribution.png", "samples.png", "mean_images.png"]);
        let expected = [distribution_size(&report), samples_size(report.classes), means_size(report.classes)];
        for (p, size) in paths.iter().zip(expected) {
            let bytes = std::fs::read(p).unwrap();
            assert!(bytes.len() > 2000, "{} is only {} bytes", p.display(), bytes.len());
            assert_eq!(png_size(&bytes), size);
        }
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
    }

    #[test]
    fn writes_figures_for_three_characters() {
        let classes = ClassTable::from_mapping(&[vec![0, 48], vec![1, 65], vec![2, 97]]).unwrap();
        // Class 'a' has no test image.
        check(&dataset(classes, vec![0, 0, 1, 2, 0, 1], vec![0, 1]));
    }

    #[test]
    fn writes_figures_for_numbered_classes() {
        // Class 9 has no train image: its samples row says so and its mean is black.
        let train: Vec<u8> = (0..40).map(|i| (i % 9) as u8).collect();
        check(&dataset(ClassTable::numbered(10), train, (0..10).collect()));
    }

    #[test]
    fn synthetic_titles_say_not_emnist() {
        let mut ds = dataset(ClassTable::numbered(2), vec![0, 1], vec![0, 1]);
        ds.info.format = SourceFormat::Synthetic;
        ds.info.name = "generated".into();
        assert_eq!(dataset_label(&explore(&ds)), "generated: synthetic (not EMNIST)");
        ds.info.format = SourceFormat::Idx;
        assert_eq!(dataset_label(&explore(&ds)), "generated");
    }
}
