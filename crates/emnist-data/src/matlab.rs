//! EMNIST's Matlab release (`emnist-<split>.mat`): the `dataset` struct turned into a [`Dataset`].

use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::mat::{self, NumericData, ReadOptions, Value};
use super::{ClassTable, Dataset, DatasetInfo, Part, SourceFormat, Split, PIXELS, SIDE};
use crate::progress::Progress;

/// Column permutation from a column-major 28×28 image (as EMNIST's .mat rows are) to upright row-major.
pub fn column_major_to_row_major() -> Vec<usize> {
    (0..PIXELS).map(|j| (j % SIDE) * SIDE + j / SIDE).collect()
}

/// Loads an EMNIST Matlab file.
pub fn load(path: &Path, progress: &dyn Progress) -> Result<Dataset> {
    load_into(path, progress, None)
}

/// Loads an EMNIST Matlab file, decoding the images into buffers from `images` where it gives
/// them (the cache's file: [`crate::cache::Spool`]).
pub fn load_into(path: &Path, progress: &dyn Progress, images: Option<mat::U8Buffers>) -> Result<Dataset> {
    let file = super::source::open_regular(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut header = vec![0u8; 128];
    let n = read_up_to(&mut reader, &mut header)?;
    header.truncate(n);
    // MAT v7.3 files are HDF5 with a 512-byte user block: the HDF5 signature sits at offset 512.
    let mut tail = [0u8; 8];
    let tail = if len >= 520 {
        use std::io::{Seek, SeekFrom};
        let mut f = super::source::open_regular(path)?;
        f.seek(SeekFrom::Start(512))?;
        f.read_exact(&mut tail)?;
        Some(&tail[..])
    } else {
        None
    };
    let big_endian = mat::parse_header(&header, len, tail)?;
    let opts = ReadOptions {
        column_permutation: Some(column_major_to_row_major()),
        only: Some("dataset".into()),
        u8_buffer: images,
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    progress.start(&format!("decoding {file_name}"), Some(len));
    let vars = mat::read_variables(reader, len, big_endian, &opts, &|n| progress.advance(n));
    progress.finish();
    let vars = vars?;
    let (_, dataset) = vars
        .into_iter()
        .find(|(name, _)| name == "dataset")
        .ok_or_else(|| anyhow!("no variable `dataset`: this is not an EMNIST Matlab file"))?;
    let split = Split::from_file_name(&file_name);
    let info = DatasetInfo {
        name: split.as_ref().map_or_else(|| format!("Matlab dataset {file_name}"), |s| format!("EMNIST {s}")),
        split,
        format: SourceFormat::Matlab,
        path: Some(path.to_path_buf()),
    };
    from_struct(dataset, info)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Builds the dataset from the decoded `dataset` struct.
pub fn from_struct(mut dataset: Value, info: DatasetInfo) -> Result<Dataset> {
    let field = |v: &mut Value, name: &str, within: &str| -> Result<Value> {
        v.take_field(name).ok_or_else(|| anyhow!("`{within}` has no field `{name}`"))
    };
    if !matches!(dataset, Value::Struct { .. }) {
        bail!("`dataset` is a {}, expected a 1×1 struct", dataset.describe());
    }
    let mapping = field(&mut dataset, "mapping", "dataset")?;
    let classes = class_table(&mapping)?;
    let train = part(field(&mut dataset, "train", "dataset")?, "dataset.train", &classes)?;
    let test = part(field(&mut dataset, "test", "dataset")?, "dataset.test", &classes)?;
    Ok(Dataset { info, classes, train, test })
}

fn numbers(v: &Value, what: &str) -> Result<(Vec<usize>, Vec<f64>)> {
    match v {
        Value::Numeric(n) => match &n.data {
            NumericData::F64(d) => Ok((n.dims.clone(), d.clone())),
            NumericData::U8RowMajor(b) => {
                // Row-major bytes back to column-major values, so every numeric array reads alike.
                let (rows, cols) = (n.dims[0], n.dims.get(1).copied().unwrap_or(1));
                let mut d = vec![0.0; b.len()];
                for i in 0..rows {
                    for j in 0..cols {
                        d[j * rows + i] = b[i * cols + j] as f64;
                    }
                }
                Ok((n.dims.clone(), d))
            }
        },
        other => bail!("`{what}` is a {}, expected a numeric array", other.describe()),
    }
}

fn class_table(mapping: &Value) -> Result<ClassTable> {
    let (dims, d) = numbers(mapping, "dataset.mapping")?;
    if dims.len() != 2 || dims[0] == 0 || !(2..=3).contains(&dims[1]) {
        bail!("`dataset.mapping` is a {}, expected K×2 or K×3 (label, character code)", mapping.describe());
    }
    let k = dims[0];
    let rows: Vec<Vec<i64>> = (0..k).map(|r| (0..dims[1]).map(|c| d[c * k + r] as i64).collect()).collect();
    ClassTable::from_mapping(&rows).context("`dataset.mapping`")
}

fn part(mut v: Value, what: &str, classes: &ClassTable) -> Result<Part> {
    if !matches!(v, Value::Struct { .. }) {
        bail!("`{what}` is a {}, expected a 1×1 struct", v.describe());
    }
    let images = v.take_field("images").ok_or_else(|| anyhow!("`{what}` has no field `images`"))?;
    let labels = v.field("labels").ok_or_else(|| anyhow!("`{what}` has no field `labels`"))?;
    let description = images.describe();
    let (n, pixels) = match images {
        Value::Numeric(m) if m.dims.len() == 2 && m.dims[1] == PIXELS => match m.data {
            NumericData::U8RowMajor(b) => (m.dims[0], b),
            NumericData::F64(_) => bail!("`{what}.images` is a {description}, expected uint8 pixels"),
        },
        _ => bail!("`{what}.images` is a {description}, expected N×{PIXELS} uint8 (one 28×28 image per row)"),
    };
    let (ldims, lvals) = numbers(labels, &format!("{what}.labels"))?;
    if lvals.len() != n || ldims.iter().filter(|&&d| d != 1).count() > 1 {
        bail!("`{what}.labels` is a {}, expected {n}×1 to match the {n} images", labels.describe());
    }
    let lookup = classes.lookup();
    let mut idx = Vec::with_capacity(n);
    for (i, &l) in lvals.iter().enumerate() {
        let c = (l.fract() == 0.0).then(|| lookup(l as i64)).flatten().ok_or_else(|| {
            anyhow!(
                "`{what}.labels`: label {l} of image {i} is not in the mapping (labels there: {})",
                label_range(classes)
            )
        })?;
        idx.push(c);
    }
    let writers = match v.field("writers") {
        Some(w) => {
            let (_, wv) = numbers(w, &format!("{what}.writers"))?;
            if wv.len() != n {
                bail!("`{what}.writers` has {} values for {n} images", wv.len());
            }
            Some(wv.iter().map(|&x| x as u32).collect())
        }
        None => None,
    };
    Ok(Part { images: pixels, labels: idx.into(), writers })
}

fn label_range(classes: &ClassTable) -> String {
    let lo = classes.labels.iter().min().copied().unwrap_or(0);
    let hi = classes.labels.iter().max().copied().unwrap_or(0);
    format!("{lo}..{hi}")
}
