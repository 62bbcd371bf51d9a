//! Dataset statistics: the seed's data-exploration step (sizes, class distribution, imbalance,
//! train/test agreement), as one serialisable report.

use serde::Serialize;

use crate::classes::ClassGroup;
use crate::{Dataset, DatasetInfo, Part, PIXELS, SIDE};

/// Everything `emnist explore` reports.
#[derive(Debug, Clone, Serialize)]
pub struct ExploreReport {
    pub dataset: DatasetInfo,
    /// True for the generated default: these figures say nothing about real EMNIST.
    pub synthetic: bool,
    pub image_width: usize,
    pub image_height: usize,
    pub classes: usize,
    pub train_images: usize,
    pub test_images: usize,
    /// test / train.
    pub test_train_ratio: f64,
    /// test / (train + test).
    pub test_fraction: f64,
    /// Distinct writer ids over train and test, where the source has them.
    pub writers: Option<usize>,
    /// Mean and standard deviation of train pixels scaled to [0, 1].
    pub pixel_mean: f64,
    pub pixel_std: f64,
    /// Share of train pixels that are not background (value > 0).
    pub ink_fraction: f64,
    pub per_class: Vec<ClassStats>,
    pub groups: Vec<GroupStats>,
    /// The five most and least frequent classes in train.
    pub most_frequent: Vec<ClassCount>,
    pub least_frequent: Vec<ClassCount>,
    /// Largest / smallest train class count (infinite when a class has no train image).
    pub imbalance_ratio: f64,
    /// How far train and test class shares agree.
    pub share_agreement: ShareAgreement,
}

/// One class's counts and shares.
#[derive(Debug, Clone, Serialize)]
pub struct ClassStats {
    pub index: usize,
    pub name: String,
    pub group: ClassGroup,
    pub train: usize,
    pub test: usize,
    pub train_share: f64,
    pub test_share: f64,
}

/// Counts and shares of a group of classes (digits, uppercase, lowercase).
#[derive(Debug, Clone, Serialize)]
pub struct GroupStats {
    pub group: ClassGroup,
    pub classes: usize,
    pub train: usize,
    pub test: usize,
    pub train_share: f64,
    pub test_share: f64,
}

/// A class and its train count.
#[derive(Debug, Clone, Serialize)]
pub struct ClassCount {
    pub name: String,
    pub train: usize,
    pub train_share: f64,
}

/// Agreement of the train and test class distributions.
#[derive(Debug, Clone, Serialize)]
pub struct ShareAgreement {
    /// Largest absolute difference of a class's train and test share, in percentage points.
    pub max_diff_pp: f64,
    /// The class where it occurs.
    pub max_diff_class: String,
    /// Total variation distance: half the sum of absolute share differences (0 = identical, 1 = disjoint).
    pub total_variation: f64,
}

/// Images per class.
pub fn class_counts(part: &Part, classes: usize) -> Vec<usize> {
    let mut c = vec![0usize; classes];
    for &l in part.labels.iter() {
        c[l as usize] += 1;
    }
    c
}

/// Histogram of pixel values over a part's images, counted on all cores.
pub fn pixel_histogram(part: &Part) -> [u64; 256] {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let images: &[u8] = &part.images;
    let chunk = images.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = images
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    // Four interleaved tables hide the store-to-load dependency of repeated values.
                    let mut h = [[0u64; 256]; 4];
                    let mut quads = c.chunks_exact(4);
                    for q in &mut quads {
                        h[0][q[0] as usize] += 1;
                        h[1][q[1] as usize] += 1;
                        h[2][q[2] as usize] += 1;
                        h[3][q[3] as usize] += 1;
                    }
                    for &b in quads.remainder() {
                        h[0][b as usize] += 1;
                    }
                    let mut out = [0u64; 256];
                    for t in &h {
                        for (o, v) in out.iter_mut().zip(t) {
                            *o += v;
                        }
                    }
                    out
                })
            })
            .collect();
        let mut total = [0u64; 256];
        for h in handles {
            for (t, v) in total.iter_mut().zip(h.join().expect("histogram thread")) {
                *t += v;
            }
        }
        total
    })
}

/// Mean image (values in [0, 1]) of each class of a part.
pub fn mean_images(part: &Part, classes: usize) -> Vec<[f32; PIXELS]> {
    let mut sums = vec![[0u64; PIXELS]; classes];
    let mut counts = vec![0u64; classes];
    for (i, &l) in part.labels.iter().enumerate() {
        let s = &mut sums[l as usize];
        for (a, &p) in s.iter_mut().zip(part.image(i)) {
            *a += p as u64;
        }
        counts[l as usize] += 1;
    }
    sums.iter()
        .zip(&counts)
        .map(|(s, &n)| {
            let mut m = [0f32; PIXELS];
            if n > 0 {
                for (o, &v) in m.iter_mut().zip(s) {
                    *o = (v as f64 / n as f64 / 255.0) as f32;
                }
            }
            m
        })
        .collect()
}

fn share(n: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 / total as f64
    }
}

/// Computes the exploration report of a dataset.
pub fn explore(ds: &Dataset) -> ExploreReport {
    let k = ds.classes.len();
    let (n_train, n_test) = (ds.train.len(), ds.test.len());
    let train_counts = class_counts(&ds.train, k);
    let test_counts = class_counts(&ds.test, k);
    let per_class: Vec<ClassStats> = (0..k)
        .map(|i| ClassStats {
            index: i,
            name: ds.classes.names[i].clone(),
            group: ds.classes.group(i),
            train: train_counts[i],
            test: test_counts[i],
            train_share: share(train_counts[i], n_train),
            test_share: share(test_counts[i], n_test),
        })
        .collect();
    let mut groups: Vec<GroupStats> = Vec::new();
    for g in [ClassGroup::Digit, ClassGroup::Uppercase, ClassGroup::Lowercase, ClassGroup::Letter, ClassGroup::Other] {
        let members: Vec<&ClassStats> = per_class.iter().filter(|c| c.group == g).collect();
        if members.is_empty() {
            continue;
        }
        let train: usize = members.iter().map(|c| c.train).sum();
        let test: usize = members.iter().map(|c| c.test).sum();
        groups.push(GroupStats {
            group: g,
            classes: members.len(),
            train,
            test,
            train_share: share(train, n_train),
            test_share: share(test, n_test),
        });
    }
    let mut order: Vec<&ClassStats> = per_class.iter().collect();
    order.sort_by(|a, b| b.train.cmp(&a.train).then(a.index.cmp(&b.index)));
    let count = |c: &&ClassStats| ClassCount { name: c.name.clone(), train: c.train, train_share: c.train_share };
    let most_frequent = order.iter().take(5).map(count).collect();
    let least_frequent = order.iter().rev().take(5).map(count).collect();
    let max = order.first().map_or(0, |c| c.train);
    let min = order.last().map_or(0, |c| c.train);
    let imbalance_ratio = if min == 0 { f64::INFINITY } else { max as f64 / min as f64 };
    let (mut max_diff, mut max_class, mut tv) = (0.0f64, String::new(), 0.0f64);
    for c in &per_class {
        let d = (c.train_share - c.test_share).abs();
        tv += d;
        if d > max_diff || max_class.is_empty() {
            max_diff = d;
            max_class = c.name.clone();
        }
    }
    let hist = pixel_histogram(&ds.train);
    let total: u64 = hist.iter().sum();
    let (mut s1, mut s2) = (0f64, 0f64);
    for (v, &n) in hist.iter().enumerate() {
        let x = v as f64 / 255.0;
        s1 += x * n as f64;
        s2 += x * x * n as f64;
    }
    let mean = if total > 0 { s1 / total as f64 } else { 0.0 };
    let var = if total > 0 { (s2 / total as f64 - mean * mean).max(0.0) } else { 0.0 };
    let writers = match (&ds.train.writers, &ds.test.writers) {
        (Some(a), Some(b)) => {
            let mut all: Vec<u32> = a.iter().chain(b).copied().collect();
            all.sort_unstable();
            all.dedup();
            Some(all.len())
        }
        _ => None,
    };
    ExploreReport {
        dataset: ds.info.clone(),
        synthetic: ds.is_synthetic(),
        image_width: SIDE,
        image_height: SIDE,
        classes: k,
        train_images: n_train,
        test_images: n_test,
        test_train_ratio: share(n_test, n_train),
        test_fraction: share(n_test, n_train + n_test),
        writers,
        pixel_mean: mean,
        pixel_std: var.sqrt(),
        ink_fraction: if total > 0 { 1.0 - hist[0] as f64 / total as f64 } else { 0.0 },
        per_class,
        groups,
        most_frequent,
        least_frequent,
        imbalance_ratio,
        share_agreement: ShareAgreement {
            max_diff_pp: 100.0 * max_diff,
            max_diff_class: max_class,
            total_variation: tv / 2.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClassTable, SourceFormat};

    fn part(labels: Vec<u8>, fill: u8) -> Part {
        let images = vec![fill; labels.len() * PIXELS];
        Part { images: images.into(), labels: labels.into(), writers: None }
    }

    #[test]
    fn shares_imbalance_and_agreement() {
        let classes = ClassTable::from_mapping(&[vec![0, 48], vec![1, 65], vec![2, 97]]).unwrap();
        let ds = Dataset {
            info: DatasetInfo { name: "t".into(), split: None, format: SourceFormat::Idx, path: None },
            classes,
            train: part(vec![0, 0, 0, 1, 2, 0], 255),
            test: part(vec![0, 1], 0),
        };
        let r = explore(&ds);
        assert_eq!((r.train_images, r.test_images, r.classes), (6, 2, 3));
        assert_eq!(r.per_class[0].train, 4);
        assert!((r.imbalance_ratio - 4.0).abs() < 1e-12);
        assert_eq!(r.most_frequent[0].name, "0");
        assert_eq!(r.groups.len(), 3);
        // train shares 4/6, 1/6, 1/6; test 1/2, 1/2, 0 → TV = (1/6 + 1/3 + 1/6) / 2 = 1/3.
        assert!((r.share_agreement.total_variation - 1.0 / 3.0).abs() < 1e-12);
        assert!((r.share_agreement.max_diff_pp - 100.0 / 3.0).abs() < 1e-9);
        assert!((r.pixel_mean - 1.0).abs() < 1e-12 && r.pixel_std < 1e-9);
        assert!((r.test_train_ratio - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn histogram_and_means() {
        let mut p = part(vec![0, 1], 0);
        let mut imgs = vec![0u8; 2 * PIXELS];
        imgs[0] = 255;
        imgs[PIXELS + 5] = 51;
        p.images = imgs.into();
        let h = pixel_histogram(&p);
        assert_eq!(h[0], 2 * PIXELS as u64 - 2);
        assert_eq!((h[255], h[51]), (1, 1));
        let m = mean_images(&p, 2);
        assert_eq!(m[0][0], 1.0);
        assert!((m[1][5] - 0.2).abs() < 1e-6);
    }
}
