//! `emnist-data`: the data layer under every step of `emnist`. Readers for EMNIST's Matlab and
//! gzip/idx releases and MNIST-style idx folders, the synthetic default dataset, the decoded-dataset
//! cache, the in-memory [`Dataset`] they all yield, its exploration statistics ([`explore`]), the
//! log of what a deployment served ([`payload_log`]), that log as a dataset ([`log_dataset`]) and
//! the report on what a deployment saw ([`deployment`], with its statistics in [`drift`]);
//! plus the groundwork every other crate shares: atomic files ([`fsutil`]), seeded randomness
//! ([`rng`]), the progress observer ([`progress`]), a clean stop ([`shutdown`]), number text
//! ([`text`]) and the settings messages point to ([`setting`]). No model, no engine, no server.

pub mod bytes;
pub mod cache;
pub mod classes;
pub mod deployment;
pub mod drift;
pub mod explore;
pub mod fsutil;
pub mod idx;
pub mod inflate;
pub mod log_dataset;
pub mod mat;
pub mod matlab;
pub mod payload_log;
pub mod progress;
pub mod rng;
pub mod setting;
pub mod shutdown;
pub mod source;
pub mod synthetic;
pub mod text;

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
    /// The EMNIST split, when the data is EMNIST (or stands in for it).
    pub split: Option<Split>,
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
    /// The labelled images of a payload log (what a deployment saw, with people's labels).
    #[serde(rename = "payload_log")]
    PayloadLog,
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

/// The six splits of EMNIST, as NIST names them (in file names, `--split`, records and caches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// 62 unbalanced classes: digits, upper- and lowercase letters (the default).
    Byclass,
    /// 47 classes: byclass with the lookalike upper/lowercase letters merged.
    Bymerge,
    /// 47 classes, the same number of images in each.
    Balanced,
    /// 26 classes: upper- and lowercase merged.
    Letters,
    /// 10 classes, balanced.
    Digits,
    /// 10 classes, MNIST's size and balance.
    Mnist,
}

impl Split {
    /// Every split, in NIST's order.
    pub const ALL: [Split; 6] =
        [Split::Byclass, Split::Bymerge, Split::Balanced, Split::Letters, Split::Digits, Split::Mnist];

    /// The name in NIST's file names (`emnist-<name>…`).
    pub fn name(self) -> &'static str {
        match self {
            Split::Byclass => "byclass",
            Split::Bymerge => "bymerge",
            Split::Balanced => "balanced",
            Split::Letters => "letters",
            Split::Digits => "digits",
            Split::Mnist => "mnist",
        }
    }

    /// Images in the split, train and test together, as NIST publishes them.
    pub fn images(self) -> u64 {
        match self {
            Split::Byclass | Split::Bymerge => 814_255,
            Split::Balanced => 131_600,
            Split::Letters => 145_600,
            Split::Digits => 280_000,
            Split::Mnist => 70_000,
        }
    }

    /// The split named in a file name like `emnist-letters.mat` or `emnist-byclass-train-...`.
    pub fn from_file_name(name: &str) -> Option<Split> {
        let rest = name.strip_prefix("emnist-")?;
        Split::ALL.into_iter().find(|s| rest.starts_with(s.name()))
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Split {
    type Err = String;

    fn from_str(s: &str) -> Result<Split, String> {
        Split::ALL.into_iter().find(|x| x.name() == s).ok_or_else(|| {
            format!("`{s}` is not an EMNIST split; choose one of {}", Split::ALL.map(Split::name).join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_name_and_file_name() {
        for s in Split::ALL {
            assert_eq!(s.name().parse::<Split>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.name()));
        }
        assert_eq!(Split::from_file_name("emnist-letters.mat"), Some(Split::Letters));
        assert_eq!(Split::from_file_name("emnist-byclass-train-images-idx3-ubyte"), Some(Split::Byclass));
        assert_eq!(Split::from_file_name("mnist-train"), None);
        assert!("ByClass".parse::<Split>().is_err());
    }
}
