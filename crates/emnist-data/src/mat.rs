//! A focused reader for MAT-file level 5 (MATLAB v5, v6 and v7: plain or zlib-compressed elements).
//!
//! It reads numeric, char, struct and cell arrays, whoever wrote the file (MATLAB, scipy, Octave):
//! the header text is descriptive and not checked. uint8 matrices are decoded straight into
//! row-major order, with an optional column permutation, while a second thread inflates the
//! stream — that turns EMNIST's column-major N×784 images into upright row-major images in one pass.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use super::{inflate, Bytes};

/// Errors reading a MAT file. Messages are one line, lowercase.
#[derive(Debug, thiserror::Error)]
pub enum MatError {
    #[error("this is a MAT v7.3 (HDF5) file, which is not supported; save it as v7 (`save(..., '-v7')` in MATLAB, `scipy.io.savemat`) or use NIST's gzip release")]
    V73,
    #[error("not a MAT v5/v7 file ({0})")]
    NotMat(String),
    #[error("the file is truncated ({0})")]
    Truncated(String),
    #[error("the file is corrupt ({0})")]
    Corrupt(String),
    #[error("unsupported MAT content ({0})")]
    Unsupported(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

type Result<T> = std::result::Result<T, MatError>;

/// A decoded MAT array.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A numeric (or logical) array.
    Numeric(Numeric),
    /// A char array, as text.
    Char(String),
    /// A struct array: field names and, per element (column-major), the field values.
    Struct { fields: Vec<String>, elements: Vec<Vec<Value>> },
    /// A cell array, elements column-major.
    Cell(Vec<Value>),
    /// An array kind this reader skips (sparse, object, function handle): its MATLAB class number.
    Skipped(u8),
}

/// A numeric array and its dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Numeric {
    /// MATLAB class (6 double, 7 single, 8 int8, 9 uint8, ... 15 uint64).
    pub class: u8,
    /// Dimensions as stored (at least two).
    pub dims: Vec<usize>,
    pub data: NumericData,
}

/// Numeric values: uint8 2-D matrices stay bytes (row-major!), everything else becomes f64 (column-major).
#[derive(Debug, Clone, PartialEq)]
pub enum NumericData {
    /// A uint8 matrix in ROW-major order (transposed from the file's column-major layout), with the
    /// reader's column permutation applied when the width matched it; in memory, or in a buffer
    /// from [`ReadOptions::u8_buffer`].
    U8RowMajor(Bytes),
    /// Values in MATLAB's column-major order.
    F64(Vec<f64>),
}

impl Value {
    /// A field of a 1×1 struct.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct { fields, elements } if elements.len() == 1 => {
                fields.iter().position(|f| f == name).map(|i| &elements[0][i])
            }
            _ => None,
        }
    }

    /// Moves a field out of a 1×1 struct (leaving a placeholder), to avoid copying large arrays.
    pub fn take_field(&mut self, name: &str) -> Option<Value> {
        match self {
            Value::Struct { fields, elements } if elements.len() == 1 => {
                let i = fields.iter().position(|f| f == name)?;
                Some(std::mem::replace(&mut elements[0][i], Value::Skipped(0)))
            }
            _ => None,
        }
    }

    /// A short description for error messages: `uint8 100×784 array`, `struct`, ...
    pub fn describe(&self) -> String {
        match self {
            Value::Numeric(n) => {
                let dims: Vec<String> = n.dims.iter().map(|d| d.to_string()).collect();
                format!("{} {} array", class_name(n.class), dims.join("×"))
            }
            Value::Char(_) => "char array".into(),
            Value::Struct { .. } => "struct".into(),
            Value::Cell(_) => "cell array".into(),
            Value::Skipped(c) => format!("{} array", class_name(*c)),
        }
    }
}

fn class_name(class: u8) -> &'static str {
    match class {
        1 => "cell",
        2 => "struct",
        3 => "object",
        4 => "char",
        5 => "sparse",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        _ => "unknown",
    }
}

// Data element types.
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Reading options.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// For uint8 matrices whose width equals this permutation's length: output column `perm[j]`
    /// receives input column `j`.
    pub column_permutation: Option<Vec<usize>>,
    /// Only decode this variable; others are skipped without inflating them.
    pub only: Option<String>,
    /// Where uint8 matrices of at least [`U8_BUFFER_MIN`] bytes are decoded to, instead of memory
    /// of their own (the decoded-dataset cache hands out its file, memory-mapped).
    pub u8_buffer: Option<U8Buffers>,
}

/// The smallest uint8 matrix [`ReadOptions::u8_buffer`] is asked for.
pub const U8_BUFFER_MIN: usize = 1 << 20;

/// Hands out zeroed, writable buffers of a given length, or `None` (then memory is allocated).
#[derive(Clone)]
pub struct U8Buffers(pub Arc<dyn Fn(usize) -> Option<memmap2::MmapMut> + Send + Sync>);

impl std::fmt::Debug for U8Buffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("U8Buffers")
    }
}

/// Checks the 128-byte header; returns whether the file is big-endian.
pub fn parse_header(header: &[u8], file_len: u64, tail: Option<&[u8]>) -> Result<bool> {
    if header.len() < 128 {
        if header.starts_with(b"MATLAB") {
            return Err(MatError::Truncated(format!("{} bytes, shorter than the 128-byte header", header.len())));
        }
        return Err(MatError::NotMat(format!("{} bytes, shorter than a MAT header", header.len())));
    }
    let version = [header[124], header[125]];
    let is_v73 = header.starts_with(b"MATLAB 7.3") || version == [0x00, 0x02] || version == [0x02, 0x00];
    if is_v73 || tail.is_some_and(|t| t.starts_with(HDF5_SIGNATURE)) {
        return Err(MatError::V73);
    }
    if header.starts_with(HDF5_SIGNATURE) {
        return Err(MatError::V73);
    }
    let big_endian = match &header[126..128] {
        b"IM" => false,
        b"MI" => true,
        _ => {
            let hint = if header.starts_with(b"MATLAB") { "bad endian indicator" } else { "no MAT v5 header" };
            return Err(MatError::NotMat(hint.into()));
        }
    };
    let _ = file_len;
    Ok(big_endian)
}

/// Reads every variable (or only `opts.only`) of a MAT v5/v7 stream positioned after the header.
///
/// `file_len` bounds element sizes of the uncompressed top level; `on_read` is told how many
/// file bytes were consumed (progress).
pub fn read_variables<R: Read + Seek + Send>(
    mut file: R,
    file_len: u64,
    big_endian: bool,
    opts: &ReadOptions,
    on_read: &(dyn Fn(u64) + Sync),
) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    let mut pos: u64 = 128;
    loop {
        let mut tag = [0u8; 8];
        match read_full(&mut file, &mut tag)? {
            0 => break,
            8 => {}
            n => return Err(MatError::Truncated(format!("{n} stray bytes at the end"))),
        }
        on_read(8);
        pos += 8;
        let (ty, nbytes) = (u32_at(&tag, 0, big_endian), u32_at(&tag, 4, big_endian) as u64);
        if ty >> 16 != 0 {
            return Err(MatError::Corrupt(format!("a small element at the top level, offset {}", pos - 8)));
        }
        if nbytes > file_len.saturating_sub(pos) {
            return Err(MatError::Truncated(format!(
                "an element at offset {} claims {nbytes} bytes but only {} remain",
                pos - 8,
                file_len.saturating_sub(pos)
            )));
        }
        let element = (&mut file).take(nbytes);
        let counted = inflate::Counting { inner: element, on_read: |n| on_read(n) };
        let parsed = match ty {
            MI_COMPRESSED => std::thread::scope(|s| -> Result<Option<(String, Value)>> {
                let decoder = flate2::read::ZlibDecoder::new(io::BufReader::with_capacity(1 << 16, counted));
                let mut inflated = inflate::spawn(s, decoder);
                let mut tag = [0u8; 8];
                read_exact(&mut inflated, &mut tag, "a compressed element's tag")?;
                let (ty, n) = (u32_at(&tag, 0, big_endian), u32_at(&tag, 4, big_endian) as u64);
                if ty != MI_MATRIX {
                    return Err(MatError::Corrupt(format!("a compressed element holds type {ty}, not a matrix")));
                }
                // Deflate expands at most 1032:1, so a claim beyond that is corrupt: refusing it
                // here keeps a small file from making us allocate gigabytes.
                if n > max_inflated(nbytes) {
                    return Err(MatError::Corrupt(format!(
                        "a compressed element of {nbytes} bytes claims {n} bytes, more than deflate can produce"
                    )));
                }
                let mut src = Src { r: &mut inflated, be: big_endian, left: n };
                let v = read_top_matrix(&mut src, opts)?;
                // Drain so the zlib checksum at the end of the stream is verified.
                if v.is_some() {
                    io::copy(&mut inflated, &mut io::sink()).map_err(deflate_error)?;
                }
                Ok(v)
            })?,
            MI_MATRIX => {
                let mut r = counted;
                let mut src = Src { r: &mut r, be: big_endian, left: nbytes };
                read_top_matrix(&mut src, opts)?
            }
            other => return Err(MatError::Corrupt(format!("top-level element of type {other}"))),
        };
        // Continue after the element (and its padding), however much of it was consumed.
        pos += if ty == MI_MATRIX { nbytes.div_ceil(8) * 8 } else { nbytes };
        file.seek(SeekFrom::Start(pos.min(file_len)))?;
        if let Some(v) = parsed {
            let done = opts.only.as_deref() == Some(v.0.as_str());
            out.push(v);
            if done {
                break;
            }
        }
    }
    Ok(out)
}

/// The most bytes a zlib stream of `compressed` bytes can inflate to (deflate's ratio is at most
/// 1032:1), with room for headers.
fn max_inflated(compressed: u64) -> u64 {
    compressed.saturating_mul(1032).saturating_add(4096)
}

fn deflate_error(e: io::Error) -> MatError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        MatError::Truncated("the compressed stream ends early".into())
    } else {
        MatError::Corrupt(format!("bad compressed data: {e}"))
    }
}

/// A bounded element reader: `left` bytes remain in the enclosing element.
struct Src<'a, R: Read> {
    r: &'a mut R,
    be: bool,
    left: u64,
}

impl<R: Read> Src<'_, R> {
    fn bytes(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        if buf.len() as u64 > self.left {
            return Err(MatError::Corrupt(format!("{what} overruns its enclosing element")));
        }
        read_exact(self.r, buf, what)?;
        self.left -= buf.len() as u64;
        Ok(())
    }

    /// Reads `n` bytes into a new vector that grows as data arrives, so a corrupt size field
    /// cannot make us allocate memory the file does not back.
    fn vec(&mut self, n: u64, what: &str) -> Result<Vec<u8>> {
        if n > self.left {
            return Err(MatError::Corrupt(format!("{what} overruns its enclosing element")));
        }
        let mut v = Vec::with_capacity(n.min(1 << 24) as usize);
        (&mut *self.r).take(n).read_to_end(&mut v).map_err(deflate_error)?;
        if (v.len() as u64) < n {
            return Err(MatError::Truncated(format!("data ends inside {what}")));
        }
        self.left -= n;
        Ok(v)
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        if n > self.left {
            return Err(MatError::Corrupt("an element overruns its parent".into()));
        }
        let copied = io::copy(&mut (&mut *self.r).take(n), &mut io::sink()).map_err(deflate_error)?;
        if copied < n {
            return Err(MatError::Truncated("data ends inside an element".into()));
        }
        self.left -= n;
        Ok(())
    }

    fn skip_rest(&mut self) -> Result<()> {
        self.skip(self.left)
    }

    /// Reads a tag; returns (type, nbytes, small) where small data follows in 4 bytes.
    fn tag(&mut self, what: &str) -> Result<(u32, u64, bool)> {
        let mut t = [0u8; 8];
        self.bytes(&mut t[..4], what)?;
        let first = u32_at(&t, 0, self.be);
        if first >> 16 != 0 {
            // Small data element: type in the low half, size in the high half, data in 4 bytes.
            let (ty, n) = (first & 0xffff, (first >> 16) as u64);
            if n > 4 {
                return Err(MatError::Corrupt(format!("{what}: a small element of {n} bytes")));
            }
            return Ok((ty, n, true));
        }
        self.bytes(&mut t[4..], what)?;
        Ok((first, u32_at(&t, 4, self.be) as u64, false))
    }

    /// Reads a whole (small) element's data, consuming padding.
    fn element(&mut self, what: &str, max: u64) -> Result<(u32, Vec<u8>)> {
        let (ty, n, small) = self.tag(what)?;
        if n > max {
            return Err(MatError::Corrupt(format!("{what} is {n} bytes, more than the {max} expected")));
        }
        let data = self.vec(n, what)?;
        self.pad(n, small)?;
        Ok((ty, data))
    }

    fn pad(&mut self, n: u64, small: bool) -> Result<()> {
        let total = if small { 4 } else { n.div_ceil(8) * 8 };
        let pad = total - n;
        // Padding may be missing at the very end of an element (some writers omit it).
        self.skip(pad.min(self.left))
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(deflate_error(e)),
        }
    }
    Ok(n)
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], what: &str) -> Result<()> {
    let n = read_full(r, buf)?;
    if n < buf.len() {
        return Err(MatError::Truncated(format!("data ends inside {what}")));
    }
    Ok(())
}

fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// Reads the matrix header's name; returns None (after skipping) when `opts.only` excludes it.
fn read_top_matrix<R: Read>(src: &mut Src<'_, R>, opts: &ReadOptions) -> Result<Option<(String, Value)>> {
    let (flags, dims, name) = read_matrix_header(src)?;
    if opts.only.as_deref().is_some_and(|only| only != name) {
        // The caller seeks past the element: nothing of it is read or inflated.
        return Ok(None);
    }
    let value = read_matrix_body(src, flags, dims, opts, 0)?;
    Ok(Some((name, value)))
}

fn read_matrix_header<R: Read>(src: &mut Src<'_, R>) -> Result<(u32, Vec<usize>, String)> {
    let (ty, flags) = src.element("array flags", 16)?;
    if ty != MI_UINT32 || flags.len() != 8 {
        return Err(MatError::Corrupt("bad array flags".into()));
    }
    let flags = u32_at(&flags, 0, src.be);
    let (ty, d) = src.element("dimensions", 4 * 64)?;
    if ty != MI_INT32 || d.len() < 8 || d.len() % 4 != 0 {
        return Err(MatError::Corrupt("bad dimensions".into()));
    }
    let dims = d
        .chunks_exact(4)
        .map(|c| {
            let v = u32_at(c, 0, src.be) as i32;
            usize::try_from(v).map_err(|_| MatError::Corrupt(format!("negative dimension {v}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let (ty, name) = src.element("array name", 1 << 16)?;
    if ty != MI_INT8 && ty != MI_UINT8 {
        return Err(MatError::Corrupt("bad array name".into()));
    }
    Ok((flags, dims, String::from_utf8_lossy(&name).into_owned()))
}

fn count(dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| MatError::Corrupt("dimensions overflow".into()))
}

fn read_matrix_body<R: Read>(
    src: &mut Src<'_, R>,
    flags: u32,
    dims: Vec<usize>,
    opts: &ReadOptions,
    depth: usize,
) -> Result<Value> {
    if depth > 32 {
        return Err(MatError::Unsupported("structs nested more than 32 deep".into()));
    }
    let class = (flags & 0xff) as u8;
    let n = count(&dims)?;
    match class {
        6..=15 => {
            let complex = flags & 0x800 != 0;
            let data = read_numeric(src, class, &dims, n, opts)?;
            if complex {
                src.skip_rest()?;
            }
            Ok(Value::Numeric(Numeric { class, dims, data }))
        }
        4 => {
            let (ty, data) = src.element("char data", src.left)?;
            let text = match ty {
                MI_UINT16 | MI_UTF16 => {
                    let units: Vec<u16> =
                        data.chunks_exact(2)
                            .map(|c| {
                                if src.be {
                                    u16::from_be_bytes([c[0], c[1]])
                                } else {
                                    u16::from_le_bytes([c[0], c[1]])
                                }
                            })
                            .collect();
                    String::from_utf16_lossy(&units)
                }
                MI_UTF32 | MI_UINT32 => {
                    data.chunks_exact(4).filter_map(|c| char::from_u32(u32_at(c, 0, src.be))).collect()
                }
                _ => String::from_utf8_lossy(&data).into_owned(),
            };
            Ok(Value::Char(text))
        }
        2 => {
            let (ty, len) = src.element("field name length", 4)?;
            if ty != MI_INT32 || len.len() != 4 {
                return Err(MatError::Corrupt("bad field name length".into()));
            }
            let len = u32_at(&len, 0, src.be) as usize;
            let (_, names) = src.element("field names", 1 << 20)?;
            if len == 0 || names.len() % len != 0 {
                return Err(MatError::Corrupt("bad field names".into()));
            }
            let fields: Vec<String> = names
                .chunks_exact(len)
                .map(|c| {
                    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                    String::from_utf8_lossy(&c[..end]).into_owned()
                })
                .collect();
            // Elements without fields hold no bytes, so the file cannot bound how many there are.
            if fields.is_empty() && n > 1 << 16 {
                return Err(MatError::Unsupported(format!("a struct array of {n} elements without fields")));
            }
            let mut elements = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                let mut values = Vec::with_capacity(fields.len());
                for _ in &fields {
                    values.push(read_sub_matrix(src, opts, depth)?);
                }
                elements.push(values);
            }
            Ok(Value::Struct { fields, elements })
        }
        1 => {
            let mut cells = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                cells.push(read_sub_matrix(src, opts, depth)?);
            }
            Ok(Value::Cell(cells))
        }
        _ => {
            src.skip_rest()?;
            Ok(Value::Skipped(class))
        }
    }
}

/// Reads a miMATRIX element nested in a struct or cell.
fn read_sub_matrix<R: Read>(src: &mut Src<'_, R>, opts: &ReadOptions, depth: usize) -> Result<Value> {
    let (ty, n, small) = src.tag("a nested array")?;
    if ty != MI_MATRIX || small {
        return Err(MatError::Corrupt(format!("a nested element of type {ty}, not a matrix")));
    }
    if n > src.left {
        return Err(MatError::Corrupt("a nested array overruns its parent".into()));
    }
    if n == 0 {
        return Ok(Value::Numeric(Numeric { class: 6, dims: vec![0, 0], data: NumericData::F64(vec![]) }));
    }
    let outer_left = src.left - n;
    src.left = n;
    let (flags, dims, _name) = read_matrix_header(src)?;
    let v = read_matrix_body(src, flags, dims, opts, depth + 1)?;
    src.skip_rest()?;
    src.left = outer_left;
    src.pad(n, false)?;
    Ok(v)
}

fn read_numeric<R: Read>(
    src: &mut Src<'_, R>,
    class: u8,
    dims: &[usize],
    n: usize,
    opts: &ReadOptions,
) -> Result<NumericData> {
    let (ty, nbytes, small) = src.tag("numeric data")?;
    let width = match ty {
        MI_INT8 | MI_UINT8 => 1,
        MI_INT16 | MI_UINT16 => 2,
        MI_INT32 | MI_UINT32 | MI_SINGLE => 4,
        MI_DOUBLE | MI_INT64 | MI_UINT64 => 8,
        other => return Err(MatError::Unsupported(format!("numeric data of element type {other}"))),
    };
    if nbytes != (n as u64).saturating_mul(width) {
        return Err(MatError::Corrupt(format!("an array of {n} values holds {nbytes} bytes of {width}-byte elements")));
    }
    if nbytes > src.left {
        return Err(MatError::Truncated("numeric data overruns its array".into()));
    }
    if class == 9 && ty == MI_UINT8 && dims.len() == 2 && !small {
        let (rows, cols) = (dims[0], dims[1]);
        let perm = opts.column_permutation.as_deref().filter(|p| p.len() == cols);
        let out = read_u8_row_major(src, rows, cols, perm, opts.u8_buffer.as_ref())?;
        src.pad(nbytes, false)?;
        return Ok(NumericData::U8RowMajor(out));
    }
    if nbytes > 1 << 30 {
        return Err(MatError::Unsupported(format!("a {} array of {nbytes} bytes", class_name(class))));
    }
    let raw = src.vec(nbytes, "numeric data")?;
    src.pad(nbytes, small)?;
    let be = src.be;
    let conv: Vec<f64> = raw
        .chunks_exact(width as usize)
        .map(|c| {
            let mut a = [0u8; 8];
            a[..c.len()].copy_from_slice(c);
            if be {
                a[..c.len()].reverse();
            }
            match ty {
                MI_INT8 => a[0] as i8 as f64,
                MI_UINT8 => a[0] as f64,
                MI_INT16 => i16::from_le_bytes([a[0], a[1]]) as f64,
                MI_UINT16 => u16::from_le_bytes([a[0], a[1]]) as f64,
                MI_INT32 => i32::from_le_bytes([a[0], a[1], a[2], a[3]]) as f64,
                MI_UINT32 => u32::from_le_bytes([a[0], a[1], a[2], a[3]]) as f64,
                MI_SINGLE => f32::from_le_bytes([a[0], a[1], a[2], a[3]]) as f64,
                MI_DOUBLE => f64::from_le_bytes(a),
                MI_INT64 => i64::from_le_bytes(a) as f64,
                _ => u64::from_le_bytes(a) as f64,
            }
        })
        .collect();
    let mut conv = conv;
    if class == 9 && dims.len() == 2 {
        // A uint8 matrix stored in a wider type: keep the uint8 contract (row-major bytes).
        let (rows, cols) = (dims[0], dims[1]);
        let perm = opts.column_permutation.as_deref().filter(|p| p.len() == cols);
        let mut out = vec![0u8; n];
        for j in 0..cols {
            let dst = perm.map_or(j, |p| p[j]);
            for i in 0..rows {
                out[i * cols + dst] = conv[j * rows + i].clamp(0.0, 255.0) as u8;
            }
        }
        conv.clear();
        return Ok(NumericData::U8RowMajor(out.into()));
    }
    Ok(NumericData::F64(conv))
}

/// Target bytes of one block of columns held while transposing.
const BLOCK_BYTES: usize = 48 << 20;
const TILE: usize = 64;

/// Streams a column-major uint8 matrix into row-major order, a block of columns at a time; the
/// column permutation is applied per tile of rows during the last block, while they are in cache.
fn read_u8_row_major<R: Read>(
    src: &mut Src<'_, R>,
    rows: usize,
    cols: usize,
    perm: Option<&[usize]>,
    buffers: Option<&U8Buffers>,
) -> Result<Bytes> {
    let total = rows * cols;
    if rows <= 1 || cols <= 1 {
        let mut out = src.vec(total as u64, "uint8 data")?;
        if let (Some(p), 1) = (perm, rows) {
            let tmp = out.clone();
            permute_row(&tmp, &mut out, p);
        }
        return Ok(out.into());
    }
    // A multiple of 16 where it can be: the transpose goes 16 columns at a time.
    let block_cols = match (BLOCK_BYTES / rows).clamp(1, cols) {
        n if n >= 16 && n < cols => n / 16 * 16,
        n => n,
    };
    // The first block is read as it arrives; only once it is complete (the data exists) is the
    // whole output allocated.
    let mut block = src.vec((block_cols * rows) as u64, "uint8 data")?;
    let mut out = match buffers.filter(|_| total >= U8_BUFFER_MIN).and_then(|b| (b.0)(total)) {
        Some(map) if map.len() == total => Output::Mapped(map),
        _ => Output::Heap(vec![0u8; total]),
    };
    let out_bytes: &mut [u8] = match &mut out {
        Output::Heap(v) => v,
        Output::Mapped(m) => m,
    };
    transpose_into(src, &mut block, out_bytes, rows, cols, block_cols, perm)?;
    Ok(match out {
        Output::Heap(v) => v.into(),
        Output::Mapped(m) => {
            let map = m.make_read_only()?;
            Bytes::Mapped { map: Arc::new(map), start: 0, len: total }
        }
    })
}

/// Where a uint8 matrix is decoded to.
enum Output {
    Heap(Vec<u8>),
    Mapped(memmap2::MmapMut),
}

/// The block transpose of [`read_u8_row_major`]: `block` holds the first block of columns.
fn transpose_into<R: Read>(
    src: &mut Src<'_, R>,
    block: &mut [u8],
    out: &mut [u8],
    rows: usize,
    cols: usize,
    block_cols: usize,
    perm: Option<&[usize]>,
) -> Result<()> {
    let mut first = true;
    let mut scratch = vec![0u8; cols];
    let square28 =
        perm.is_some_and(|p| p.len() == 784 && p.iter().enumerate().all(|(j, &p)| p == (j % 28) * 28 + j / 28));
    let mut j0 = 0;
    while j0 < cols {
        let bc = block_cols.min(cols - j0);
        let block = &mut block[..bc * rows];
        if !first {
            src.bytes(block, "uint8 data")?;
        }
        first = false;
        let last = j0 + bc == cols;
        for t in (0..rows).step_by(TILE) {
            let t_end = (t + TILE).min(rows);
            transpose_tile(block, out, Tile { rows, cols, j0, bc, t, t_end });
            if let (true, Some(p)) = (last, perm) {
                for i in t..t_end {
                    let row = &mut out[i * cols..(i + 1) * cols];
                    scratch.copy_from_slice(row);
                    if square28 {
                        transpose28(&scratch, row);
                    } else {
                        permute_row(&scratch, row, p);
                    }
                }
            }
        }
        j0 += bc;
    }
    Ok(())
}

/// Where [`transpose_tile`] works: rows `t..t_end` of the block of `bc` columns from `j0`, each
/// column `rows` long, into an output of `cols` columns.
#[derive(Debug, Clone, Copy)]
struct Tile {
    rows: usize,
    cols: usize,
    j0: usize,
    bc: usize,
    t: usize,
    t_end: usize,
}

/// `out[i * cols + j0 + k] = block[k * rows + i]` for `i` in `t..t_end` and `k` in `0..bc`:
/// 16×16 squares at a time with SSE2 on x86-64, the edges one byte at a time.
fn transpose_tile(block: &[u8], out: &mut [u8], tile: Tile) {
    let Tile { rows, cols, j0, bc, t, t_end } = tile;
    #[cfg(target_arch = "x86_64")]
    let (sq_rows, sq_cols) = ((t_end - t) / 16 * 16, bc / 16 * 16);
    #[cfg(not(target_arch = "x86_64"))]
    let (sq_rows, sq_cols) = (0, 0);
    #[cfg(target_arch = "x86_64")]
    for i in (t..t + sq_rows).step_by(16) {
        for k in (0..sq_cols).step_by(16) {
            // SAFETY: SSE2 is part of every x86-64 CPU (the target's baseline).
            unsafe { transpose16(&block[k * rows + i..], rows, &mut out[i * cols + j0 + k..], cols) };
        }
    }
    let bytewise = |out: &mut [u8], is: std::ops::Range<usize>, ks: std::ops::Range<usize>| {
        for k in ks {
            let col = &block[k * rows + is.start..k * rows + is.end];
            for (n, &v) in col.iter().enumerate() {
                out[(is.start + n) * cols + j0 + k] = v;
            }
        }
    };
    bytewise(out, t..t_end, sq_cols..bc);
    bytewise(out, t + sq_rows..t_end, 0..sq_cols);
}

/// `dst[c * ds + r] = src[r * ss + c]` for `r`, `c` in `0..16`: a 16×16 byte transpose in four
/// rounds of SSE2 interleaves (part of every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn transpose16(src: &[u8], ss: usize, dst: &mut [u8], ds: usize) {
    use std::arch::x86_64::*;
    assert!(src.len() >= 15 * ss + 16 && dst.len() >= 15 * ds + 16, "a 16×16 square out of bounds");
    // SAFETY: the assert above keeps every 16-byte load and store within the slices.
    let r: [__m128i; 16] = std::array::from_fn(|i| unsafe { _mm_loadu_si128(src.as_ptr().add(i * ss).cast()) });
    // Pairs of rows, column by column: a[2p] columns 0..8 of rows 2p and 2p + 1, a[2p + 1] 8..16.
    let mut a = [_mm_setzero_si128(); 16];
    for p in 0..8 {
        a[2 * p] = _mm_unpacklo_epi8(r[2 * p], r[2 * p + 1]);
        a[2 * p + 1] = _mm_unpackhi_epi8(r[2 * p], r[2 * p + 1]);
    }
    // Fours of rows: b[4q + m] columns 4m..4m + 4 of rows 4q..4q + 4.
    let mut b = [_mm_setzero_si128(); 16];
    for q in 0..4 {
        b[4 * q] = _mm_unpacklo_epi16(a[4 * q], a[4 * q + 2]);
        b[4 * q + 1] = _mm_unpackhi_epi16(a[4 * q], a[4 * q + 2]);
        b[4 * q + 2] = _mm_unpacklo_epi16(a[4 * q + 1], a[4 * q + 3]);
        b[4 * q + 3] = _mm_unpackhi_epi16(a[4 * q + 1], a[4 * q + 3]);
    }
    // Eights of rows: c[8h + n] columns 2n and 2n + 1 of rows 8h..8h + 8.
    let mut c = [_mm_setzero_si128(); 16];
    for h in 0..2 {
        for m in 0..4 {
            c[8 * h + 2 * m] = _mm_unpacklo_epi32(b[8 * h + m], b[8 * h + 4 + m]);
            c[8 * h + 2 * m + 1] = _mm_unpackhi_epi32(b[8 * h + m], b[8 * h + 4 + m]);
        }
    }
    for n in 0..8 {
        // SAFETY: as for the loads.
        unsafe {
            _mm_storeu_si128(dst.as_mut_ptr().add(2 * n * ds).cast(), _mm_unpacklo_epi64(c[n], c[8 + n]));
            _mm_storeu_si128(dst.as_mut_ptr().add((2 * n + 1) * ds).cast(), _mm_unpackhi_epi64(c[n], c[8 + n]));
        }
    }
}

/// EMNIST's case of the permutation: a column-major 28×28 image to row-major.
fn transpose28(src: &[u8], dst: &mut [u8]) {
    let (s, d): (&[u8; 784], &mut [u8; 784]) = (src.try_into().expect("784"), dst.try_into().expect("784"));
    for c in 0..28 {
        for r in 0..28 {
            d[r * 28 + c] = s[c * 28 + r];
        }
    }
}

/// `dst[perm[j]] = src[j]`.
fn permute_row(src: &[u8], dst: &mut [u8], perm: &[usize]) {
    for (j, &p) in perm.iter().enumerate() {
        dst[p] = src[j];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_detects_v73_and_endianness() {
        let mut h = vec![b' '; 128];
        h[..19].copy_from_slice(b"MATLAB 5.0 MAT-file");
        h[124] = 0;
        h[125] = 1;
        h[126..128].copy_from_slice(b"IM");
        assert!(!parse_header(&h, 128, None).unwrap());
        h[126..128].copy_from_slice(b"MI");
        assert!(parse_header(&h, 128, None).unwrap());
        h[124..128].copy_from_slice(&[0, 2, b'I', b'M']);
        assert!(matches!(parse_header(&h, 128, None), Err(MatError::V73)));
        assert!(matches!(parse_header(b"hello", 5, None), Err(MatError::NotMat(_))));
        let mut h2 = vec![b' '; 128];
        h2[126..128].copy_from_slice(b"IM");
        assert!(matches!(parse_header(&h2, 600, Some(HDF5_SIGNATURE)), Err(MatError::V73)));
    }

    #[test]
    fn compressed_claims_beyond_deflates_ratio_are_refused() {
        // A real 4 MiB run of zeros compresses to about 4 KB and stays within the bound.
        let zeros = vec![0u8; 4 << 20];
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut enc, &zeros).unwrap();
        let packed = enc.finish().unwrap();
        assert!((zeros.len() as u64) <= max_inflated(packed.len() as u64));
        // 51 KB claiming a 65536×65535 matrix (4.3 GB) is not.
        assert!(65536u64 * 65535 > max_inflated(51 * 1024));
        let mut file = vec![b' '; 128];
        file[124..128].copy_from_slice(&[0, 1, b'I', b'M']);
        let mut inner = Vec::new();
        inner.extend_from_slice(&MI_MATRIX.to_le_bytes());
        inner.extend_from_slice(&u32::MAX.to_le_bytes());
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, &inner).unwrap();
        let z = enc.finish().unwrap();
        file.extend_from_slice(&MI_COMPRESSED.to_le_bytes());
        file.extend_from_slice(&(z.len() as u32).to_le_bytes());
        file.extend_from_slice(&z);
        let len = file.len() as u64;
        let mut cur = std::io::Cursor::new(file);
        cur.set_position(128);
        let err = read_variables(cur, len, false, &ReadOptions::default(), &|_| {}).unwrap_err();
        assert!(err.to_string().contains("more than deflate can produce"), "{err}");
    }

    #[test]
    fn row_major_transpose_with_permutation() {
        // A 3×4 column-major matrix: value = 10*row + col.
        let (rows, cols) = (3, 4);
        let mut data = Vec::new();
        for j in 0..cols {
            for i in 0..rows {
                data.push((10 * i + j) as u8);
            }
        }
        let mut r = &data[..];
        let mut src = Src { r: &mut r, be: false, left: data.len() as u64 };
        let perm = [3, 2, 1, 0];
        let out = read_u8_row_major(&mut src, rows, cols, Some(&perm), None).unwrap();
        assert_eq!(out[..], [3, 2, 1, 0, 13, 12, 11, 10, 23, 22, 21, 20]);
    }

    #[test]
    fn tiles_transpose_as_byte_by_byte_at_every_edge() {
        for (rows, cols, j0, bc, t, t_end) in [
            (40, 50, 3, 40, 0, 40),
            (37, 33, 0, 33, 5, 37),
            (16, 16, 0, 16, 0, 16),
            (100, 70, 17, 48, 31, 95),
            (9, 5, 1, 4, 0, 9),
        ] {
            let block: Vec<u8> = (0..bc * rows).map(|i| (i * 131 + i / 7) as u8).collect();
            let mut ours = vec![0u8; rows * cols];
            let mut want = ours.clone();
            transpose_tile(&block, &mut ours, Tile { rows, cols, j0, bc, t, t_end });
            for k in 0..bc {
                for i in t..t_end {
                    want[i * cols + j0 + k] = block[k * rows + i];
                }
            }
            assert!(ours == want, "{rows}×{cols} from column {j0}, {bc} columns, rows {t}..{t_end}");
        }
    }

    #[test]
    fn large_matrices_go_to_the_buffers_given_and_decode_alike() {
        // 1,400 × 784 column-major bytes (over U8_BUFFER_MIN), transposed and permuted as EMNIST's.
        let (rows, cols) = (1400, 784);
        let data: Vec<u8> = (0..rows * cols).map(|i| (i * 7 + i / 784) as u8).collect();
        let perm: Vec<usize> = (0..784).map(|j| (j % 28) * 28 + j / 28).collect();
        let decode = |buffers: Option<&U8Buffers>| {
            let mut r = &data[..];
            let mut src = Src { r: &mut r, be: false, left: data.len() as u64 };
            read_u8_row_major(&mut src, rows, cols, Some(&perm), buffers).unwrap()
        };
        let anon = U8Buffers(Arc::new(|len| memmap2::MmapMut::map_anon(len).ok()));
        let (heap, mapped) = (decode(None), decode(Some(&anon)));
        assert!(matches!(heap, Bytes::Owned(_)) && matches!(mapped, Bytes::Mapped { .. }));
        assert!(heap == mapped);
        assert_eq!(heap[3 * cols + perm[5]], data[5 * rows + 3]);
        // A source that refuses falls back to memory.
        let refusing = U8Buffers(Arc::new(|_| None));
        assert!(matches!(decode(Some(&refusing)), Bytes::Owned(_)));
    }

    /// A whole little-endian file: a 128-byte header, then `body` at offset 128.
    fn read_file(body: &[u8]) -> Result<Vec<(String, Value)>> {
        let mut file = vec![b' '; 124];
        file.extend_from_slice(&[0, 1, b'I', b'M']);
        file.extend_from_slice(body);
        let len = file.len() as u64;
        let mut cursor = io::Cursor::new(file);
        cursor.set_position(128);
        read_variables(cursor, len, false, &ReadOptions::default(), &|_| {})
    }

    #[test]
    fn fuzz_fieldless_struct_array_is_bounded() {
        // Found by review, confirmed with the `mat` fuzz target: a 2147483647×2147483647 struct
        // array without fields (one 72-byte element) looped 4.6e18 times pushing empty elements.
        let element = |dims: [u8; 8]| -> Vec<u8> {
            let mut e = vec![14, 0, 0, 0, 64, 0, 0, 0, 6, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
            e.extend_from_slice(&[5, 0, 0, 0, 8, 0, 0, 0]);
            e.extend_from_slice(&dims);
            e.extend_from_slice(&[1, 0, 0, 0, 7, 0, 0, 0, b'd', b'a', b't', b'a', b's', b'e', b't', 0]);
            // Field name length 1 (a small element), then zero bytes of field names.
            e.extend_from_slice(&[5, 0, 4, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
            e
        };
        let huge = element([255, 255, 255, 127, 255, 255, 255, 127]);
        assert!(matches!(read_file(&huge), Err(MatError::Unsupported(_))));
        // A 1×1 struct without fields (MATLAB's `struct()`) still reads.
        let vars = read_file(&element([1, 0, 0, 0, 1, 0, 0, 0])).unwrap();
        assert_eq!(vars, vec![("dataset".into(), Value::Struct { fields: vec![], elements: vec![vec![]] })]);
    }
}
