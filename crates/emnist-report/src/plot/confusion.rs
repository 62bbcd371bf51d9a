//! `confusion.png`: a run's confusion matrix as a heat map, normalised per true class.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{draw_pixels, font, text, text_width, thousands, title, viridis, MARGIN, TITLE_HEIGHT};
use emnist_model::record::ModelRecord;

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Where the parts of `confusion.png` go, from the class names.
pub(super) struct ConfusionLayout {
    cell: u32,
    label_size: u32,
    /// Column names run upwards when they are wider than a cell.
    rotate: bool,
    /// Top left corner of the matrix.
    origin: (u32, u32),
    /// Height of the column names under the matrix.
    names_height: u32,
    pub(super) size: (u32, u32),
}

const CONFUSION_NOTE: &str = "colour = √(share of the true class's test images), so small confusions stay visible";
/// Added to the note when some class has no test images.
const EMPTY_ROW_NOTE: &str = "; grey row: no test images";

impl ConfusionLayout {
    pub(super) fn new(names: &[String]) -> Result<Self> {
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
        Ok(ConfusionLayout {
            cell,
            label_size,
            rotate,
            origin,
            names_height,
            size: (width, origin.1 + side + names_height + 70),
        })
    }
}

/// Draws the row-normalised heat map of `confusion[truth][predicted]`, class names on both axes.
pub(super) fn draw_confusion(
    root: &Area,
    l: &ConfusionLayout,
    record: &ModelRecord,
    confusion: &[Vec<u64>],
    run: &str,
) -> Result<()> {
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
            root.draw(&Text::new(
                name.as_str(),
                (x0 + mid, y0 + side + 5),
                up(l.label_size).pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        } else {
            text(root, name, (x0 + mid, y0 + side + 5), l.label_size, (HPos::Center, VPos::Top))?;
        }
    }
    let centre = Pos::new(HPos::Center, VPos::Center);
    root.draw(&Text::new("true class", (MARGIN as i32 + 8, y0 + side / 2), up(15).pos(centre)))?;
    let below = y0 + side + l.names_height as i32;
    text(root, "predicted class", (x0 + side / 2, below + 12), 15, (HPos::Center, VPos::Center))?;
    let note =
        if totals.contains(&0) { format!("{CONFUSION_NOTE}{EMPTY_ROW_NOTE}") } else { CONFUSION_NOTE.to_string() };
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

#[cfg(test)]
mod tests {
    use super::super::register_font;
    use super::*;
    use emnist_data::ClassTable;

    #[test]
    fn every_class_name_gets_room() {
        register_font().unwrap();
        let layout = |classes: ClassTable| {
            let l = ConfusionLayout::new(&classes.names).unwrap();
            (l.cell, l.label_size, l.rotate)
        };
        // 62 one-character names fit under 14-pixel columns; long names run upwards.
        assert_eq!(layout(ClassTable::byclass()), (14, 11, false));
        assert_eq!(layout(ClassTable::numbered(10)), (64, 16, false));
        assert_eq!(layout(ClassTable::fashion_mnist()), (64, 16, true));
        // Two classes still get a matrix large enough for the colour bar's labels.
        assert_eq!(layout(ClassTable::numbered(2)).0, 160);
    }
}
