//! Drawing a shape as a person would, then framing it as EMNIST framed NIST's scans.
//!
//! A [`Writer`] holds what stays the same across one person's characters (slant, width, pen,
//! roundness, shakiness, favourite allographs); each sample then varies its strokes (ends that
//! overshoot or stop short, a slow wobble along the stroke), its geometry (slant, aspect, rotation
//! around the writer's, and an elastic displacement field) and its pen (pressure along the stroke).
//! The ink is drawn on a canvas twice the output size, blurred, crop-framed to its bounding box in
//! a square keeping the aspect ratio with a 2-pixel margin (Cohen et al. 2017), and down-sampled.

use super::glyphs::{Origin, Shape, Stroke};
use crate::rng::{ElasticField, Rng};
use crate::{PIXELS, SIDE};

/// What the generator is allowed to use; all on by default. Turning one off is the ablation the
/// README's table reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ingredients {
    /// Hand-authored allographs (stick 1, open 4, crossed 7, …) beside the Hershey faces.
    pub hand_shapes: bool,
    /// The script and cursive faces beside simplex roman.
    pub script_faces: bool,
    /// Per-writer style shared across a writer's characters (else every sample draws its own).
    pub writers: bool,
    /// Stroke-end overshoot and slow wobble along strokes.
    pub jitter: bool,
    /// Elastic distortion of the whole character.
    pub elastic: bool,
    /// Pen width varying between writers and pressure along strokes (else one width).
    pub pen: bool,
    /// Size and position varied around EMNIST's framing (else exactly 24 px, centred).
    pub framing: bool,
}

impl Default for Ingredients {
    fn default() -> Self {
        Ingredients {
            hand_shapes: true,
            script_faces: true,
            writers: true,
            jitter: true,
            elastic: true,
            pen: true,
            framing: true,
        }
    }
}

impl Ingredients {
    /// Names, for `--synthetic-without` and cache keys.
    pub const NAMES: [&'static str; 7] =
        ["hand-shapes", "script-faces", "writers", "jitter", "elastic", "pen", "framing"];

    fn flag(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "hand-shapes" => &mut self.hand_shapes,
            "script-faces" => &mut self.script_faces,
            "writers" => &mut self.writers,
            "jitter" => &mut self.jitter,
            "elastic" => &mut self.elastic,
            "pen" => &mut self.pen,
            "framing" => &mut self.framing,
            _ => return None,
        })
    }

    /// Every ingredient but the named ones (comma-separated).
    pub fn without(list: &str) -> Result<Ingredients, String> {
        let mut ing = Ingredients::default();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            *ing.flag(name).ok_or_else(|| {
                format!("`{name}` is not a generator ingredient; choose from {}", Ingredients::NAMES.join(", "))
            })? = false;
        }
        Ok(ing)
    }

    /// The ingredients left out, comma-separated; empty when none.
    pub fn left_out(&self) -> String {
        let mut copy = *self;
        Ingredients::NAMES.iter().filter(|n| !*copy.flag(n).expect("known name")).copied().collect::<Vec<_>>().join(",")
    }
}

/// One person's hand.
#[derive(Debug, Clone)]
pub struct Writer {
    slant: f32,
    aspect: f32,
    /// Pen width in Hershey units (capitals are 21 units tall).
    pen: f32,
    /// Corner-cutting passes: 0 angular, 2 round.
    roundness: usize,
    /// Amplitude of the slow wobble, units.
    shake: f32,
    /// Elastic displacement, as a share of the character's size.
    elastic: f32,
    /// Pen pressure variation along a stroke (share of the width).
    pressure: f32,
    /// Favourite allographs derive from it.
    taste: u64,
}

impl Writer {
    pub fn new(rng: &mut Rng, ing: &Ingredients) -> Writer {
        Writer {
            slant: (0.10 + 0.16 * rng.gauss()).clamp(-0.3, 0.5),
            aspect: (0.12 * rng.gauss()).clamp(-0.35, 0.35).exp(),
            pen: if ing.pen { rng.range(1.3, 3.6) } else { 2.4 },
            roundness: rng.below(3),
            shake: if ing.jitter { rng.range(0.1, 0.8) } else { 0.0 },
            elastic: if ing.elastic { rng.range(0.02, 0.07) } else { 0.0 },
            pressure: if ing.pen { rng.range(0.0, 0.25) } else { 0.0 },
            taste: rng.next_u64(),
        }
    }
}

/// A shape of the class: the writer's favourite most of the time, else any, by weight.
fn pick<'a>(shapes: &'a [Shape], class: usize, writer: &Writer, ing: &Ingredients, rng: &mut Rng) -> &'a Shape {
    let allowed = |s: &&Shape| match s.origin {
        Origin::Hand => ing.hand_shapes,
        Origin::Script | Origin::Cursive => ing.script_faces,
        Origin::Roman => true,
    };
    let total: f32 = shapes.iter().filter(allowed).map(|s| s.weight).sum();
    let favourite = ing.writers && rng.uniform() < 0.8;
    let mut x = if favourite { Rng::derive(writer.taste, class as u64, 0).uniform() } else { rng.uniform() } * total;
    for s in shapes.iter().filter(allowed) {
        x -= s.weight;
        if x < 0.0 {
            return s;
        }
    }
    shapes.iter().find(|s| s.origin == Origin::Roman).expect("every class has a roman shape")
}

/// Chaikin's corner cutting, keeping the end points.
fn round(stroke: &Stroke) -> Stroke {
    if stroke.len() < 3 {
        return stroke.clone();
    }
    let mut out = vec![stroke[0]];
    for w in stroke.windows(2) {
        let (a, b) = (w[0], w[1]);
        out.push([0.75 * a[0] + 0.25 * b[0], 0.75 * a[1] + 0.25 * b[1]]);
        out.push([0.25 * a[0] + 0.75 * b[0], 0.25 * a[1] + 0.75 * b[1]]);
    }
    out.push(stroke[stroke.len() - 1]);
    out
}

/// Points at most `step` apart along the stroke.
fn subdivide(stroke: &Stroke, step: f32) -> Stroke {
    let mut out = vec![stroke[0]];
    for w in stroke.windows(2) {
        let (a, b) = (w[0], w[1]);
        let n = ((b[0] - a[0]).hypot(b[1] - a[1]) / step).ceil().max(1.0) as usize;
        for k in 1..=n {
            let t = k as f32 / n as f32;
            out.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
        }
    }
    out
}

/// Moves the stroke's first point `by` units outward along its first segment (negative: inward,
/// at most most of the segment); the same for the last point with `by_end`.
fn extend_ends(stroke: &mut Stroke, by: f32, by_end: f32) {
    let n = stroke.len();
    if n < 2 {
        return;
    }
    for (end, next, e) in [(0, 1, by), (n - 1, n - 2, by_end)] {
        let (p, q) = (stroke[end], stroke[next]);
        let len = (p[0] - q[0]).hypot(p[1] - q[1]);
        if len < 1e-3 {
            continue;
        }
        let e = e.max(-0.6 * len);
        stroke[end] = [p[0] + (p[0] - q[0]) / len * e, p[1] + (p[1] - q[1]) / len * e];
    }
}

const OVERSAMPLE: usize = 2;
const CANVAS: usize = SIDE * OVERSAMPLE;

/// Draws one sample of `class` into `out` (`PIXELS` bytes, light ink on black).
pub fn render(shapes: &[Shape], class: usize, writer: &Writer, ing: &Ingredients, rng: &mut Rng, out: &mut [u8]) {
    let shape = pick(shapes, class, writer, ing, rng);
    let mut strokes: Vec<Stroke> = shape.strokes.clone();
    if ing.jitter {
        for s in &mut strokes {
            let (a, b) = (rng.range(-1.0, 1.5), rng.range(-1.0, 1.5));
            // A closed loop stays closed unless the hand misses (the open 0, 6, 9 of many writers).
            if s.len() > 2 && s[0] == s[s.len() - 1] && rng.uniform() < 0.7 {
                continue;
            }
            extend_ends(s, a, b);
        }
    }
    for _ in 0..writer.roundness {
        strokes = strokes.iter().map(round).collect();
    }
    let mut strokes: Vec<Stroke> = strokes.iter().map(|s| subdivide(s, 0.8)).collect();

    // Slow wobble along each stroke (arc length in units).
    if writer.shake > 0.0 {
        for s in &mut strokes {
            let amp = writer.shake * rng.range(0.5, 1.5);
            let (lx, ly) = (rng.range(12.0, 40.0), rng.range(12.0, 40.0));
            let (px, py) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
            let mut arc = 0.0;
            let mut prev = s[0];
            for p in s.iter_mut() {
                arc += (p[0] - prev[0]).hypot(p[1] - prev[1]);
                prev = *p;
                p[0] += amp * (std::f32::consts::TAU * arc / lx + px).sin();
                p[1] += amp * (std::f32::consts::TAU * arc / ly + py).sin();
            }
        }
    }

    // The hand's geometry: the writer's slant and width, varied a little per sample, and a turn.
    let (var_slant, var) = if ing.writers { (0.06, 0.06) } else { (0.16, 0.12) };
    let (slant, aspect) = if ing.writers {
        (writer.slant + var_slant * rng.gauss(), writer.aspect * (var * rng.gauss()).exp())
    } else {
        ((0.10 + var_slant * rng.gauss()).clamp(-0.3, 0.5), (var * rng.gauss()).clamp(-0.35, 0.35).exp())
    };
    let (sin, cos) = (0.06 * rng.gauss()).clamp(-0.2, 0.2).sin_cos();
    for p in strokes.iter_mut().flatten() {
        let (x, y) = (aspect * p[0] - slant * p[1], p[1]);
        *p = [cos * x - sin * y, sin * x + cos * y];
    }

    // Elastic distortion: a smooth random displacement field over the character's box.
    let (lo, hi) = bounds(&strokes, 0.0);
    let size = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1.0);
    if writer.elastic > 0.0 {
        let amplitude = writer.elastic * size * rng.range(0.5, 1.5);
        let field = ElasticField::new(rng, amplitude);
        let extent = [(hi[0] - lo[0]).max(1e-3), (hi[1] - lo[1]).max(1e-3)];
        for p in strokes.iter_mut().flatten() {
            let d = field.at((p[0] - lo[0]) / extent[0], (p[1] - lo[1]) / extent[1]);
            p[0] += d[0];
            p[1] += d[1];
        }
    }

    // The pen: the writer's width, a little different per sample, with pressure along the stroke.
    let pen = writer.pen * if ing.pen { (0.1 * rng.gauss()).exp() } else { 1.0 };
    let radii: Vec<Vec<f32>> = strokes
        .iter()
        .map(|s| {
            let (wave, phase) = (rng.range(10.0, 30.0), rng.range(0.0, 6.3));
            let mut arc = 0.0;
            s.iter()
                .enumerate()
                .map(|(i, p)| {
                    if i > 0 {
                        arc += (p[0] - s[i - 1][0]).hypot(p[1] - s[i - 1][1]);
                    }
                    0.5 * pen * (1.0 + writer.pressure * (std::f32::consts::TAU * arc / wave + phase).sin())
                })
                .collect()
        })
        .collect();

    // EMNIST's framing: the ink's box, centred in a square with a 2-pixel margin (longest side
    // 24 px), varied in size and position so other framings (MNIST's 20 px box) are covered too.
    let (lo, hi) = bounds(&strokes, 0.5 * pen);
    let (fit, shift) = if ing.framing {
        let fit = rng.range(19.0, 24.5);
        // At least a pixel of margin on every side.
        let room = ((SIDE as f32 - fit) / 2.0 - 1.0).min(1.5);
        (fit, [rng.range(-room, room), rng.range(-room, room)])
    } else {
        (24.0, [0.0, 0.0])
    };
    let scale = fit * OVERSAMPLE as f32 / (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-3);
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let to_canvas =
        |p: [f32; 2], k: usize| (p[k] - centre[k]) * scale + (CANVAS as f32) / 2.0 + shift[k] * OVERSAMPLE as f32;

    let mut canvas = vec![0.0f32; CANVAS * CANVAS];
    for (s, r) in strokes.iter().zip(&radii) {
        let pts: Vec<[f32; 2]> = s.iter().map(|&p| [to_canvas(p, 0), to_canvas(p, 1)]).collect();
        let rs: Vec<f32> = r.iter().map(|r| r * scale).collect();
        if pts.len() == 1 {
            capsule(&mut canvas, pts[0], pts[0], rs[0], rs[0]);
        }
        for i in 1..pts.len() {
            capsule(&mut canvas, pts[i - 1], pts[i], rs[i - 1], rs[i]);
        }
    }

    let sigma = rng.range(0.3, 0.75) * OVERSAMPLE as f32;
    let canvas = blur(&canvas, CANVAS, sigma);
    let mut img = [0.0f32; PIXELS];
    for (i, v) in img.iter_mut().enumerate() {
        let (x, y) = (i % SIDE * OVERSAMPLE, i / SIDE * OVERSAMPLE);
        let mut sum = 0.0;
        for dy in 0..OVERSAMPLE {
            for dx in 0..OVERSAMPLE {
                sum += canvas[(y + dy) * CANVAS + x + dx];
            }
        }
        *v = sum / (OVERSAMPLE * OVERSAMPLE) as f32;
    }
    // Grey levels scaled so the brightest pixel is full white, as EMNIST's are; a little extra gain
    // saturates the stroke cores as a bilevel scan does.
    let peak = img.iter().copied().fold(0.0f32, f32::max).max(1e-6);
    let gain = rng.range(1.0, 1.4) / peak;
    for (o, v) in out.iter_mut().zip(img.iter()) {
        *o = ((v * gain).min(1.0) * 255.0).round() as u8;
    }
}

/// Bounding box of every point, grown by `pad`.
fn bounds(strokes: &[Stroke], pad: f32) -> ([f32; 2], [f32; 2]) {
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for p in strokes.iter().flatten() {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k] - pad);
            hi[k] = hi[k].max(p[k] + pad);
        }
    }
    (lo, hi)
}

/// Ink of a segment from `a` (radius `ra`) to `b` (radius `rb`), anti-aliased over one pixel,
/// merged into the canvas by maximum.
fn capsule(canvas: &mut [f32], a: [f32; 2], b: [f32; 2], ra: f32, rb: f32) {
    let r = ra.max(rb) + 1.0;
    let x0 = (a[0].min(b[0]) - r).floor().max(0.0) as usize;
    let y0 = (a[1].min(b[1]) - r).floor().max(0.0) as usize;
    let x1 = ((a[0].max(b[0]) + r).ceil().max(0.0) as usize).min(CANVAS - 1);
    let y1 = ((a[1].max(b[1]) + r).ceil().max(0.0) as usize).min(CANVAS - 1);
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (px, py) = (x as f32 + 0.5 - a[0], y as f32 + 0.5 - a[1]);
            let t = if len2 > 0.0 { ((px * dx + py * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let d = (px - t * dx).hypot(py - t * dy);
            let cover = (ra + t * (rb - ra) - d + 0.5).clamp(0.0, 1.0);
            let c = &mut canvas[y * CANVAS + x];
            *c = c.max(cover);
        }
    }
}

/// Separable Gaussian blur of a `side`×`side` image, zero outside.
pub(super) fn blur(img: &[f32], side: usize, sigma: f32) -> Vec<f32> {
    let r = (3.0 * sigma).ceil() as usize;
    let mut k: Vec<f32> =
        (0..=2 * r).map(|i| (-((i as f32 - r as f32).powi(2)) / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = k.iter().sum();
    k.iter_mut().for_each(|w| *w /= total);
    let pass = |src: &[f32], horizontal: bool| {
        let mut dst = vec![0.0f32; side * side];
        for y in 0..side {
            for x in 0..side {
                let p = if horizontal { x } else { y };
                let mut acc = 0.0;
                for (t, w) in k.iter().enumerate() {
                    let q = p + t;
                    if q < r || q >= side + r {
                        continue;
                    }
                    let q = q - r;
                    acc += w * if horizontal { src[y * side + q] } else { src[q * side + x] };
                }
                dst[y * side + x] = acc;
            }
        }
        dst
    };
    pass(&pass(img, true), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_spreads_a_dot_symmetrically_keeping_its_mass() {
        let mut img = vec![0.0f32; PIXELS];
        img[14 * SIDE + 14] = 1.0;
        let out = blur(&img, SIDE, 0.8);
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(out[14 * SIDE + 14] < 0.5);
        assert!((out[14 * SIDE + 13] - out[13 * SIDE + 14]).abs() < 1e-6);
    }

    #[test]
    fn ingredients_parse_by_name_and_say_what_is_left_out() {
        assert_eq!(Ingredients::without("").unwrap(), Ingredients::default());
        let ing = Ingredients::without("elastic, writers").unwrap();
        assert!(!ing.elastic && !ing.writers && ing.pen);
        assert_eq!(ing.left_out(), "writers,elastic");
        assert!(Ingredients::without("nope").unwrap_err().contains("hand-shapes"));
    }

    #[test]
    fn a_capsule_inks_its_segment_and_nothing_far_from_it() {
        let mut c = vec![0.0f32; CANVAS * CANVAS];
        capsule(&mut c, [10.0, 10.0], [40.0, 10.0], 2.0, 2.0);
        assert_eq!(c[10 * CANVAS + 25], 1.0);
        assert_eq!(c[20 * CANVAS + 25], 0.0);
        assert_eq!(c[10 * CANVAS + 50], 0.0);
    }
}
