//! The data layer: readers for EMNIST's Matlab and gzip/idx releases and MNIST-style idx folders,
//! the synthetic default dataset, the decoded-dataset cache, and the in-memory [`Dataset`] they all yield.

pub mod bytes;
pub mod cache;
pub mod classes;
pub mod idx;
pub mod inflate;
pub mod mat;
pub mod matlab;
pub mod source;
pub mod synthetic;

pub use bytes::Bytes;
pub use classes::ClassTable;

/// Image side in pixels: every image is `SIDE`×`SIDE` grey.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;

/// One half of a dataset (train or test): upright, row-major uint8 images and their class indices.
#[derive(Debug, Clone)]
pub struct Part {
    /// `len() * PIXELS` bytes; image `i` is `images[i*PIXELS..(i+1)*PIXELS]`, row-major, upright,
    /// light ink (255) on a dark (0) background, as EMNIST ships it.
    pub images: Bytes,
    /// Class index per image (row of the class table), never the raw label value.
    pub labels: Bytes,
    /// Writer id per image, where the source has them (EMNIST's Matlab release does).
    pub writers: Option<Vec<u32>>,
}

impl Part {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the part holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The upright row-major pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }
}

/// Where a dataset came from and what it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatasetInfo {
    /// Human-readable name, e.g. `EMNIST byclass`, `Fashion-MNIST`, `synthetic EMNIST-like (not EMNIST)`.
    pub name: String,
    /// EMNIST split variant when known (`byclass`, `bymerge`, `balanced`, `letters`, `digits`, `mnist`).
    pub split: Option<String>,
    /// The format it was read from.
    pub format: SourceFormat,
    /// The file or folder it was read from; `None` for the generated synthetic set.
    pub path: Option<std::path::PathBuf>,
}

/// The formats a dataset can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// EMNIST's Matlab release (MAT v5/v7).
    Matlab,
    /// idx files, gzip-compressed or not (EMNIST's gzip release, MNIST, Fashion-MNIST).
    Idx,
    /// The generated EMNIST-like default: NOT real EMNIST.
    Synthetic,
}

/// A whole dataset: train and test parts sharing one class table.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub info: DatasetInfo,
    pub classes: ClassTable,
    pub train: Part,
    pub test: Part,
}

impl Dataset {
    /// True when this is the generated synthetic set rather than real data.
    pub fn is_synthetic(&self) -> bool {
        self.info.format == SourceFormat::Synthetic
    }
}

/// The EMNIST split named in a file name like `emnist-letters.mat` or `emnist-byclass-train-...`.
pub fn split_from_name(name: &str) -> Option<String> {
    const SPLITS: [&str; 6] = ["byclass", "bymerge", "balanced", "letters", "digits", "mnist"];
    let rest = name.strip_prefix("emnist-")?;
    SPLITS.iter().find(|s| rest.starts_with(*s)).map(|s| s.to_string())
}
