//! idx files (EMNIST's gzip release, MNIST, Fashion-MNIST), gzip-compressed or plain, and the
//! folders that hold them.

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::{inflate, ClassTable, Dataset, DatasetInfo, Part, SourceFormat, Split, PIXELS, SIDE};
use crate::progress::Progress;
use crate::setting::Setting;

/// Errors in one idx file. Messages are one line, lowercase.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error("bad magic number {0:#010x}: expected {1:#010x} (not an idx {2} file)")]
    Magic(u32, u32, &'static str),
    #[error("images are {0}×{1}, expected 28×28")]
    Shape(u32, u32),
    #[error("the file is truncated: the header promises {expected} items, the data holds {got}")]
    Truncated { expected: usize, got: usize },
    #[error("{0} unexpected bytes after the data")]
    Trailing(u64),
    #[error("bad compressed data: {0}")]
    Gzip(io::Error),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The files of one dataset in an idx folder.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxFiles {
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: PathBuf,
    pub test_labels: PathBuf,
    /// `emnist-<split>-mapping.txt`, for EMNIST folders.
    pub mapping: Option<PathBuf>,
    /// EMNIST stores images transposed; MNIST and Fashion-MNIST do not.
    pub transposed: bool,
    /// The common file-name prefix (`emnist-byclass-`, or empty for MNIST-style names).
    pub prefix: String,
}

/// Finds the idx files in `dir`; `split` picks among several EMNIST splits (default byclass).
pub fn find_files(dir: &Path, split: Option<Split>) -> Result<IdxFiles> {
    let names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder `{}`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    let mut prefixes: Vec<String> =
        names.iter().filter_map(|n| n.find("train-images-idx3-ubyte").map(|at| n[..at].to_string())).collect();
    prefixes.sort();
    prefixes.dedup();
    let prefix = match prefixes.len() {
        0 => bail!("no idx images (`*train-images-idx3-ubyte[.gz]`) in `{}`", dir.display()),
        1 => prefixes.remove(0),
        _ => {
            let want = format!("emnist-{}-", split.unwrap_or(Split::Byclass));
            prefixes.iter().find(|p| **p == want).cloned().ok_or_else(|| {
                anyhow!(
                    "`{}` holds several datasets ({}); pick one with {}",
                    dir.display(),
                    prefixes.join(", "),
                    Setting::Split
                )
            })?
        }
    };
    let find = |stems: &[&str]| -> Result<PathBuf> {
        for stem in stems {
            for ext in ["", ".gz"] {
                let name = format!("{prefix}{stem}{ext}");
                if names.contains(&name) {
                    return Ok(dir.join(name));
                }
            }
        }
        bail!("`{}` has no `{prefix}{}[.gz]`", dir.display(), stems[0])
    };
    let mapping = dir.join(format!("{prefix}mapping.txt"));
    Ok(IdxFiles {
        train_images: find(&["train-images-idx3-ubyte"])?,
        train_labels: find(&["train-labels-idx1-ubyte"])?,
        test_images: find(&["test-images-idx3-ubyte", "t10k-images-idx3-ubyte"])?,
        test_labels: find(&["test-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"])?,
        mapping: mapping.is_file().then_some(mapping),
        transposed: prefix.starts_with("emnist-"),
        prefix,
    })
}

/// Loads an idx folder into a dataset.
pub fn load(dir: &Path, split: Option<Split>, progress: &dyn Progress) -> Result<Dataset> {
    let files = find_files(dir, split)?;
    let read_part = |images: &Path, labels: &Path| -> Result<(Vec<u8>, Vec<u8>)> {
        let what = images.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let size = std::fs::metadata(images)?.len();
        progress.start(&format!("decoding {what}"), Some(size));
        let im = read_images(images, files.transposed, &|n| progress.advance(n));
        progress.finish();
        let im = im.with_context(|| format!("reading `{}`", images.display()))?;
        let lb = read_labels(labels).with_context(|| format!("reading `{}`", labels.display()))?;
        if im.len() / PIXELS != lb.len() {
            bail!(
                "`{}` holds {} images but `{}` holds {} labels",
                images.display(),
                im.len() / PIXELS,
                labels.display(),
                lb.len()
            );
        }
        Ok((im, lb))
    };
    let (train_im, train_lb) = read_part(&files.train_images, &files.train_labels)?;
    let (test_im, test_lb) = read_part(&files.test_images, &files.test_labels)?;
    let classes = match &files.mapping {
        Some(m) => read_mapping(m)?,
        None => {
            let max = train_lb.iter().chain(&test_lb).copied().max().unwrap_or(0);
            if is_fashion(dir) && max == 9 {
                ClassTable::fashion_mnist()
            } else {
                ClassTable::numbered(max as usize + 1)
            }
        }
    };
    let lookup = classes.lookup();
    let to_index = |labels: Vec<u8>, path: &Path| -> Result<Vec<u8>> {
        labels
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                lookup(l as i64)
                    .ok_or_else(|| anyhow!("`{}`: label {l} of item {i} is not in the mapping", path.display()))
            })
            .collect()
    };
    let train_idx = to_index(train_lb, &files.train_labels)?;
    let test_idx = to_index(test_lb, &files.test_labels)?;
    drop(lookup);
    let split = Split::from_file_name(&files.prefix);
    let name = match &split {
        Some(s) => format!("EMNIST {s}"),
        None if is_fashion(dir) => "Fashion-MNIST".to_string(),
        None => format!("idx folder {}", dir.display()),
    };
    Ok(Dataset {
        info: DatasetInfo { name, split, format: SourceFormat::Idx, path: Some(dir.to_path_buf()) },
        classes,
        train: Part { images: train_im.into(), labels: train_idx.into(), writers: None },
        test: Part { images: test_im.into(), labels: test_idx.into(), writers: None },
    })
}

fn is_fashion(dir: &Path) -> bool {
    dir.to_string_lossy().to_lowercase().contains("fashion")
}

/// Reads an EMNIST mapping file: one line per class, `<label> <code> [<code>]`.
pub fn read_mapping(path: &Path) -> Result<ClassTable> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    parse_mapping(&text, &path.display().to_string())
}

/// Parses the text of an EMNIST mapping file; `what` names it in error messages (usually its path).
pub fn parse_mapping(text: &str, what: &str) -> Result<ClassTable> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Result<Vec<i64>, _> = line.split_whitespace().map(str::parse).collect();
        match row {
            Ok(r) if (2..=3).contains(&r.len()) => rows.push(r),
            _ => bail!("`{what}` line {}: expected `<label> <character code>`, got `{line}`", n + 1),
        }
    }
    ClassTable::from_mapping(&rows).with_context(|| format!("`{what}`"))
}

fn open(path: &Path) -> Result<(Box<dyn Read + Send>, u64), IdxError> {
    let mut f = super::source::open_regular(path)?;
    let len = f.metadata()?.len();
    let mut magic = [0u8; 2];
    let gz = f.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0))?;
    if gz {
        Ok((Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f))), len))
    } else {
        Ok((Box::new(BufReader::with_capacity(1 << 16, f)), len))
    }
}

fn header(r: &mut dyn Read, magic: u32, dims: usize, kind: &'static str) -> Result<Vec<u32>, IdxError> {
    let mut h = vec![0u8; 4 + 4 * dims];
    let got = read_full(r, &mut h)?;
    if got < 4 {
        return Err(IdxError::Truncated { expected: 1, got: 0 });
    }
    let m = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if m != magic {
        return Err(IdxError::Magic(m, magic, kind));
    }
    if got < h.len() {
        return Err(IdxError::Truncated { expected: 1, got: 0 });
    }
    Ok(h[4..].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect())
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize, IdxError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidInput || e.kind() == io::ErrorKind::InvalidData => {
                return Err(IdxError::Gzip(e))
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(IdxError::Io(e)),
        }
    }
    Ok(n)
}

/// Reads an idx3 image file into upright row-major 28×28 images (transposing EMNIST's layout).
pub fn read_images(path: &Path, transposed: bool, on_read: &(dyn Fn(u64) + Sync)) -> Result<Vec<u8>, IdxError> {
    let (r, _) = open(path)?;
    decode_images(r, transposed, on_read)
}

/// Decodes an idx3 image stream (already decompressed or not) into upright row-major images.
pub fn decode_images(
    r: Box<dyn Read + Send>,
    transposed: bool,
    on_read: &(dyn Fn(u64) + Sync),
) -> Result<Vec<u8>, IdxError> {
    let counted = inflate::Counting { inner: r, on_read: |n| on_read(n) };
    std::thread::scope(|s| {
        let mut r = inflate::spawn(s, counted);
        let dims = header(&mut r, 2051, 3, "images")?;
        let (n, rows, cols) = (dims[0] as usize, dims[1], dims[2]);
        if (rows, cols) != (SIDE as u32, SIDE as u32) {
            return Err(IdxError::Shape(rows, cols));
        }
        // Grow as data arrives: a hostile header cannot make us allocate what the file does not
        // hold. Once the first 16 MiB have arrived, the rest is reserved at once where the
        // allocator can (a header may still claim terabytes); otherwise the vector just grows.
        let total = n.saturating_mul(PIXELS);
        let mut out = Vec::with_capacity(total.min(16 << 20));
        let mut buf = vec![0u8; 4096 * PIXELS];
        let mut done = 0;
        while done < n {
            let want = (n - done).min(4096) * PIXELS;
            let got = read_full(&mut r, &mut buf[..want])?;
            let whole = got / PIXELS;
            let start = out.len();
            if start >= 16 << 20 && out.capacity() < total {
                let _ = out.try_reserve_exact(total - start);
            }
            out.resize(start + whole * PIXELS, 0);
            for (src, dst) in buf[..whole * PIXELS].chunks_exact(PIXELS).zip(out[start..].chunks_exact_mut(PIXELS)) {
                if transposed {
                    for y in 0..SIDE {
                        for x in 0..SIDE {
                            dst[y * SIDE + x] = src[x * SIDE + y];
                        }
                    }
                } else {
                    dst.copy_from_slice(src);
                }
            }
            done += whole;
            if got < want {
                return Err(IdxError::Truncated { expected: n, got: done });
            }
        }
        let extra = io::copy(&mut r, &mut io::sink()).map_err(IdxError::Gzip)?;
        if extra > 0 {
            return Err(IdxError::Trailing(extra));
        }
        Ok(out)
    })
}

/// Reads an idx1 label file.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, IdxError> {
    let (mut r, _) = open(path)?;
    decode_labels(&mut r)
}

/// Decodes an idx1 label stream.
pub fn decode_labels(r: &mut dyn Read) -> Result<Vec<u8>, IdxError> {
    let n = header(r, 2049, 1, "labels")?[0] as usize;
    let mut out = Vec::with_capacity(n.min(16 << 20));
    let got = r.take(n as u64).read_to_end(&mut out).map_err(IdxError::Gzip)?;
    if got < n {
        return Err(IdxError::Truncated { expected: n, got });
    }
    let extra = io::copy(r, &mut io::sink()).map_err(IdxError::Gzip)?;
    if extra > 0 {
        return Err(IdxError::Trailing(extra));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_huge_image_count_after_16_mib_is_an_error() {
        // Found by review, confirmed with the `idx` fuzz target (a 21 KB .gz): a header claiming
        // 4294967295 images followed by 21 MiB of pixels made the reader reserve 3.4 TB at once,
        // and the allocation failure aborted the process.
        let header = [0, 0, 8, 3, 255, 255, 255, 255, 0, 0, 0, 28, 0, 0, 0, 28];
        let r = io::Cursor::new(header.to_vec()).chain(io::repeat(0).take(21 << 20));
        match decode_images(Box::new(r), true, &|_| {}) {
            Err(IdxError::Truncated { expected, got }) => {
                assert_eq!((expected, got), (u32::MAX as usize, (21 << 20) / PIXELS))
            }
            other => panic!("expected a truncation error, got {:?}", other.map(|v| v.len())),
        }
    }
}
