//! One record of the payload log and its framing on disk.
//!
//! A segment starts with the 8-byte [`MAGIC`]; each record follows as `[length: u32 LE]
//! [CRC-32 of the body: u32 LE][body]`, and the body is `[kind: u8][metadata length: u32 LE]
//! [metadata]` followed, for a prediction, by the image: its 784 pixels, or (the sparse kinds) a
//! bitmap of its inked pixels and their values. A prediction's metadata is binary (kinds 4 and 5,
//! [`PredictionRef::encode_into`]: a third of the bytes of JSON); logs written before it hold JSON
//! (kinds 1 and 3) and read back alike. A feedback's metadata is JSON. A reader trusts a record
//! only when its length is within [`MAX_BODY`], all of it is present and its CRC matches.
//!
//! The binary metadata, in order: the id, the image's index, the time in ms, the model, the
//! version, the protocol, the predicted class, the number of top classes (one byte), then each
//! top class's name and its probability (f32 LE). Numbers are LEB128 varints and strings a varint
//! length before their UTF-8 bytes.

use serde::{Deserialize, Serialize};

use crate::PIXELS;

/// The first bytes of every segment file (format version 1).
pub const MAGIC: &[u8; 8] = b"EMPLOG1\n";
/// The largest body a record may have: the metadata is small, the image is 784 bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Bytes before a record's body: its length and CRC.
pub const FRAME_HEADER: usize = 8;

/// A prediction with JSON metadata and a whole image (logs written before binary metadata).
const KIND_PREDICTION_JSON: u8 = 1;
const KIND_FEEDBACK: u8 = 2;
/// A prediction with JSON metadata and a sparse image (logs written before binary metadata).
const KIND_PREDICTION_JSON_SPARSE: u8 = 3;
/// A prediction with binary metadata and a whole image.
const KIND_PREDICTION: u8 = 4;
/// A prediction with binary metadata and a sparse image.
const KIND_PREDICTION_SPARSE: u8 = 5;
/// The bitmap of a sparse image: one bit per pixel.
const BITMAP: usize = PIXELS / 8;

/// One image the server answered: what the model saw and what it said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The request id the answer carried (`X-Request-Id`, KServe's `id`).
    pub id: String,
    /// The image's place in its request (0 for one-image requests).
    pub index: u32,
    /// Milliseconds since the Unix epoch when the answer was made.
    pub time_ms: u64,
    /// The model's name and version as the server serves them.
    pub model: String,
    /// The version number (1 for a single model file).
    pub version: u64,
    /// The protocol the request came in on (`kserve`, `grpc`, `tfserving`, `graphpipe`, `predict`).
    pub protocol: String,
    /// The predicted class's name as the model's labels spell it.
    pub class: String,
    /// The three likeliest classes and their probabilities, likeliest first.
    pub top: Vec<(String, f32)>,
    /// The image as the model saw it: 28×28 uint8, row-major, light ink on dark.
    #[serde(skip)]
    pub pixels: Vec<u8>,
}

/// A person's word on one logged image: its true class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// The request id of the prediction it is about.
    pub id: String,
    /// The image's place in that request.
    pub index: u32,
    /// Milliseconds since the Unix epoch when the feedback came.
    pub time_ms: u64,
    /// The true class's name as the model's labels spell it.
    pub label: String,
}

/// One record: a prediction or a feedback.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Prediction(Prediction),
    Feedback(Feedback),
}

/// Why a record's body could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RecordError {
    #[error("a record of {0} bytes is larger than the limit of {MAX_BODY}")]
    TooLarge(usize),
    #[error("the record is cut short")]
    Short,
    #[error("the record's checksum does not match its bytes")]
    Checksum,
    #[error("unknown record kind {0} (a log written by a newer emnist?)")]
    Kind(u8),
    #[error("the record's metadata is not valid: {0}")]
    Metadata(String),
    #[error("a prediction record holds {0} pixels instead of {PIXELS}")]
    Pixels(usize),
    #[error("a prediction record's sparse image does not match its bitmap")]
    Sparse,
}

/// A prediction record from borrowed parts: the same bytes [`Entry::encode`] makes of the
/// [`Prediction`] with these fields, in one allocation (a server's hot path builds no entry).
#[derive(Debug)]
pub struct PredictionRef<'a> {
    pub id: &'a str,
    pub index: u32,
    pub time_ms: u64,
    pub model: &'a str,
    pub version: u64,
    pub protocol: &'a str,
    pub class: &'a str,
    pub top: &'a [(&'a str, f32)],
    pub pixels: &'a [u8],
}

impl PredictionRef<'_> {
    /// The framed record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FRAME_HEADER + 5 + 256 + self.pixels.len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the framed record to `out` (a server's queue: no allocation of its own): binary
    /// metadata, and the image sparse (kind 5) when that is shorter, else whole (kind 4).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let pixels = self.pixels;
        frame_into(
            out,
            |out| self.write_meta(out),
            |out| {
                if pixels.len() == PIXELS && sparse_into(pixels, out) {
                    KIND_PREDICTION_SPARSE
                } else {
                    out.extend_from_slice(pixels);
                    KIND_PREDICTION
                }
            },
        )
    }

    /// Appends the binary metadata (the module's documentation gives its layout).
    fn write_meta(&self, out: &mut Vec<u8>) {
        put_str(out, self.id);
        put_varint(out, u64::from(self.index));
        put_varint(out, self.time_ms);
        put_str(out, self.model);
        put_varint(out, self.version);
        put_str(out, self.protocol);
        put_str(out, self.class);
        let top = &self.top[..self.top.len().min(usize::from(u8::MAX))];
        out.push(top.len() as u8);
        for (name, p) in top {
            put_str(out, name);
            out.extend_from_slice(&p.to_le_bytes());
        }
    }
}

/// Appends `v` as an LEB128 varint: seven bits a byte, the low bits first.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `s`'s length as a varint, then its bytes.
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Reads binary metadata front to back; every read checks that its bytes are there.
struct Meta<'a>(&'a [u8]);

impl<'a> Meta<'a> {
    fn bad(what: &str) -> RecordError {
        RecordError::Metadata(format!("its {what} is cut short or malformed"))
    }

    fn varint(&mut self, what: &str) -> Result<u64, RecordError> {
        let mut v = 0u64;
        for (i, &b) in self.0.iter().enumerate().take(10) {
            let bits = u64::from(b & 0x7f);
            // The tenth byte carries the 64th bit only.
            if i == 9 && b > 1 {
                break;
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Ok(v);
            }
        }
        Err(Meta::bad(what))
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], RecordError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(|| Meta::bad(what))?;
        self.0 = rest;
        Ok(head)
    }

    fn str(&mut self, what: &str) -> Result<String, RecordError> {
        let n = usize::try_from(self.varint(what)?).map_err(|_| Meta::bad(what))?;
        let bytes = self.bytes(n, what)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| Meta::bad(what))
    }

    fn prediction(mut self) -> Result<Prediction, RecordError> {
        let id = self.str("id")?;
        let index = u32::try_from(self.varint("index")?).map_err(|_| Meta::bad("index"))?;
        let time_ms = self.varint("time")?;
        let model = self.str("model")?;
        let version = self.varint("version")?;
        let protocol = self.str("protocol")?;
        let class = self.str("class")?;
        let n = self.bytes(1, "top classes")?[0];
        let mut top = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let name = self.str("top class")?;
            let p = f32::from_le_bytes(self.bytes(4, "top probability")?.try_into().expect("4 bytes"));
            top.push((name, p));
        }
        if !self.0.is_empty() {
            return Err(RecordError::Metadata(format!("{} bytes follow its last field", self.0.len())));
        }
        Ok(Prediction { id, index, time_ms, model, version, protocol, class, top, pixels: Vec::new() })
    }
}

/// Appends the bitmap of `pixels` (784 of them) and their values that are not 0, when that is
/// shorter than the pixels themselves; else appends nothing and says so.
fn sparse_into(pixels: &[u8], out: &mut Vec<u8>) -> bool {
    let at = out.len();
    out.resize(at + BITMAP + PIXELS, 0);
    let (bitmap, values) = out[at..].split_at_mut(BITMAP);
    let k = compact(
        pixels.try_into().expect("784 pixels"),
        bitmap.try_into().expect("the bitmap"),
        values.try_into().expect("room for every pixel"),
    );
    let sparse = BITMAP + k < PIXELS;
    out.truncate(if sparse { at + BITMAP + k } else { at });
    sparse
}

/// Sets the bits of `bitmap` (zeroed) of the pixels that are not 0 and packs their values at the
/// start of `values`: how many there are. Sixteen pixels per step where the CPU has SSSE3 (a
/// byte shuffle packs them; the server logs every image it answers with this), else eight.
fn compact(pixels: &[u8; PIXELS], bitmap: &mut [u8; BITMAP], values: &mut [u8; PIXELS]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("ssse3") && std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU has both features, checked just above.
        return unsafe { compact_ssse3(pixels, bitmap, values) };
    }
    compact_scalar(pixels, bitmap, values)
}

/// [`compact`] eight pixels at a time, without a branch per pixel.
fn compact_scalar(pixels: &[u8; PIXELS], bitmap: &mut [u8; BITMAP], values: &mut [u8; PIXELS]) -> usize {
    let mut k = 0;
    for (bits, eight) in bitmap.iter_mut().zip(pixels.chunks_exact(8)) {
        if u64::from_ne_bytes(eight.try_into().expect("8 bytes")) == 0 {
            continue;
        }
        for (j, &v) in eight.iter().enumerate() {
            values[k] = v;
            let set = usize::from(v != 0);
            *bits |= (set as u8) << j;
            k += set;
        }
    }
    k
}

/// For each 8-bit mask, the places of its set bits in order, then 0x80 (a shuffle writes 0 there).
#[cfg(target_arch = "x86_64")]
static PACK: [[u8; 8]; 256] = {
    let mut table = [[0x80u8; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut bit, mut k) = (0, 0);
        while bit < 8 {
            if m & (1 << bit) != 0 {
                table[m][k] = bit as u8;
                k += 1;
            }
            bit += 1;
        }
        m += 1;
    }
    table
};

/// [`compact`] sixteen pixels at a time: a compare gives the bitmap's two bytes, and one shuffle
/// packs each half's inked pixels to its front; each half is stored whole (8 bytes) where the
/// next values go, and the next store overwrites what lies beyond its inked pixels.
///
/// # Safety
/// The CPU must have SSSE3 and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3,popcnt")]
unsafe fn compact_ssse3(pixels: &[u8; PIXELS], bitmap: &mut [u8; BITMAP], values: &mut [u8; PIXELS]) -> usize {
    use std::arch::x86_64::*;
    const { assert!(PIXELS.is_multiple_of(16)) };
    let zero = _mm_setzero_si128();
    let eight = _mm_set1_epi8(8);
    let mut k = 0;
    for g in 0..PIXELS / 16 {
        // SAFETY: 16 bytes at 16 g < 784 lie within `pixels`.
        let v = unsafe { _mm_loadu_si128(pixels.as_ptr().add(16 * g).cast()) };
        let m = !(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)) as u32) & 0xffff;
        if m == 0 {
            continue;
        }
        let (lo, hi) = ((m & 0xff) as usize, (m >> 8) as usize);
        bitmap[2 * g] = lo as u8;
        bitmap[2 * g + 1] = hi as u8;
        let order = _mm_set_epi64x(i64::from_le_bytes(PACK[hi]), i64::from_le_bytes(PACK[lo]));
        // The high half's places count from 8 (0x80 + 8 keeps its top bit: still a 0).
        let order = _mm_add_epi8(order, _mm_unpacklo_epi64(zero, eight));
        let packed = _mm_shuffle_epi8(v, order);
        // SAFETY: k <= 16 g before the first store and k <= 16 g + 8 before the second, so each
        // 8-byte store ends by 16 g + 16 <= 784, within `values`.
        unsafe {
            _mm_storel_epi64(values.as_mut_ptr().add(k).cast(), packed);
            k += lo.count_ones() as usize;
            _mm_storel_epi64(values.as_mut_ptr().add(k).cast(), _mm_unpackhi_epi64(packed, packed));
            k += hi.count_ones() as usize;
        }
    }
    k
}

/// The 784 pixels of a sparse image's bitmap and values.
fn unsparse(tail: &[u8]) -> Result<Vec<u8>, RecordError> {
    let (bitmap, values) = tail.split_at_checked(BITMAP).ok_or(RecordError::Sparse)?;
    let set: usize = bitmap.iter().map(|b| b.count_ones() as usize).sum();
    if set != values.len() || values.contains(&0) {
        return Err(RecordError::Sparse);
    }
    let mut pixels = vec![0u8; PIXELS];
    let mut values = values.iter();
    for (i, p) in pixels.iter_mut().enumerate() {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            *p = *values.next().expect("counted");
        }
    }
    Ok(pixels)
}

/// Appends `[length][CRC-32][kind][metadata length][the metadata `meta` appends][what `tail` appends]`
/// to `out`, the kind being what `tail` returns.
fn frame_into(out: &mut Vec<u8>, meta: impl FnOnce(&mut Vec<u8>), tail: impl FnOnce(&mut Vec<u8>) -> u8) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER + 5]);
    meta(out);
    let meta_len = out.len() - start - FRAME_HEADER - 5;
    let kind = tail(out);
    let body_len = out.len() - start - FRAME_HEADER;
    let record = &mut out[start..];
    record[FRAME_HEADER] = kind;
    record[FRAME_HEADER + 1..FRAME_HEADER + 5].copy_from_slice(&(meta_len as u32).to_le_bytes());
    record[0..4].copy_from_slice(&(body_len as u32).to_le_bytes());
    let crc = crc32fast::hash(&record[FRAME_HEADER..]);
    record[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// The kind byte of a framed record, if it holds one: a prediction or a feedback.
pub fn framed_kind(record: &[u8]) -> Option<FramedKind> {
    match *record.get(FRAME_HEADER)? {
        KIND_PREDICTION | KIND_PREDICTION_SPARSE | KIND_PREDICTION_JSON | KIND_PREDICTION_JSON_SPARSE => {
            Some(FramedKind::Prediction)
        }
        KIND_FEEDBACK => Some(FramedKind::Feedback),
        _ => None,
    }
}

/// The length of the framed record at the start of `bytes` (its header's word, not checked
/// against its CRC): how a queue of records framed by this module splits.
pub fn framed_len(bytes: &[u8]) -> Option<usize> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    Some(FRAME_HEADER + len).filter(|&n| n <= bytes.len())
}

/// What a framed record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramedKind {
    Prediction,
    Feedback,
}

impl Prediction {
    /// Calls `f` with a borrowed view of this prediction (what the server frames from).
    pub fn with_ref<R>(&self, f: impl FnOnce(PredictionRef<'_>) -> R) -> R {
        let top: Vec<(&str, f32)> = self.top.iter().map(|(c, v)| (c.as_str(), *v)).collect();
        f(PredictionRef {
            id: &self.id,
            index: self.index,
            time_ms: self.time_ms,
            model: &self.model,
            version: self.version,
            protocol: &self.protocol,
            class: &self.class,
            top: &top,
            pixels: &self.pixels,
        })
    }
}

impl Entry {
    /// The framed record: length, CRC-32, body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the framed record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Entry::Prediction(p) => p.with_ref(|r| r.encode_into(out)),
            Entry::Feedback(f) => {
                frame_into(out, |out| serde_json::to_writer(out, f).expect("plain data"), |_| KIND_FEEDBACK)
            }
        }
    }

    /// Reads the record at the start of `bytes`: the entry and the bytes it took.
    pub fn decode(bytes: &[u8]) -> Result<(Entry, usize), RecordError> {
        if bytes.len() < FRAME_HEADER {
            return Err(RecordError::Short);
        }
        let len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
        if len > MAX_BODY {
            return Err(RecordError::TooLarge(len));
        }
        let body = bytes.get(FRAME_HEADER..FRAME_HEADER + len).ok_or(RecordError::Short)?;
        if crc32fast::hash(body) != u32::from_le_bytes(bytes[4..8].try_into().unwrap()) {
            return Err(RecordError::Checksum);
        }
        Ok((Entry::decode_body(body)?, FRAME_HEADER + len))
    }

    fn decode_body(body: &[u8]) -> Result<Entry, RecordError> {
        let bad = |e: serde_json::Error| RecordError::Metadata(e.to_string());
        let (&kind, rest) = body.split_first().ok_or(RecordError::Short)?;
        let meta_len = u32::from_le_bytes(rest.get(..4).ok_or(RecordError::Short)?.try_into().unwrap()) as usize;
        let meta = rest.get(4..4 + meta_len).ok_or(RecordError::Short)?;
        let tail = &rest[4 + meta_len..];
        match kind {
            KIND_PREDICTION | KIND_PREDICTION_SPARSE | KIND_PREDICTION_JSON | KIND_PREDICTION_JSON_SPARSE => {
                let pixels = if matches!(kind, KIND_PREDICTION_SPARSE | KIND_PREDICTION_JSON_SPARSE) {
                    unsparse(tail)?
                } else if tail.len() == PIXELS {
                    tail.to_vec()
                } else {
                    return Err(RecordError::Pixels(tail.len()));
                };
                let mut p = if matches!(kind, KIND_PREDICTION | KIND_PREDICTION_SPARSE) {
                    Meta(meta).prediction()?
                } else {
                    serde_json::from_slice(meta).map_err(bad)?
                };
                p.pixels = pixels;
                Ok(Entry::Prediction(p))
            }
            KIND_FEEDBACK => Ok(Entry::Feedback(serde_json::from_slice(meta).map_err(bad)?)),
            other => Err(RecordError::Kind(other)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn prediction(id: &str, index: u32, class: &str, ink: u8) -> Prediction {
        Prediction {
            id: id.into(),
            index,
            time_ms: 1_765_000_000_000,
            model: "emnist".into(),
            version: 1,
            protocol: "kserve".into(),
            class: class.into(),
            top: vec![(class.into(), 0.9), ("1".into(), 0.06), ("2".into(), 0.04)],
            pixels: vec![ink; PIXELS],
        }
    }

    #[test]
    fn a_borrowed_prediction_encodes_to_the_same_bytes() {
        let p = prediction("a1", 3, "7", 9);
        let borrowed = p.with_ref(|r| r.encode());
        assert_eq!(borrowed, Entry::Prediction(p).encode());
    }

    #[test]
    fn records_round_trip() {
        let p = Entry::Prediction(prediction("a1", 3, "7", 9));
        let f = Entry::Feedback(Feedback { id: "a1".into(), index: 3, time_ms: 5, label: "1".into() });
        for e in [p, f] {
            let bytes = e.encode();
            let (back, used) = Entry::decode(&bytes).unwrap();
            assert_eq!(back, e);
            assert_eq!(used, bytes.len());
        }
    }

    #[test]
    fn damaged_records_are_refused() {
        let bytes = Entry::Prediction(prediction("a1", 0, "7", 9)).encode();
        for cut in [0, 4, FRAME_HEADER, bytes.len() - 1] {
            assert_eq!(Entry::decode(&bytes[..cut]), Err(RecordError::Short), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[FRAME_HEADER + 20] ^= 1;
        assert_eq!(Entry::decode(&flipped), Err(RecordError::Checksum));
        let mut huge = bytes.clone();
        huge[0..4].copy_from_slice(&(MAX_BODY as u32 + 1).to_le_bytes());
        assert!(matches!(Entry::decode(&huge), Err(RecordError::TooLarge(_))));
    }

    /// An image with `ink` pixels set at pseudo-random places to pseudo-random values 1..=255.
    fn inked(ink: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut pixels = vec![0u8; PIXELS];
        let mut placed = 0;
        while placed < ink {
            let i = (next() % PIXELS as u64) as usize;
            if pixels[i] == 0 {
                pixels[i] = 1 + (next() % 255) as u8;
                placed += 1;
            }
        }
        pixels
    }

    #[test]
    fn sparse_images_are_shorter_and_read_back_alike() {
        for (ink, seed) in [(0, 1), (1, 2), (150, 3), (267, 4), (685, 5), (686, 6), (700, 7), (PIXELS, 8)] {
            let mut p = prediction("s", 0, "7", 0);
            p.pixels = inked(ink, seed);
            // The first and the last pixel, on and off: the bitmap's ends are right.
            if ink > 2 && ink < PIXELS {
                p.pixels[0] = 255;
                p.pixels[PIXELS - 1] = 0;
            }
            let bytes = Entry::Prediction(p.clone()).encode();
            let mut meta = Vec::new();
            p.with_ref(|r| r.write_meta(&mut meta));
            let whole = FRAME_HEADER + 5 + meta.len() + PIXELS;
            let ink = p.pixels.iter().filter(|&&v| v != 0).count();
            let expected = if BITMAP + ink < PIXELS { whole - PIXELS + BITMAP + ink } else { whole };
            assert_eq!(bytes.len(), expected, "{ink} pixels of ink");
            let kind = framed_kind(&bytes);
            assert_eq!(kind, Some(FramedKind::Prediction));
            assert_eq!(Entry::decode(&bytes).unwrap(), (Entry::Prediction(p), bytes.len()), "{ink} pixels of ink");
        }
    }

    #[test]
    fn binary_metadata_round_trips_edge_values() {
        let tops: [&[(&str, f32)]; 4] = [
            &[("7", 0.5), ("1", 0.25), ("a", 1e-7)],
            &[("x", f32::NAN), ("y", f32::INFINITY), ("z", -0.0)],
            &[("A", f32::MAX), ("\"q\"", f32::MIN_POSITIVE)],
            &[],
        ];
        let ids = ["0123456789abcdef0123456789abcdef", "", "a\"b\\c\n\u{1}d", "é日本\u{7f}", "x".repeat(300).leak()];
        for (i, id) in ids.iter().enumerate() {
            for (j, top) in tops.iter().enumerate() {
                let p = PredictionRef {
                    id,
                    index: [0, 1, u32::MAX][j % 3],
                    time_ms: [0, 1_796_671_124_534, u64::MAX][i % 3],
                    model: ["emnist", "m\tx"][j % 2],
                    version: [1, u64::MAX][i % 2],
                    protocol: "kserve",
                    class: ["7", "\\"][i % 2],
                    top,
                    pixels: &[3; PIXELS],
                };
                let (Entry::Prediction(back), _) = Entry::decode(&p.encode()).unwrap() else { panic!("a prediction") };
                let fields = (&back.id[..], back.index, back.time_ms, &back.model[..], back.version);
                assert_eq!(fields, (p.id, p.index, p.time_ms, p.model, p.version));
                assert_eq!((&back.protocol[..], &back.class[..], &back.pixels[..]), (p.protocol, p.class, p.pixels));
                let bits = |t: &[(&str, f32)]| t.iter().map(|(c, v)| (c.to_string(), v.to_bits())).collect::<Vec<_>>();
                let back_top: Vec<(&str, f32)> = back.top.iter().map(|(c, v)| (c.as_str(), *v)).collect();
                assert_eq!(bits(&back_top), bits(top));
            }
        }
    }

    /// Frames `meta` and `tail` as a record of `kind`, CRC and all, as an older or a hostile
    /// writer would.
    fn frame(kind: u8, meta: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut body = vec![kind];
        body.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        body.extend_from_slice(meta);
        body.extend_from_slice(tail);
        let mut out = (body.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn records_with_json_metadata_from_older_logs_read_back() {
        let mut p = prediction("a1", 2, "7", 0);
        p.pixels = inked(120, 9);
        // serde_json's own writing of the prediction: the format logs held before binary metadata.
        let json = serde_json::to_vec(&p).unwrap();
        let mut sparse = Vec::new();
        assert!(sparse_into(&p.pixels, &mut sparse));
        for (kind, tail) in [(KIND_PREDICTION_JSON, &p.pixels[..]), (KIND_PREDICTION_JSON_SPARSE, &sparse[..])] {
            let bytes = frame(kind, &json, tail);
            assert_eq!(framed_kind(&bytes), Some(FramedKind::Prediction));
            assert_eq!(Entry::decode(&bytes).unwrap(), (Entry::Prediction(p.clone()), bytes.len()), "kind {kind}");
        }
        // Binary metadata is the shorter: a third or less of the JSON here.
        let mut meta = Vec::new();
        p.with_ref(|r| r.write_meta(&mut meta));
        assert!(meta.len() * 3 <= json.len(), "{} bytes of binary metadata, {} of JSON", meta.len(), json.len());
    }

    #[test]
    fn malformed_binary_metadata_is_refused_with_an_error() {
        let p = prediction("0123456789abcdef", 1, "7", 5);
        let mut meta = Vec::new();
        p.with_ref(|r| r.write_meta(&mut meta));
        let pixels = vec![5u8; PIXELS];
        assert!(Entry::decode(&frame(KIND_PREDICTION, &meta, &pixels)).is_ok());
        // A kind this reader does not know (a later writer's): refused by kind, not misread.
        assert_eq!(Entry::decode(&frame(6, &meta, &pixels)), Err(RecordError::Kind(6)));
        // Every cut of the metadata, and a byte too many: an error, never a panic.
        for cut in 0..meta.len() {
            let got = Entry::decode(&frame(KIND_PREDICTION, &meta[..cut], &pixels));
            assert!(matches!(got, Err(RecordError::Metadata(_))), "cut at {cut}: {got:?}");
        }
        let longer = [&meta[..], &[0]].concat();
        assert!(matches!(Entry::decode(&frame(KIND_PREDICTION, &longer, &pixels)), Err(RecordError::Metadata(_))));
        // A varint past 64 bits, a length past the bytes, an id that is not UTF-8, an index past u32.
        for bad in [
            vec![0xff; 11],
            vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02],
            vec![0xff, 0xff, 0xff, 0xff, 0x0f, b'a'],
            vec![2, 0xc3, 0x28],
            [&[1, b'a'][..], &[0xff, 0xff, 0xff, 0xff, 0x7f]].concat(),
        ] {
            let got = Entry::decode(&frame(KIND_PREDICTION, &bad, &pixels));
            assert!(matches!(got, Err(RecordError::Metadata(_))), "{bad:?}: {got:?}");
        }
    }

    #[test]
    fn both_ways_of_packing_an_image_agree() {
        let mut images: Vec<Vec<u8>> = (0..=PIXELS).step_by(7).map(|ink| inked(ink, ink as u64 + 11)).collect();
        // Every 8-bit pattern in every place of a 16-pixel group.
        for m in 0..256usize {
            let mut p = vec![0u8; PIXELS];
            for (i, v) in p.iter_mut().enumerate() {
                if m & (1 << ((i + i / 16) % 8)) != 0 {
                    *v = (i % 251) as u8 + 1;
                }
            }
            images.push(p);
        }
        for p in &images {
            let p: &[u8; PIXELS] = p.as_slice().try_into().unwrap();
            let (mut bits_a, mut vals_a) = ([0u8; BITMAP], [0u8; PIXELS]);
            let (mut bits_b, mut vals_b) = ([0u8; BITMAP], [0u8; PIXELS]);
            let k = compact_scalar(p, &mut bits_a, &mut vals_a);
            assert_eq!(compact(p, &mut bits_b, &mut vals_b), k);
            assert_eq!(k, p.iter().filter(|&&v| v != 0).count());
            assert_eq!((bits_a, &vals_a[..k]), (bits_b, &vals_b[..k]));
            let inked: Vec<u8> = p.iter().copied().filter(|&v| v != 0).collect();
            assert_eq!(&vals_a[..k], &inked[..]);
        }
        #[cfg(target_arch = "x86_64")]
        if !(std::arch::is_x86_feature_detected!("ssse3") && std::arch::is_x86_feature_detected!("popcnt")) {
            eprintln!("WARNING: this CPU has no SSSE3 or POPCNT: only the scalar packing was tested");
        }
    }

    #[test]
    fn a_sparse_image_that_disagrees_with_its_bitmap_is_refused() {
        let json =
            br#"{"id":"s","index":0,"time_ms":1,"model":"m","version":1,"protocol":"kserve","class":"7","top":[]}"#;
        let mut meta = Vec::new();
        prediction("s", 0, "7", 0).with_ref(|r| r.write_meta(&mut meta));
        let mut bitmap = [0u8; BITMAP];
        bitmap[0] = 0b101;
        let good = [&bitmap[..], &[9, 8]].concat();
        for (kind, meta) in [(KIND_PREDICTION_SPARSE, &meta[..]), (KIND_PREDICTION_JSON_SPARSE, &json[..])] {
            assert!(Entry::decode(&frame(kind, meta, &good)).is_ok());
            for bad in [
                [&bitmap[..], &[9]].concat(),
                [&bitmap[..], &[9, 8, 7]].concat(),
                [&bitmap[..], &[9, 0]].concat(),
                bitmap[..50].to_vec(),
            ] {
                assert_eq!(Entry::decode(&frame(kind, meta, &bad)), Err(RecordError::Sparse));
            }
        }
    }

    #[test]
    fn a_prediction_without_its_whole_image_is_refused() {
        let mut p = prediction("a1", 0, "7", 9);
        p.pixels.truncate(100);
        let bytes = Entry::Prediction(p).encode();
        assert_eq!(Entry::decode(&bytes), Err(RecordError::Pixels(100)));
    }
}
