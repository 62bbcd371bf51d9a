//! PNG figures drawn with plotters: the exploration figures of `emnist explore --out DIR` and
//! [`draw_pixels`], the raster helper other figures reuse.
//!
//! Text uses DejaVu Sans embedded in the binary (registered once as `sans-serif`), so no system
//! font or fontconfig is needed. Every file is rendered to a hidden temporary name in the same
//! folder and renamed into place, so a reader never sees half a PNG.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::data::classes::ClassGroup;
use crate::data::{Dataset, SIDE};
use crate::explore::{mean_images, ExploreReport};

/// The font every figure's text uses, registered under [`FONT`] on first use.
const FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// Family name figures ask for.
const FONT: &str = "sans-serif";
/// Sample images per class row in `samples.png`.
const SAMPLES_PER_CLASS: usize = 10;
/// Mean images per row in `mean_images.png`.
const MEANS_PER_ROW: usize = 10;
/// Bar colours of the train and test shares.
const TRAIN_COLOUR: RGBColor = RGBColor(31, 119, 180);
const TEST_COLOUR: RGBColor = RGBColor(255, 127, 14);

/// Writes the exploration figures into `dir` (created if missing); returns the paths written:
/// `class_distribution.png`, `samples.png` and `mean_images.png`, in that order.
pub fn explore_figures(ds: &Dataset, report: &ExploreReport, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
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

/// Draws a `width`×`height` raster into `area`, stretched to fill it by nearest neighbour: source
/// pixel (x, y) becomes the block of area pixels from x·W/width to (x+1)·W/width (likewise in y),
/// so an area that is an exact multiple of the raster gets equal square blocks, with no blur or gaps.
/// `colour(x, y)` gives each source pixel's colour; [`grey`] and [`viridis`] map values in [0, 1].
pub fn draw_pixels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (width, height): (usize, usize),
    colour: impl Fn(usize, usize) -> RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (w, h) = area.dim_in_pixel();
    if width == 0 || height == 0 || w == 0 || h == 0 {
        return Ok(());
    }
    let (w, h) = (w as usize, h as usize);
    let source: Vec<RGBColor> =
        (0..height).flat_map(|y| (0..width).map(move |x| (x, y))).map(|(x, y)| colour(x, y)).collect();
    let mut buf = Vec::with_capacity(w * h * 3);
    for py in 0..h {
        let row = &source[py * height / h * width..][..width];
        for px in 0..w {
            let RGBColor(r, g, b) = row[px * width / w];
            buf.extend_from_slice(&[r, g, b]);
        }
    }
    let image = BitMapElement::with_owned_buffer((0, 0), (w as u32, h as u32), buf).expect("buffer holds w×h pixels");
    area.draw(&image)
}

/// Grey colour map: 0 is black, 1 is white.
pub fn grey(v: f32) -> RGBColor {
    let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    RGBColor(g, g, g)
}

/// Viridis colour map (dark violet at 0, yellow at 1), interpolated from nine of its stops.
pub fn viridis(v: f32) -> RGBColor {
    const STOPS: [[u8; 3]; 9] = [
        [68, 1, 84],
        [71, 44, 122],
        [59, 81, 139],
        [44, 113, 142],
        [33, 144, 141],
        [39, 173, 129],
        [92, 200, 99],
        [170, 220, 50],
        [253, 231, 37],
    ];
    let t = v.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let (a, b, f) = (STOPS[i], STOPS[i + 1], t - i as f32);
    let mix = |c: usize| (a[c] as f32 + (b[c] as f32 - a[c] as f32) * f).round() as u8;
    RGBColor(mix(0), mix(1), mix(2))
}

/// Registers the embedded font once; later calls return the first outcome.
fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the embedded font `assets/fonts/DejaVuSans.ttf` is not a valid font"))
    }
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

/// Renders into `.<name>.tmp.png` beside `path` on a white background, then renames it into place.
fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("figure.png");
    let tmp = path.with_file_name(format!(".{}.tmp.png", name.trim_end_matches(".png")));
    let rendered = (|| {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    let result = rendered.and_then(|()| std::fs::rename(&tmp, path).map_err(anyhow::Error::from));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write `{}`", path.display()))
}

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
}

/// Draws a figure's title centred at the top, shrinking the font until it fits the width.
fn title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let width = area.dim_in_pixel().0;
    let mut size = 24;
    while size > 12 && area.estimate_text_size(title, &font(size))?.0 + 2 * MARGIN > width {
        size -= 1;
    }
    text(area, title, (width as i32 / 2, 14), size, (HPos::Center, VPos::Top))
}

/// `n` with thousands separators: 60,000.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Draws `text` anchored at `pos` (horizontal, vertical) on `area`.
fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    at: (i32, i32),
    size: u32,
    anchor: (HPos, VPos),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    area.draw(&Text::new(text.to_string(), at, font(size).pos(Pos::new(anchor.0, anchor.1))))
}

// ---- class_distribution.png ----

const PANEL_HEIGHT: u32 = 300;
const TITLE_HEIGHT: u32 = 56;

/// An x axis of `n` classes: class `i` spans `[i, i + 1)` and its tick sits at `i + 0.5`.
struct ClassAxis(usize);

impl Ranged for ClassAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (lo, hi): (i32, i32)) -> i32 {
        lo + ((hi - lo) as f64 * value / self.0.max(1) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            (0..self.0).map(|i| i as f64 + 0.5).collect()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.0 as f64
    }
}

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
    let widths: Vec<u32> =
        entries.iter().map(|(_, t)| root.estimate_text_size(t, &font(16)).map(|s| s.0)).collect::<Result<_, _>>()?;
    let total: u32 = widths.iter().map(|w| w + 60).sum();
    let mut x = (root.dim_in_pixel().0.saturating_sub(total) / 2) as i32;
    let y = TITLE_HEIGHT as i32 + 2;
    for ((colour, label), w) in entries.iter().zip(widths) {
        root.draw(&Rectangle::new([(x, y - 8), (x + 16, y + 8)], colour.filled()))?;
        text(root, label, (x + 24, y), 16, (HPos::Left, VPos::Center))?;
        x += w as i32 + 60;
    }
    let body = root.margin(TITLE_HEIGHT + 20, 0, 0, 0);
    let max_pct = report.per_class.iter().map(|c| c.train_share.max(c.test_share)).fold(0.0, f64::max) * 100.0;
    let y_max = (max_pct * 1.15).max(1.0);
    let panels = body.split_evenly((report.groups.len().max(1), 1));
    let only = report.groups.len() == 1;
    let decimals = if y_max >= 10.0 { 0 } else { 1 };
    for (group, panel) in report.groups.iter().zip(&panels) {
        let classes: Vec<_> = report.per_class.iter().filter(|c| c.group == group.group).collect();
        let n = classes.len();
        let names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
        let mut chart = ChartBuilder::on(panel)
            .caption(group_caption(group.group, n, only), font(18))
            .margin(10)
            .margin_right(24)
            .x_label_area_size(30)
            .y_label_area_size(64)
            .build_cartesian_2d(ClassAxis(n), 0.0..y_max)?;
        let x_fmt = |x: &f64| names.get(x.floor() as usize).cloned().unwrap_or_default();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|y: &f64| format!("{y:.decimals$}"))
            .y_desc("share of images (%)")
            .label_style(font(15))
            .axis_desc_style(font(15))
            .y_labels(8)
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(WHITE)
            .draw()?;
        let bar = |i: usize, lo: f64, hi: f64, share: f64, c: RGBColor| {
            Rectangle::new([(i as f64 + lo, 0.0), (i as f64 + hi, share * 100.0)], c.filled())
        };
        chart.draw_series(classes.iter().enumerate().map(|(i, c)| bar(i, 0.1, 0.5, c.train_share, TRAIN_COLOUR)))?;
        chart.draw_series(classes.iter().enumerate().map(|(i, c)| bar(i, 0.5, 0.9, c.test_share, TEST_COLOUR)))?;
    }
    Ok(())
}

// ---- samples.png and mean_images.png: grids of images ----

const MARGIN: u32 = 20;
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
    use super::*;
    use crate::data::{ClassTable, DatasetInfo, Part, SourceFormat, PIXELS};
    use crate::explore::explore;

    fn dataset(classes: ClassTable, train: Vec<u8>, test: Vec<u8>) -> Dataset {
        let part = |labels: Vec<u8>| {
            let images: Vec<u8> = (0..labels.len() * PIXELS).map(|i| ((i * 37) % 256) as u8).collect();
            Part { images: images.into(), labels: labels.into(), writers: None }
        };
        let info = DatasetInfo { name: "tiny".into(), split: None, format: SourceFormat::Idx, path: None };
        Dataset { info, classes, train: part(train), test: part(test) }
    }

    /// Width and height from a PNG's IHDR chunk, after checking the signature.
    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
        (be(16), be(20))
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

    #[test]
    fn pixels_become_equal_square_blocks() {
        let mut buf = vec![0u8; 6 * 4 * 3];
        {
            let area = BitMapBackend::with_buffer(&mut buf, (6, 4)).into_drawing_area();
            draw_pixels(&area, (3, 2), |x, y| grey(if (x + y) % 2 == 0 { 1.0 } else { 0.0 })).unwrap();
            area.present().unwrap();
        }
        let at = |x: usize, y: usize| buf[(y * 6 + x) * 3];
        let expected = |x: usize, y: usize| if (x / 2 + y / 2) % 2 == 0 { 255 } else { 0 };
        for y in 0..4 {
            for x in 0..6 {
                assert_eq!(at(x, y), expected(x, y), "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn colour_maps_and_numbers() {
        assert_eq!(
            [thousands(0), thousands(999), thousands(60000), thousands(1234567)],
            ["0", "999", "60,000", "1,234,567"]
        );
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!((grey(0.0), grey(1.0)), (RGBColor(0, 0, 0), RGBColor(255, 255, 255)));
    }
}
