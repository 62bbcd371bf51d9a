//! The synthetic EMNIST-like default dataset: the 62 byclass characters drawn with a pen along
//! centre-line strokes, by simulated writers, and framed as EMNIST framed NIST's scans.
//!
//! It is generated, not EMNIST, and [`SYNTHETIC_NAME`] says so wherever it is shown. What it
//! imitates: handwriting's centre-line strokes and allographs ([`glyphs`]: Hershey single-stroke
//! faces and hand-authored forms), writers' styles, shaky strokes, elastic distortion and pen
//! pressure ([`pen`]), EMNIST's framing (blur, crop to the ink, square with a 2-pixel margin,
//! down-sampling) and EMNIST byclass's class frequencies ([`BYCLASS_TRAIN_COUNTS`]).
//!
//! Each image's randomness comes from (seed, split, index) and its writer's from (seed, split,
//! writer), so the bytes do not depend on the thread count.

pub mod glyphs;
pub mod pen;

use std::sync::Mutex;

pub use pen::Ingredients;

use super::{ClassTable, Dataset, DatasetInfo, Part, SourceFormat, PIXELS};
use crate::progress::Progress;
use crate::rng::Rng;

/// Name shown to users: must say it is not EMNIST.
pub const SYNTHETIC_NAME: &str = "synthetic EMNIST-like (generated, not EMNIST)";

/// Bump whenever the generator's output changes, so cached copies of older output are not used.
pub const GENERATOR_VERSION: u32 = 2;

/// EMNIST byclass's training images per class (0-9, A-Z, a-z; 697,932 in all): the synthetic set
/// draws its classes in these proportions, so digits are about half of it and letters follow
/// English as on the real data.
pub const BYCLASS_TRAIN_COUNTS: [u32; 62] = [
    34585, 38374, 34203, 35143, 33535, 31416, 34232, 35754, 33946, 33847, // 0-9
    6407, 3878, 10094, 4562, 4934, 9182, 2517, 3152, 11946, 3762, 2468, 5076, 9002, // A-M
    8237, 24983, 8347, 2605, 5073, 20764, 9820, 12602, 4637, 4695, 2771, 4743, 2701, // N-Z
    10033, 5159, 2854, 10177, 24631, 2561, 3687, 8738, 2725, 1896, 2491, 15318, 2645, // a-m
    11418, 2749, 2448, 2994, 14105, 2699, 18262, 2830, 2910, 2697, 2822, 2365, 2725, // n-z
];

/// Consecutive images one simulated writer writes.
const WRITER_BLOCK: usize = 40;

/// Settings of the synthetic set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Training images per class on average (62 × this in all, shared as EMNIST byclass shares them).
    pub train_per_class: usize,
    /// Test images per class on average, shared the same way.
    pub test_per_class: usize,
    /// Seed every image's randomness derives from.
    pub seed: u64,
    /// What the generator uses (all by default).
    pub ingredients: Ingredients,
}

impl Default for SyntheticConfig {
    /// 62,000 train and 12,400 test images in EMNIST byclass's proportions, from a fixed seed.
    fn default() -> Self {
        SyntheticConfig {
            train_per_class: 1000,
            test_per_class: 200,
            seed: 0x454d_4e49_5354,
            ingredients: Ingredients::default(),
        }
    }
}

impl SyntheticConfig {
    /// A short identity of the settings, for cache keys.
    pub fn key(&self) -> String {
        let left_out = self.ingredients.left_out();
        format!(
            "synthetic-v{GENERATOR_VERSION}-seed{}-{}x{}{}{}",
            self.seed,
            self.train_per_class,
            self.test_per_class,
            if left_out.is_empty() { "" } else { "-without-" },
            left_out.replace(',', "+")
        )
    }
}

/// Images per unit of parallel work and per progress report.
const CHUNK: usize = 256;

/// Generates the dataset; calls `progress.start("generating synthetic dataset", Some(total_images))`,
/// `advance(n)` as batches of images are done, then `finish()`.
pub fn generate(cfg: &SyntheticConfig, progress: &dyn Progress) -> Dataset {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    generate_with(cfg, progress, threads)
}

fn generate_with(cfg: &SyntheticConfig, progress: &dyn Progress, threads: usize) -> Dataset {
    let classes = ClassTable::byclass();
    let chars: Vec<char> = classes.names.iter().map(|n| n.chars().next().expect("class names are non-empty")).collect();
    let library = glyphs::library(&chars);
    let train_labels = shuffled_labels(cfg.seed, 0, &class_counts(cfg.train_per_class));
    let test_labels = shuffled_labels(cfg.seed, 1, &class_counts(cfg.test_per_class));
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
    let ing = &cfg.ingredients;
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((split, first, labels, out)) = job else { break };
                let mut writer_id = usize::MAX;
                let mut writer = None;
                for (j, image) in out.chunks_mut(PIXELS).enumerate() {
                    let i = first + j;
                    if i / WRITER_BLOCK != writer_id {
                        writer_id = i / WRITER_BLOCK;
                        let mut rng = Rng::derive(cfg.seed, 2 + split, writer_id as u64);
                        writer = Some(pen::Writer::new(&mut rng, ing));
                    }
                    let mut rng = Rng::derive(cfg.seed, split, i as u64);
                    let class = labels[i] as usize;
                    let own;
                    let w = match &writer {
                        Some(w) if ing.writers => w,
                        _ => {
                            own = pen::Writer::new(&mut rng, ing);
                            &own
                        }
                    };
                    pen::render(&library[class], class, w, ing, &mut rng, image);
                }
                progress.advance((out.len() / PIXELS) as u64);
            });
        }
    });
    progress.finish();

    let part = |images: Vec<u8>, labels: Vec<u8>| Part { images: images.into(), labels: labels.into(), writers: None };
    Dataset {
        info: DatasetInfo {
            name: match cfg.ingredients.left_out() {
                left_out if left_out.is_empty() => SYNTHETIC_NAME.into(),
                left_out => SYNTHETIC_NAME.replacen(" (", &format!(" without {left_out} ("), 1),
            },
            split: Some(super::Split::Byclass),
            format: SourceFormat::Synthetic,
            path: None,
        },
        classes,
        train: part(train_images, train_labels),
        test: part(test_images, test_labels),
    }
}

/// Images per class for `per_class` on average: EMNIST byclass's proportions, at least one each
/// (when `per_class > 0`) so every class is present.
pub fn class_counts(per_class: usize) -> Vec<usize> {
    let total: u64 = BYCLASS_TRAIN_COUNTS.iter().map(|&c| c as u64).sum();
    let want = (per_class * BYCLASS_TRAIN_COUNTS.len()) as f64;
    BYCLASS_TRAIN_COUNTS
        .iter()
        .map(|&c| if per_class == 0 { 0 } else { ((c as f64 / total as f64 * want).round() as usize).max(1) })
        .collect()
}

/// `counts[c]` copies of every class index `c` in a seeded random order.
fn shuffled_labels(seed: u64, split: u64, counts: &[usize]) -> Vec<u8> {
    let mut labels: Vec<u8> = counts.iter().enumerate().flat_map(|(c, &n)| std::iter::repeat_n(c as u8, n)).collect();
    let mut rng = Rng::derive(seed, split, u64::MAX);
    for i in (1..labels.len()).rev() {
        labels.swap(i, rng.below(i + 1));
    }
    labels
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;
    use crate::SIDE;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A small set on `threads` threads.
    fn small(seed: u64, threads: usize) -> Dataset {
        let cfg = SyntheticConfig { train_per_class: 3, test_per_class: 1, seed, ..SyntheticConfig::default() };
        generate_with(&cfg, &Silent, threads)
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
    fn classes_follow_emnist_byclass_shuffled_and_the_set_says_it_is_synthetic() {
        let ds = small(1, 2);
        assert!(ds.is_synthetic() && ds.info.name.contains("not EMNIST") && ds.info.path.is_none());
        assert_eq!((ds.info.split, ds.classes.clone()), (Some(crate::Split::Byclass), ClassTable::byclass()));
        for (part, per_class) in [(&ds.train, 3), (&ds.test, 1)] {
            let want = class_counts(per_class);
            assert_eq!((part.len(), part.images.len()), (want.iter().sum(), want.iter().sum::<usize>() * PIXELS));
            let mut counts = vec![0; 62];
            part.labels.iter().for_each(|&l| counts[l as usize] += 1);
            assert_eq!(counts, want);
            assert!(part.labels.windows(2).any(|w| w[0] > w[1]), "labels are not sorted by class");
        }
        // The default set: digits about half, '1' the commonest class, 'j' the rarest (20× fewer).
        let counts = class_counts(1000);
        let total: usize = counts.iter().sum();
        let digits: usize = counts[..10].iter().sum();
        assert!((0.48..0.51).contains(&(digits as f64 / total as f64)), "{digits} of {total}");
        assert!(counts.iter().all(|&n| n >= 1) && counts.iter().max() == Some(&counts[1]));
        assert_eq!(counts.iter().min(), Some(&counts[10 + 26 + 9]));
        assert!(counts[1] > 19 * counts[45]);
        assert_eq!(BYCLASS_TRAIN_COUNTS.iter().sum::<u32>(), 697_932);
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
                assert!((17..=28).contains(&extent), "image {i} spans {extent} px");
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
        let cfg = SyntheticConfig { train_per_class: 5, test_per_class: 0, seed: 2, ..SyntheticConfig::default() };
        let n = generate(&cfg, &count).train.len() as u64;
        assert_eq!((count.0.into_inner(), count.1.into_inner()), (n, n));
    }
}
