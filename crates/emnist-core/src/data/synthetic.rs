//! The synthetic EMNIST-like default dataset: the 62 byclass characters rendered from embedded
//! fonts with random pen width, slant, rotation, stretch, wobble, blur and noise, framed as EMNIST is.
//!
//! It is generated, not EMNIST, and [`SYNTHETIC_NAME`] says so wherever it is shown. Each image's
//! randomness comes from (seed, split, index) alone, so the bytes do not depend on the thread count.
//!
//! Each glyph is rasterised once, large, and turned into a signed distance field. An image
//! then samples that field straight into 28×28 through the inverse of its random transform:
//! offsetting the field thickens or thins the pen, and the distance gives anti-aliased edges.

use std::sync::Mutex;

use ab_glyph::{point, Font, FontRef, PxScale};

use super::{ClassTable, Dataset, DatasetInfo, Part, SourceFormat, PIXELS, SIDE};
use crate::progress::Progress;
use crate::rng::Rng;

/// Name shown to users: must say it is not EMNIST.
pub const SYNTHETIC_NAME: &str = "synthetic EMNIST-like (generated, not EMNIST)";

/// Bump whenever the generator's output changes, so cached copies of older output are not used.
pub const GENERATOR_VERSION: u32 = 1;

/// Settings of the synthetic set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Training images per class.
    pub train_per_class: usize,
    /// Test images per class.
    pub test_per_class: usize,
    /// Seed every image's randomness derives from.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    /// 1000 train and 200 test images per class (74,400 in all) from a fixed seed.
    fn default() -> Self {
        SyntheticConfig { train_per_class: 1000, test_per_class: 200, seed: 0x454d_4e49_5354 }
    }
}

/// The embedded fonts, how often each is drawn (the handwriting-like ones dominate), and whether its
/// lowercase is real: Humor Sans has small capitals there, which would teach `a` to look like `A`.
const FONTS: [(&[u8], f32, bool); 8] = [
    (include_bytes!("../../assets/fonts/Humor-Sans.ttf"), 3.0, false),
    (include_bytes!("../../assets/fonts/ComicNeue-Regular.otf"), 1.6, true),
    (include_bytes!("../../assets/fonts/ComicNeue-Bold.otf"), 1.2, true),
    (include_bytes!("../../assets/fonts/ComicNeue-Italic.otf"), 1.0, true),
    (include_bytes!("../../assets/fonts/ComicNeue-Light.otf"), 0.8, true),
    (include_bytes!("../../assets/fonts/DejaVuSans.ttf"), 1.0, true),
    (include_bytes!("../../assets/fonts/DejaVuSansMono.ttf"), 0.6, true),
    (include_bytes!("../../assets/fonts/DejaVuSerif.ttf"), 0.6, true),
];
/// Em size in pixels that glyphs are rasterised at before any distortion.
const EM_PX: f32 = 80.0;
/// Empty border in pixels around each rasterised glyph, so its distance field reaches grown strokes.
const MARGIN: usize = 12;
/// Images per unit of parallel work and per progress report.
const CHUNK: usize = 256;

/// Generates the dataset; calls `progress.start("generating synthetic dataset", Some(total_images))`,
/// `advance(n)` as batches of images are done, then `finish()`.
pub fn generate(cfg: &SyntheticConfig, progress: &dyn Progress) -> Dataset {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    generate_with(cfg, progress, threads, &GlyphSet::new(&ClassTable::byclass().names))
}

fn generate_with(cfg: &SyntheticConfig, progress: &dyn Progress, threads: usize, glyphs: &GlyphSet) -> Dataset {
    let classes = ClassTable::byclass();
    let train_labels = shuffled_labels(cfg.seed, 0, cfg.train_per_class, classes.len());
    let test_labels = shuffled_labels(cfg.seed, 1, cfg.test_per_class, classes.len());
    let mut train_images = vec![0u8; train_labels.len() * PIXELS];
    let mut test_images = vec![0u8; test_labels.len() * PIXELS];
    progress.start("generating synthetic dataset", Some((train_labels.len() + test_labels.len()) as u64));

    let mut jobs = Vec::new();
    for (split, labels, images) in [(0, &train_labels, &mut train_images), (1, &test_labels, &mut test_images)] {
        for (c, out) in images.chunks_mut(CHUNK * PIXELS).enumerate() {
            jobs.push((split, c * CHUNK, labels.as_slice(), out));
        }
    }
    let threads = threads.clamp(1, jobs.len().max(1));
    let jobs = Mutex::new(jobs.into_iter());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((split, first, labels, out)) = job else { break };
                for (j, image) in out.chunks_mut(PIXELS).enumerate() {
                    let i = first + j;
                    let mut rng = Rng::derive(cfg.seed, split, i as u64);
                    render(glyphs, labels[i] as usize, &mut rng, image);
                }
                progress.advance((out.len() / PIXELS) as u64);
            });
        }
    });
    progress.finish();

    let part = |images: Vec<u8>, labels: Vec<u8>| Part { images: images.into(), labels: labels.into(), writers: None };
    Dataset {
        info: DatasetInfo {
            name: SYNTHETIC_NAME.into(),
            split: Some(super::Split::Byclass),
            format: SourceFormat::Synthetic,
            path: None,
        },
        classes,
        train: part(train_images, train_labels),
        test: part(test_images, test_labels),
    }
}

/// `per_class` copies of every class index in a seeded random order.
fn shuffled_labels(seed: u64, split: u64, per_class: usize, classes: usize) -> Vec<u8> {
    let mut labels: Vec<u8> = (0..per_class * classes).map(|i| (i % classes) as u8).collect();
    let mut rng = Rng::derive(seed, split, u64::MAX);
    for i in (1..labels.len()).rev() {
        labels.swap(i, rng.below(i + 1));
    }
    labels
}

/// One rasterised character as a signed distance field, in pixels at `EM_PX`.
struct Glyph {
    w: usize,
    h: usize,
    /// Distance to the outline: negative inside the ink, positive outside.
    sdf: Vec<f32>,
    /// Centres of the ink pixels on the outline, for bounding boxes after transformation.
    edge: Vec<[f32; 2]>,
    /// Estimated pen width in pixels.
    stroke: f32,
}

/// Every class in every font that has it: `glyphs[font][class]`.
struct GlyphSet {
    glyphs: Vec<Vec<Option<Glyph>>>,
}

impl GlyphSet {
    fn new(names: &[String]) -> Self {
        let chars: Vec<char> = names.iter().map(|n| n.chars().next().expect("class names are non-empty")).collect();
        let glyphs = std::thread::scope(|s| {
            let handles: Vec<_> = FONTS
                .iter()
                .map(|&(bytes, _, lowercase)| {
                    let chars = &chars;
                    s.spawn(move || {
                        let font = FontRef::try_from_slice(bytes).expect("embedded fonts parse");
                        let usable = |c: char| lowercase || !c.is_lowercase();
                        chars.iter().map(|&c| usable(c).then(|| rasterise(&font, c)).flatten()).collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("glyph rasterisation panicked")).collect::<Vec<Vec<_>>>()
        });
        for (class, c) in chars.iter().enumerate() {
            assert!(glyphs.iter().any(|g| g[class].is_some()), "no embedded font draws `{c}`");
        }
        GlyphSet { glyphs }
    }

    /// The glyph for `class` from a font drawn by weight among those that have it.
    fn pick(&self, class: usize, rng: &mut Rng) -> &Glyph {
        let fonts = || self.glyphs.iter().zip(FONTS.iter()).filter_map(|(g, f)| Some((g[class].as_ref()?, f.1)));
        let mut x = rng.uniform() * fonts().map(|(_, w)| w).sum::<f32>();
        let hit = |&(_, w): &(&Glyph, f32)| {
            x -= w;
            x < 0.0
        };
        fonts().find(hit).or_else(|| fonts().next()).expect("every class has a glyph").0
    }
}

/// Rasterises `c`, or `None` where the font lacks it.
fn rasterise(font: &FontRef<'_>, c: char) -> Option<Glyph> {
    let id = font.glyph_id(c);
    if id.0 == 0 {
        return None;
    }
    let outlined = font.outline_glyph(id.with_scale_and_position(PxScale::from(EM_PX), point(0.0, 0.0)))?;
    let bounds = outlined.px_bounds();
    let (w, h) = (bounds.width() as usize + 2 * MARGIN, bounds.height() as usize + 2 * MARGIN);
    let mut ink = vec![false; w * h];
    outlined.draw(|x, y, cover| ink[(y as usize + MARGIN) * w + x as usize + MARGIN] = cover >= 0.5);
    let (to_ink, to_bg) = (squared_distance(&ink, w, h, true), squared_distance(&ink, w, h, false));
    let sdf: Vec<f32> =
        (0..w * h).map(|i| if ink[i] { 0.5 - to_bg[i].sqrt() } else { to_ink[i].sqrt() - 0.5 }).collect();
    let edge = (0..w * h).filter(|&i| ink[i] && to_bg[i] <= 1.0).map(|i| [(i % w) as f32, (i / w) as f32]).collect();
    // A stroke of width s has its inner distances spread evenly over 0..s/2, so their mean is s/4.
    let (inside, count) = sdf.iter().filter(|d| **d < 0.0).fold((0.0, 0), |(t, n), d| (t - d, n + 1));
    Some(Glyph { w, h, sdf, edge, stroke: (4.0 * inside / count.max(1) as f32).max(1.0) })
}

/// Squared Euclidean distance from each cell to the nearest cell where `mask == target`
/// (Felzenszwalb and Huttenlocher's exact transform: columns, then rows).
fn squared_distance(mask: &[bool], w: usize, h: usize, target: bool) -> Vec<f32> {
    let mut d: Vec<f64> = mask.iter().map(|&m| if m == target { 0.0 } else { 1e12 }).collect();
    // (cells per line, lines, step between lines, step along a line)
    for (len, lines, across, along) in [(h, w, 1, w), (w, h, w, 1)] {
        for line in 0..lines {
            let f: Vec<f64> = (0..len).map(|q| d[line * across + q * along]).collect();
            for (q, v) in lower_envelope(&f).into_iter().enumerate() {
                d[line * across + q * along] = v;
            }
        }
    }
    d.into_iter().map(|x| x as f32).collect()
}

/// `min over p of (q - p)² + f[p]` for every `q`: the lower envelope of parabolas rooted at each `p`.
fn lower_envelope(f: &[f64]) -> Vec<f64> {
    let meet = |q: usize, p: usize| (f[q] - f[p] + (q * q) as f64 - (p * p) as f64) / (2 * (q - p)) as f64;
    // Parabolas on the envelope and where each begins; the first begins at -inf and is never dropped.
    let (mut roots, mut starts) = (vec![0], vec![f64::NEG_INFINITY]);
    for q in 1..f.len() {
        loop {
            let s = meet(q, roots[roots.len() - 1]);
            if s > starts[starts.len() - 1] {
                roots.push(q);
                starts.push(s);
                break;
            }
            roots.pop();
            starts.pop();
        }
    }
    let mut k = 0;
    (0..f.len())
        .map(|q| {
            while k + 1 < roots.len() && starts[k + 1] < q as f64 {
                k += 1;
            }
            (q as f64 - roots[k] as f64).powi(2) + f[roots[k]]
        })
        .collect()
}

/// Bilinear sample of a glyph's distance field; far outside beyond its border.
fn sample(g: &Glyph, x: f32, y: f32) -> f32 {
    if !(x >= 0.0 && y >= 0.0 && x < (g.w - 1) as f32 && y < (g.h - 1) as f32) {
        return MARGIN as f32;
    }
    let (x0, y0) = (x as usize, y as usize);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let i = y0 * g.w + x0;
    let top = g.sdf[i] + fx * (g.sdf[i + 1] - g.sdf[i]);
    let bottom = g.sdf[i + g.w] + fx * (g.sdf[i + g.w + 1] - g.sdf[i + g.w]);
    top + fy * (bottom - top)
}

/// Draws one image of `class` into `out` (`PIXELS` bytes).
fn render(glyphs: &GlyphSet, class: usize, rng: &mut Rng, out: &mut [u8]) {
    let g = glyphs.pick(class, rng);
    // Glyph pixels → page: stretch x, slant (tops lean right on average), rotate.
    let stretch = (0.11 * rng.gauss()).clamp(-0.3, 0.3).exp();
    let slant = (0.08 + 0.12 * rng.gauss()).clamp(-0.25, 0.4);
    let turn = (0.08 * rng.gauss()).clamp(-0.25, 0.25);
    let (sin, cos) = turn.sin_cos();
    let a = [[cos * stretch, -cos * slant - sin], [sin * stretch, cos - sin * slant]];
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let inv = [[a[1][1] / det, -a[0][1] / det], [-a[1][0] / det, a[0][0] / det]];
    let gain = det.abs().sqrt();
    let norms = [a[0][0].hypot(a[0][1]), a[1][0].hypot(a[1][1])];

    // Ink bounding box on the page before the pen changes, outlines lying half a pixel beyond edge centres.
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for &[x, y] in &g.edge {
        for k in 0..2 {
            let q = a[k][0] * x + a[k][1] * y;
            (lo[k], hi[k]) = (lo[k].min(q), hi[k].max(q));
        }
    }
    let size0 = [hi[0] - lo[0] + norms[0], hi[1] - lo[1] + norms[1]];
    // Pen offset `grow` so that, once framed, the stroke is `pen` output pixels wide.
    let fit = rng.range(22.5, 24.2);
    let pen = rng.range(2.0, 4.0);
    let major = if size0[0] > size0[1] { 0 } else { 1 };
    let grow = (pen * size0[major] - fit * gain * g.stroke) / (2.0 * (fit * gain - pen * norms[major]));
    let grow = grow.clamp(-0.3 * g.stroke, MARGIN as f32 - 3.0);
    // Dilating by a disc widens the page box by `grow` times each row's norm on either side.
    let size = [size0[0] + 2.0 * grow * norms[0], size0[1] + 2.0 * grow * norms[1]];
    let scale = fit / size[0].max(size[1]);
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let jitter = [rng.range(-0.4, 0.4), rng.range(-0.4, 0.4)];
    // Output pixel `o` along axis `k` → page coordinate: the box centred, then nudged by the jitter.
    let page = |k: usize, o: usize| centre[k] + (o as f32 + 0.5 - SIDE as f32 / 2.0 - jitter[k]) / scale;

    // A gentle low-frequency wobble of the page, as an unsteady hand gives.
    let amp = rng.range(0.0, 0.025) * size[major];
    let mut wobble = [[0.0f32; SIDE]; 2];
    for (k, w) in wobble.iter_mut().enumerate() {
        let (freq, phase) = (rng.range(0.5, 1.4) * std::f32::consts::TAU / size[1 - k], rng.range(0.0, 6.3));
        for (o, v) in w.iter_mut().enumerate() {
            *v = amp * (freq * page(1 - k, o) + phase).sin();
        }
    }

    let mut img = [0.0f32; PIXELS];
    let edge_px = scale * gain;
    for oy in 0..SIDE {
        for ox in 0..SIDE {
            let (qx, qy) = (page(0, ox) + wobble[0][oy], page(1, oy) + wobble[1][ox]);
            let d = sample(g, inv[0][0] * qx + inv[0][1] * qy, inv[1][0] * qx + inv[1][1] * qy) - grow;
            img[oy * SIDE + ox] = (0.5 - d * edge_px).clamp(0.0, 1.0);
        }
    }

    let img = blur(&img, rng.range(0.45, 0.9));
    // Full white at the 90th percentile of the ink, so thin strokes saturate as EMNIST's do
    // instead of only their crossings.
    let mut inked: Vec<f32> = img.iter().copied().filter(|&v| v > 0.1).collect();
    let rank = inked.len() * 9 / 10;
    let peak = if inked.is_empty() { 1.0 } else { *inked.select_nth_unstable_by(rank, f32::total_cmp).1 };
    let grain = rng.range(0.0, 0.06);
    for (o, &v) in out.iter_mut().zip(img.iter()) {
        let v = (v / peak).min(1.0) * 255.0;
        *o = if v < 0.5 { 0 } else { (v * (1.0 + grain * rng.gauss())).round().clamp(0.0, 255.0) as u8 };
    }
}

/// Separable Gaussian blur of a `SIDE`×`SIDE` image with zero outside.
fn blur(img: &[f32; PIXELS], sigma: f32) -> [f32; PIXELS] {
    const R: usize = 2;
    let mut k = [0.0f32; 2 * R + 1];
    for (i, w) in k.iter_mut().enumerate() {
        *w = (-((i as f32 - R as f32).powi(2)) / (2.0 * sigma * sigma)).exp();
    }
    let total: f32 = k.iter().sum();
    k.iter_mut().for_each(|w| *w /= total);
    // One pass along `step` (1: rows, SIDE: columns), where `pos` is the coordinate along it.
    let pass = |src: &[f32; PIXELS], step: usize, pos: fn(usize) -> usize| {
        let mut dst = [0.0f32; PIXELS];
        for (i, d) in dst.iter_mut().enumerate() {
            let p = pos(i);
            for (t, w) in k.iter().enumerate() {
                if p + t >= R && p + t < SIDE + R {
                    *d += w * src[i + t * step - R * step];
                }
            }
        }
        dst
    };
    pass(&pass(img, 1, |i| i % SIDE), SIDE, |i| i / SIDE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A small set on `threads` threads, sharing one glyph set across tests (it is slow to build unoptimised).
    fn small(seed: u64, threads: usize) -> Dataset {
        static GLYPHS: std::sync::OnceLock<GlyphSet> = std::sync::OnceLock::new();
        let glyphs = GLYPHS.get_or_init(|| GlyphSet::new(&ClassTable::byclass().names));
        generate_with(&SyntheticConfig { train_per_class: 3, test_per_class: 1, seed }, &Silent, threads, glyphs)
    }

    #[test]
    fn rng_streams_are_uniform_gaussian_and_distinct() {
        let mut r = Rng::derive(1, 0, 0);
        let n = 100_000;
        let u: Vec<f32> = (0..n).map(|_| r.uniform()).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        assert!((u.iter().sum::<f32>() / n as f32 - 0.5).abs() < 0.01);
        let g: Vec<f32> = (0..n).map(|_| r.gauss()).collect();
        let mean = g.iter().sum::<f32>() / n as f32;
        let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n as f32;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.03, "mean {mean} var {var}");
        assert!((0..1000).all(|_| r.below(7) < 7));
        let firsts: Vec<u64> = [(1, 0, 0), (1, 0, 1), (1, 1, 0), (2, 0, 0)]
            .iter()
            .map(|&(s, p, i)| Rng::derive(s, p, i).next_u64())
            .collect();
        assert!(firsts.iter().enumerate().all(|(i, a)| !firsts[i + 1..].contains(a)));
    }

    #[test]
    fn squared_distance_matches_brute_force() {
        let (w, h) = (9, 7);
        let mut r = Rng::derive(5, 0, 0);
        let mask: Vec<bool> = (0..w * h).map(|_| r.uniform() < 0.15).collect();
        let d = squared_distance(&mask, w, h, true);
        for (i, &got) in d.iter().enumerate() {
            let best = (0..w * h)
                .filter(|&j| mask[j])
                .map(|j| ((i % w) as f32 - (j % w) as f32).powi(2) + ((i / w) as f32 - (j / w) as f32).powi(2))
                .fold(f32::MAX, f32::min);
            assert_eq!(got, best, "cell {i}");
        }
    }

    #[test]
    fn blur_spreads_a_dot_symmetrically_keeping_its_mass() {
        let mut img = [0.0f32; PIXELS];
        img[14 * SIDE + 14] = 1.0;
        let out = blur(&img, 0.8);
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(out[14 * SIDE + 14] < 0.5);
        assert!((out[14 * SIDE + 13] - out[13 * SIDE + 14]).abs() < 1e-6);
    }

    #[test]
    fn same_seed_gives_same_bytes_on_any_thread_count() {
        let (a, b, c) = (small(7, 1), small(7, 3), small(8, 2));
        for (x, y) in [(&a.train, &b.train), (&a.test, &b.test)] {
            assert_eq!(x.images[..], y.images[..]);
            assert_eq!(x.labels[..], y.labels[..]);
        }
        assert_ne!(a.train.images[..], c.train.images[..]);
        assert_ne!(a.train.labels[..], c.train.labels[..]);
    }

    #[test]
    fn labels_are_balanced_shuffled_and_the_set_says_it_is_synthetic() {
        let ds = small(1, 2);
        assert!(ds.is_synthetic() && ds.info.name.contains("not EMNIST") && ds.info.path.is_none());
        assert_eq!((ds.info.split, ds.classes.clone()), (Some(crate::data::Split::Byclass), ClassTable::byclass()));
        for (part, per_class) in [(&ds.train, 3), (&ds.test, 1)] {
            assert_eq!((part.len(), part.images.len()), (62 * per_class, 62 * per_class * PIXELS));
            let mut counts = [0; 62];
            part.labels.iter().for_each(|&l| counts[l as usize] += 1);
            assert!(counts.iter().all(|&n| n == per_class));
            assert!(part.labels.windows(2).any(|w| w[0] > w[1]), "labels are not sorted by class");
        }
    }

    #[test]
    fn images_are_inked_bright_and_framed_like_emnist() {
        let ds = small(3, 2);
        for part in [&ds.train, &ds.test] {
            for i in 0..part.len() {
                let img = part.image(i);
                assert!(*img.iter().max().unwrap() >= 240, "image {i} is dim");
                let ink: Vec<(usize, usize)> =
                    (0..PIXELS).filter(|&p| img[p] >= 40).map(|p| (p % SIDE, p / SIDE)).collect();
                let (x0, x1) = (ink.iter().map(|p| p.0).min().unwrap(), ink.iter().map(|p| p.0).max().unwrap());
                let (y0, y1) = (ink.iter().map(|p| p.1).min().unwrap(), ink.iter().map(|p| p.1).max().unwrap());
                let extent = (x1 - x0).max(y1 - y0) + 1;
                assert!((20..=28).contains(&extent), "image {i} spans {extent} px");
                for centre in [x0 + x1 + 1, y0 + y1 + 1] {
                    assert!(centre.abs_diff(SIDE) <= 4, "image {i} is off centre");
                }
                assert!((0..SIDE).all(|k| img[k] < 128 && img[PIXELS - 1 - k] < 128 && img[k * SIDE] < 128));
            }
        }
    }

    #[test]
    fn progress_counts_every_image_once() {
        struct Count(AtomicU64, AtomicU64);
        impl Progress for Count {
            fn start(&self, stage: &str, total: Option<u64>) {
                assert_eq!(stage, "generating synthetic dataset");
                self.0.store(total.unwrap(), Ordering::SeqCst);
            }
            fn advance(&self, n: u64) {
                self.1.fetch_add(n, Ordering::SeqCst);
            }
            fn finish(&self) {}
            fn note(&self, _: &str) {}
        }
        let count = Count(AtomicU64::new(0), AtomicU64::new(0));
        generate(&SyntheticConfig { train_per_class: 5, test_per_class: 0, seed: 2 }, &count);
        assert_eq!((count.0.into_inner(), count.1.into_inner()), (310, 310));
    }
}
