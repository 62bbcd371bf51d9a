//! The model's input/output contract, owned here and nowhere else: what export writes into the
//! ONNX graph, what every engine feeds and reads, what every protocol announces and accepts, and
//! how `query` and the parity check compare answers.
//!
//! - one input, [`INPUT`]: float32 `[N, 1, 28, 28]` ([`INPUT_DIMS`], symbolic batch [`BATCH`]),
//!   upright, light ink on dark, values in [0, 1]: pixel bytes times [`PIXEL_SCALE`];
//! - two outputs, in this order ([`OUTPUTS`]): [`LOGITS`] and [`PROBABILITIES`] (softmax over the
//!   classes), float32 `[N, K]` ([`output_dims`]);
//! - requests may also send `[N, 784]` or `[N, 28, 28]`, and uint8 pixels ([`EXPECTED_SHAPES`]).

pub use emnist_data::{PIXELS, SIDE};

/// The input's name.
pub const INPUT: &str = "image";
/// The output holding the raw class scores.
pub const LOGITS: &str = "logits";
/// The output holding the softmax of the logits.
pub const PROBABILITIES: &str = "probabilities";
/// The outputs, in the order an exported model returns them (index 0: logits, 1: probabilities).
pub const OUTPUTS: [&str; 2] = [LOGITS, PROBABILITIES];
/// The name of the symbolic batch dimension in the ONNX graph.
pub const BATCH: &str = "N";

/// The input's dimensions as protocols announce them (`-1`: any batch size).
pub const INPUT_DIMS: [i64; 4] = [-1, 1, SIDE as i64, SIDE as i64];
/// The input shapes requests may use, for error messages and metadata.
pub const EXPECTED_SHAPES: &str = "[N, 784], [N, 28, 28] or [N, 1, 28, 28]";

/// An output's dimensions as protocols announce them, for a model of `classes` classes.
pub fn output_dims(classes: usize) -> [i64; 2] {
    [-1, classes as i64]
}

/// Pixel bytes become the model's floats as training scaled them: `pixel * (1 / 255)`.
pub const PIXEL_SCALE: f32 = 1.0 / 255.0;

/// Pixel bytes (0..255) as the model's input values (in [0, 1]).
pub fn to_input(pixels: &[u8]) -> Vec<f32> {
    scaled(pixels, PIXEL_SCALE)
}

/// Pixel bytes times `scale`, as floats.
pub fn scaled(pixels: &[u8], scale: f32) -> Vec<f32> {
    pixels.iter().map(|&p| p as f32 * scale).collect()
}

/// What one of a model's outputs holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// Class scores before softmax (any monotone shift of them: log-probabilities are logits too).
    Logits,
    /// Class probabilities: the softmax of the logits.
    Probabilities,
}

impl OutputKind {
    /// The contract's name for this kind of output.
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Logits => LOGITS,
            OutputKind::Probabilities => PROBABILITIES,
        }
    }

    /// A line for metadata.
    pub fn description(self) -> &'static str {
        match self {
            OutputKind::Logits => "class scores before softmax",
            OutputKind::Probabilities => "class probabilities",
        }
    }
}

impl std::str::FromStr for OutputKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            LOGITS => Ok(OutputKind::Logits),
            PROBABILITIES => Ok(OutputKind::Probabilities),
            other => Err(format!("`{other}` is not an output kind: use `{LOGITS}` or `{PROBABILITIES}`")),
        }
    }
}

/// How requests address one served model: its input under [`INPUT`] or the file's own name, its
/// outputs under [`LOGITS`] and [`PROBABILITIES`] or the file's own names, and the scale that
/// turns pixel bytes into the model's floats.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// The file's own input name (requests may use it or [`INPUT`]).
    pub input: String,
    /// Every output a request may name, in the order announced and answered by default: the
    /// contract's two first, then the file's own names that differ from them.
    pub outputs: Vec<(String, OutputKind)>,
    /// Pixel bytes times this are the model's input floats; float requests are taken as they are,
    /// within `[0, 255 × scale]`.
    pub scale: f32,
    /// Float values outside `[0, 255 × scale]`, or not finite, are clamped into it (NaN: 0)
    /// instead of refused: a server's `--clamp-inputs`, for load tools' random data.
    pub clamp: bool,
}

impl Signature {
    /// The contract itself: what `emnist export` writes.
    pub fn ours() -> Signature {
        Signature::new(
            INPUT,
            &[(LOGITS.to_string(), OutputKind::Logits), (PROBABILITIES.to_string(), OutputKind::Probabilities)],
            PIXEL_SCALE,
        )
    }

    /// A model whose input is `input` and whose own outputs are `own`.
    pub fn new(input: &str, own: &[(String, OutputKind)], scale: f32) -> Signature {
        let mut outputs =
            vec![(LOGITS.to_string(), OutputKind::Logits), (PROBABILITIES.to_string(), OutputKind::Probabilities)];
        for (name, kind) in own {
            if !outputs.iter().any(|(n, _)| n == name) {
                outputs.push((name.clone(), *kind));
            }
        }
        Signature { input: input.to_string(), outputs, scale, clamp: false }
    }

    /// Whether a request may call the input `name`.
    pub fn accepts_input(&self, name: &str) -> bool {
        name == INPUT || name == self.input
    }

    /// The index of the output a request calls `name`.
    pub fn output(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|(n, _)| n == name)
    }

    /// Every output name, comma-separated in backticks, for messages.
    pub fn output_list(&self) -> String {
        self.outputs.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    }

    /// The largest float pixel value requests may send: 255 × scale.
    pub fn max_float(&self) -> f64 {
        (255.0 * self.scale) as f64
    }

    /// Pixel bytes as the model's input values.
    pub fn to_input(&self, pixels: &[u8]) -> Vec<f32> {
        scaled(pixels, self.scale)
    }

    /// The model's input values back as pixel bytes (what the payload log keeps): each value
    /// divided by the scale, rounded, and clamped to 0..255. Bytes that went through
    /// [`Signature::to_input`] come back unchanged.
    pub fn to_pixels(&self, values: &[f32]) -> Vec<u8> {
        let inverse = 1.0 / self.scale;
        let mut out = vec![0; values.len()];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { round_bytes_avx2(values, inverse, &mut out) };
            return out;
        }
        round_bytes(values, inverse, &mut out);
        out
    }
}

/// `values × inverse` rounded to bytes (vectorised by the compiler for the target it is built
/// for: SSE2 on every x86-64, AVX2 through [`round_bytes_avx2`]).
#[inline(always)]
fn round_bytes(values: &[f32], inverse: f32, out: &mut [u8]) {
    for (o, &v) in out.iter_mut().zip(values) {
        *o = round_to_byte(v * inverse);
    }
}

/// [`round_bytes`] eight lanes at a time: the same operations, so the same bytes (the payload
/// log converts every served image on a request's thread).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn round_bytes_avx2(values: &[f32], inverse: f32, out: &mut [u8]) {
    round_bytes(values, inverse, out)
}

/// `x.round().clamp(0.0, 255.0) as u8` (NaN → 0) without a branch or a call to the C library's
/// `round` (the baseline x86-64 target has no rounding instruction), so that the compiler
/// vectorises it: the payload log converts every served pixel with it (3.5× faster than a
/// saturating cast, which does not vectorise).
#[inline(always)]
fn round_to_byte(x: f32) -> u8 {
    // `max` returns the other operand for NaN: NaN → 0 (`clamp` would keep the NaN).
    #[allow(clippy::manual_clamp)]
    let c = x.max(0.0).min(255.0);
    // SAFETY: 0.5 <= c + 0.5 <= 255.5, finite and within i32.
    let up: i32 = unsafe { (c + 0.5).to_int_unchecked() };
    // `c + 0.5` rounds up to a whole number when c is just below a half (0.49999997): take it
    // back (`up - 0.5` is exact for every byte).
    (up - i32::from(c < up as f32 - 0.5)) as u8
}

/// The model's answer for a batch: `n` rows of `classes` logits and probabilities, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    pub n: usize,
    pub classes: usize,
    pub logits: Vec<f32>,
    pub probabilities: Vec<f32>,
}

impl Outputs {
    /// The output of `kind`.
    pub fn get(&self, kind: OutputKind) -> &[f32] {
        match kind {
            OutputKind::Logits => &self.logits,
            OutputKind::Probabilities => &self.probabilities,
        }
    }

    /// Rows `start .. start + n` as outputs of their own.
    pub fn rows(&self, start: usize, n: usize) -> Outputs {
        let span = start * self.classes..(start + n) * self.classes;
        Outputs {
            n,
            classes: self.classes,
            logits: self.logits[span.clone()].to_vec(),
            probabilities: self.probabilities[span].to_vec(),
        }
    }

    /// The most probable class of each row (the first on ties).
    pub fn argmax(&self) -> Vec<usize> {
        argmax_rows(&self.probabilities, self.classes)
    }
}

/// Index of the largest value (the first on ties; NaN is never the largest).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > row[best] || (row[best].is_nan() && !v.is_nan()) { i } else { best })
}

/// [`argmax`] of each row of `classes` values.
pub fn argmax_rows(values: &[f32], classes: usize) -> Vec<usize> {
    values.chunks(classes.max(1)).map(argmax).collect()
}

/// The largest |a − b| over two answers; NaN on either side counts as an infinite difference, so
/// a broken answer can never pass a tolerance.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).fold(0.0, |m, d| {
        if d.is_nan() || m.is_infinite() {
            f64::INFINITY
        } else {
            m.max(d)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_like_the_library_round() {
        for i in -2000..=300_000 {
            let x = i as f32 / 1000.0 - 0.0005;
            for x in [x, x + 0.0005, f32::from_bits(x.to_bits() + 1), f32::from_bits(x.to_bits().saturating_sub(1))] {
                assert_eq!(round_to_byte(x), x.round().clamp(0.0, 255.0) as u8, "{x}");
            }
        }
        // Just below each half, at each half, and just above.
        for whole in 0..=255u8 {
            let half = f32::from(whole) + 0.5;
            for x in [f32::from_bits(half.to_bits() - 1), half, f32::from_bits(half.to_bits() + 1)] {
                assert_eq!(round_to_byte(x), x.round().clamp(0.0, 255.0) as u8, "{x}");
            }
        }
        assert_eq!(round_to_byte(0.49999997), 0);
        assert_eq!(round_to_byte(254.5), 255);
        assert_eq!(round_to_byte(f32::NAN), 0);
        assert_eq!(round_to_byte(f32::INFINITY), 255);
        assert_eq!(round_to_byte(f32::NEG_INFINITY), 0);
    }

    #[test]
    fn argmax_takes_the_first_of_ties_and_never_nan() {
        assert_eq!(argmax_rows(&[0.1, 0.5, 0.5, 0.9, 0.0, 0.0], 3), vec![1, 0]);
        assert_eq!(argmax(&[f32::NAN, 0.2, 0.7]), 2);
        assert_eq!(argmax(&[0.3, f32::NAN, 0.2]), 0);
    }

    #[test]
    fn nan_is_an_infinite_difference_wherever_it_is() {
        assert_eq!(max_abs_diff(&[1.0, f32::NAN], &[1.0, 0.0]), f64::INFINITY);
        assert_eq!(max_abs_diff(&[f32::NAN, 1.0], &[0.0, 1.0]), f64::INFINITY);
        assert_eq!(max_abs_diff(&[0.5, 0.25], &[0.25, 0.25]), 0.25);
    }

    #[test]
    fn rows_and_scale() {
        let o = Outputs { n: 2, classes: 2, logits: vec![1.0, 2.0, 3.0, 4.0], probabilities: vec![0.1, 0.9, 0.8, 0.2] };
        assert_eq!(o.rows(1, 1).logits, vec![3.0, 4.0]);
        assert_eq!(o.argmax(), vec![1, 0]);
        assert_eq!(to_input(&[0, 255]), vec![0.0, 1.0]);
        assert_eq!(INPUT_DIMS, [-1, 1, 28, 28]);
    }

    #[test]
    fn input_values_map_back_to_the_pixel_bytes() {
        let bytes: Vec<u8> = (0..=255).collect();
        for scale in [PIXEL_SCALE, 1.0, 0.5 / 255.0] {
            let sig = Signature::new(INPUT, &[], scale);
            assert_eq!(sig.to_pixels(&sig.to_input(&bytes)), bytes, "scale {scale}");
        }
        // Floats a client sent: rounded to the nearest byte, and clamped.
        let ours = Signature::ours();
        assert_eq!(ours.to_pixels(&[0.502, 0.999, 1.0 + 1e-7, -0.0, 0.0019]), [128, 255, 255, 0, 0]);
    }

    /// The AVX2 conversion against the one every x86-64 has, on edge values at every place of a
    /// vector (halves and their neighbours, the clamps, NaN, infinities, ±0, subnormals).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_pixels_are_the_baseline_pixels() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("SKIPPED: this CPU has no AVX2; the baseline conversion is the only one used");
            return;
        }
        let mut values =
            vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0, f32::MIN_POSITIVE / 2.0, -1.0, 1e30];
        for k in 0..=256 {
            let x = k as f32 - 0.5;
            values.extend([x, f32::from_bits(x.to_bits() + 1), f32::from_bits(x.to_bits().wrapping_sub(1)), k as f32]);
        }
        for scale in [1.0, 1.0 / 255.0] {
            let inverse = 1.0 / scale;
            let scaled: Vec<f32> = values.iter().map(|v| v * scale).collect();
            for shift in 0..9 {
                let v = &scaled[shift..];
                let (mut a, mut b) = (vec![0; v.len()], vec![0; v.len()]);
                round_bytes(v, inverse, &mut a);
                // SAFETY: the CPU has AVX2 (checked above).
                unsafe { round_bytes_avx2(v, inverse, &mut b) };
                assert_eq!(a, b, "scale {scale}, shift {shift}");
            }
        }
    }
}
