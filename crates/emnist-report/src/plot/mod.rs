//! PNG figures drawn with plotters: a dataset's ([`explore_figures`], in `explore.rs`), a payload
//! log's against its reference ([`deployment_figures`], in `deployment.rs`) and training
//! runs' ([`training_figures`] and [`compare_curves`], in `train.rs`, `curves.rs` and
//! `confusion.rs`). This module holds what they share: the font, atomic PNG writing, text helpers,
//! [`draw_pixels`] and the colour maps.
//!
//! Text uses DejaVu Sans embedded in the binary (registered once as `sans-serif`), so no system
//! font or fontconfig is needed. Every file is rendered to a hidden temporary name in the same
//! folder and renamed into place, so a reader never sees half a PNG.

mod confusion;
mod curves;
mod deployment;
mod explore;
mod train;

pub use deployment::{deployment_figures, DEPLOYMENT_FIGURES};
pub use explore::explore_figures;
pub use train::{compare_curves, training_figures};

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The font every figure's text uses, registered under [`FONT`] on first use.
const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// Family name figures ask for.
const FONT: &str = "sans-serif";
/// Height of the band a figure's title sits in.
const TITLE_HEIGHT: u32 = 56;
/// Space kept between text and a figure's edge.
const MARGIN: u32 = 20;
/// Grid lines of charts.
const GRID: RGBColor = RGBColor(225, 225, 225);

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

/// Renders into `.<name>.<pid>.tmp.png` beside `path` (plotters picks the encoder by the
/// extension) on a white background, then renames it into place.
fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    let tmp = emnist_data::fsutil::temp_path_with_extension(path, "png");
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

/// The mesh of every chart of image shares (explore's and a payload log's): no vertical grid
/// lines, the y axis in percent of images, the house font and grid. Callers add their labels.
fn share_mesh<'a, 'b, DB, X, Y>(
    chart: &'b mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    DB: DrawingBackend,
    X: Ranged + plotters::coord::ranged1d::ValueFormatter<X::ValueType>,
    Y: Ranged + plotters::coord::ranged1d::ValueFormatter<Y::ValueType>,
{
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .y_desc("share of images (%)")
        .label_style(font(15))
        .axis_desc_style(font(15))
        .bold_line_style(GRID)
        .light_line_style(WHITE);
    mesh
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

pub use emnist_data::text::thousands;

/// The widest of `texts` in pixels at font `size`.
fn text_width<S: AsRef<str>>(texts: &[S], size: u32) -> Result<u32> {
    let f = font(size);
    texts.iter().try_fold(0, |w, t| Ok(w.max(f.font.box_size(t.as_ref()).map_err(|e| anyhow!("{e}"))?.0)))
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

/// A legend of coloured squares under the title, centred.
/// Two bars per class, side by side in its slot, shares in [0, 1] drawn as percent of images, the
/// class names under them: explore's train vs test and a payload log's predicted vs reference.
/// `y_max` (percent) is shared by the caller's panels; `caption` titles the panel.
fn paired_share_bars(
    area: &DrawingArea<BitMapBackend, Shift>,
    caption: Option<String>,
    names: &[&str],
    shares: &[(f64, f64)],
    colours: (RGBColor, RGBColor),
    y_max: f64,
) -> Result<()> {
    let n = names.len();
    let mut builder = ChartBuilder::on(area);
    if let Some(caption) = caption {
        builder.caption(caption, font(18));
    }
    let mut chart = builder
        .margin(10)
        .margin_right(24)
        .x_label_area_size(30)
        .y_label_area_size(64)
        .build_cartesian_2d(ClassAxis(n), 0.0..y_max)?;
    let x_fmt = |x: &f64| names.get(x.floor() as usize).map(|s| s.to_string()).unwrap_or_default();
    let decimals = if y_max >= 10.0 { 0 } else { 1 };
    share_mesh(&mut chart)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|y: &f64| format!("{y:.decimals$}"))
        .y_labels(8)
        .draw()?;
    let bar = |i: usize, lo: f64, hi: f64, share: f64, c: RGBColor| {
        Rectangle::new([(i as f64 + lo, 0.0), (i as f64 + hi, share * 100.0)], c.filled())
    };
    chart.draw_series(shares.iter().enumerate().map(|(i, s)| bar(i, 0.1, 0.5, s.0, colours.0)))?;
    chart.draw_series(shares.iter().enumerate().map(|(i, s)| bar(i, 0.5, 0.9, s.1, colours.1)))?;
    Ok(())
}

fn legend(root: &DrawingArea<BitMapBackend, Shift>, entries: &[(RGBColor, String)]) -> Result<()> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Width and height from a PNG's IHDR chunk, after checking the signature.
    pub(super) fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
        (be(16), be(20))
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
        let expected = |x: usize, y: usize| if (x / 2 + y / 2).is_multiple_of(2) { 255 } else { 0 };
        for y in 0..4 {
            for x in 0..6 {
                assert_eq!(at(x, y), expected(x, y), "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn colour_maps() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!((grey(0.0), grey(1.0)), (RGBColor(0, 0, 0), RGBColor(255, 255, 255)));
    }
}
