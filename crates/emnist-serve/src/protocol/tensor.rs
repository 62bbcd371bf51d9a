//! A request's input tensor held to the model's contract ([`emnist_model::contract`]) and its
//! [`Signature`]: a shape of [`EXPECTED_SHAPES`], float pixels in `[0, 255 × scale]` (`[0, 1]` by
//! default) or uint8 pixels 0..255, turned into `N` images of float32 values for the model; and
//! which of the model's outputs a request asked for.

use emnist_data::setting::Setting;
use emnist_model::contract::{Signature, EXPECTED_SHAPES, INPUT, PIXELS, SIDE};

/// Element values as they arrived on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    U8(Vec<u8>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Values {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Values::U8(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A request's input tensor: a shape and its row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTensor {
    pub shape: Vec<i64>,
    pub values: Values,
}

impl InputTensor {
    /// The tensor, leaving an empty one (no values, no shape) in its place.
    pub fn take(&mut self) -> InputTensor {
        std::mem::replace(self, InputTensor { shape: Vec::new(), values: Values::F32(Vec::new()) })
    }
}

/// Why an input cannot be fed to the model: every variant becomes a 400.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("input shape {shape:?} is not one of {EXPECTED_SHAPES}")]
    Shape { shape: Vec<i64> },
    #[error("input shape {shape:?} holds {expected} values but {got} were sent")]
    Count { shape: Vec<i64>, expected: String, got: usize },
    #[error("input type {0} is not supported: send float32 pixels in [0, 1] or uint8 pixels 0..255")]
    Type(String),
    #[error("input value at index {index} is {value}: pixels must be finite")]
    NotFinite { index: usize, value: String },
    #[error("input value at index {index} is {value}, outside [0, {max}]: scale float pixels as the model expects ({max} is white), or send uint8 (a load tool's random floats: start the server with {})", Setting::ClampInputs)]
    Range { index: usize, value: String, max: f64 },
    #[error("the request has no input tensor")]
    Missing,
    #[error("the request has {0} input tensors; the model takes one")]
    TooMany(usize),
    #[error("unknown input `{got}`: the model's input is `{expected}` (or `{INPUT}`)")]
    UnknownInput { got: String, expected: String },
    #[error("unknown output `{got}`: the model's outputs are {expected}")]
    UnknownOutput { got: String, expected: String },
    #[error("{0}")]
    Malformed(String),
}

/// Images ready for the model: `n` rows of `PIXELS` floats in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    pub n: usize,
    pub pixels: Vec<f32>,
    /// Values clamped into range ([`Signature::clamp`]); 0 when the signature refuses them.
    pub clamped: usize,
}

/// The batch size a shape stands for, or why it is not an accepted shape.
pub fn batch_of(shape: &[i64]) -> Result<usize, InputError> {
    let s = SIDE as i64;
    let ok = match shape {
        [n, p] => *n >= 1 && *p == PIXELS as i64,
        [n, h, w] => *n >= 1 && *h == s && *w == s,
        [n, c, h, w] => *n >= 1 && *c == 1 && *h == s && *w == s,
        _ => false,
    };
    if !ok {
        return Err(InputError::Shape { shape: shape.to_vec() });
    }
    usize::try_from(shape[0]).map_err(|_| InputError::Shape { shape: shape.to_vec() })
}

/// How many elements a shape declares, checked against what arrived, without allocating.
pub fn check_count(shape: &[i64], got: usize) -> Result<usize, InputError> {
    let n = batch_of(shape)?;
    let expected = n.checked_mul(PIXELS);
    match expected {
        Some(e) if e == got => Ok(n),
        _ => Err(InputError::Count {
            shape: shape.to_vec(),
            expected: expected.map_or_else(|| "more".to_string(), |e| e.to_string()),
            got,
        }),
    }
}

/// Validates an input tensor and scales it to the model's float pixels.
pub fn to_images(tensor: &InputTensor, sig: &Signature) -> Result<Images, InputError> {
    match &tensor.values {
        // Bytes become new floats anyway: no copy of the tensor first.
        Values::U8(v) => byte_images(&tensor.shape, v, sig),
        _ => into_images(tensor.clone(), sig),
    }
}

/// [`to_images`] of a tensor the caller gives up: `f32` values are checked (or clamped) in place
/// and become the images without a copy (a 128-image request's are 400 KB).
pub fn into_images(tensor: InputTensor, sig: &Signature) -> Result<Images, InputError> {
    let n = check_count(&tensor.shape, tensor.values.len())?;
    let max = sig.max_float();
    // Floats are checked, or with a clamping signature clamped below.
    let mut pixels = match tensor.values {
        Values::U8(v) => return byte_images(&tensor.shape, &v, sig),
        Values::F32(v) => {
            // The common case, every value fine, in a pass that vectorises; the slow pass only
            // names the first value that is not.
            if !sig.clamp && !all_within(&v, float_bound(max)) {
                check_floats(v.iter().map(|&x| x as f64), max)?;
            }
            v
        }
        Values::F64(v) => {
            if !sig.clamp {
                check_floats(v.iter().copied(), max)?;
            }
            v.iter().map(|&x| x as f32).collect()
        }
    };
    // The bound `check_floats` allows: pixel floats rounded through f32 may overshoot by an ulp.
    let clamped = if sig.clamp { clamp(&mut pixels, max as f32, float_bound(max) as f32) } else { 0 };
    Ok(Images { n, pixels, clamped })
}

/// Images from bytes: counted against `shape`, scaled as in training.
fn byte_images(shape: &[i64], v: &[u8], sig: &Signature) -> Result<Images, InputError> {
    Ok(Images { n: check_count(shape, v.len())?, pixels: sig.to_input(v), clamped: 0 })
}

/// The largest float taken for a model whose pixels go up to `max`: pixel floats rounded through
/// f32 may overshoot it by an ulp.
fn float_bound(max: f64) -> f64 {
    max * (1.0 + 1e-6)
}

/// Puts every value outside `[0, bound]` at 0 (below, NaN) or `max` (above); how many were.
fn clamp(values: &mut [f32], max: f32, bound: f32) -> usize {
    let mut clamped = 0;
    for x in values {
        if !(0.0..=bound).contains(x) {
            *x = if *x > bound { max } else { 0.0 };
            clamped += 1;
        }
    }
    clamped
}

/// Whether every value is within `[0, bound]` as [`check_floats`] has it (NaN and infinities are
/// not), without a branch per value.
fn all_within(values: &[f32], bound: f64) -> bool {
    values.chunks(256).all(|c| c.iter().fold(true, |ok, &x| ok & (x >= 0.0) & (f64::from(x) <= bound)))
}

fn check_floats(values: impl Iterator<Item = f64>, max: f64) -> Result<(), InputError> {
    let bound = float_bound(max);
    for (index, x) in values.enumerate() {
        if !x.is_finite() {
            return Err(InputError::NotFinite { index, value: x.to_string() });
        }
        if !(0.0..=bound).contains(&x) {
            return Err(InputError::Range { index, value: x.to_string(), max });
        }
    }
    Ok(())
}

/// Which outputs a request asked for, by index into the signature's outputs; none named means all.
pub fn select_outputs<S: AsRef<str>>(names: &[S], sig: &Signature) -> Result<Vec<usize>, InputError> {
    if names.is_empty() {
        return Ok((0..sig.outputs.len()).collect());
    }
    names
        .iter()
        .map(|n| {
            sig.output(n.as_ref())
                .ok_or_else(|| InputError::UnknownOutput { got: n.as_ref().to_string(), expected: sig.output_list() })
        })
        .collect()
}

/// The request's one input tensor, its name checked (the model's own or [`INPUT`]): none or
/// several are errors. For the protocols that name each input beside its data (KServe v2 JSON
/// and gRPC).
pub fn the_input<'a, T>(inputs: &'a [T], name: impl Fn(&T) -> &str, sig: &Signature) -> Result<&'a T, InputError> {
    let names: Vec<&str> = inputs.iter().map(&name).collect();
    check_input_names(&names, sig)?;
    match inputs {
        [] => Err(InputError::Missing),
        [input] => Ok(input),
        many => Err(InputError::TooMany(many.len())),
    }
}

/// Checks input names: none, or the model's one input (by its own name or [`INPUT`]).
pub fn check_input_names<S: AsRef<str>>(names: &[S], sig: &Signature) -> Result<(), InputError> {
    match names.iter().find(|n| !sig.accepts_input(n.as_ref())) {
        Some(bad) => Err(InputError::UnknownInput { got: bad.as_ref().to_string(), expected: sig.input.clone() }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emnist_model::contract::PIXEL_SCALE;

    fn ours() -> Signature {
        Signature::ours()
    }

    #[test]
    fn accepts_the_three_shapes_and_nothing_else() {
        assert_eq!(batch_of(&[3, 784]).unwrap(), 3);
        assert_eq!(batch_of(&[2, 28, 28]).unwrap(), 2);
        assert_eq!(batch_of(&[1, 1, 28, 28]).unwrap(), 1);
        for bad in
            [vec![784], vec![0, 784], vec![-1, 784], vec![1, 3, 28, 28], vec![1, 28, 27], vec![1, 1, 1, 28, 28], vec![]]
        {
            assert!(matches!(batch_of(&bad), Err(InputError::Shape { .. })), "{bad:?}");
        }
    }

    #[test]
    fn huge_declared_shapes_fail_without_allocating() {
        let e = check_count(&[i64::MAX, 784], 10).unwrap_err();
        assert!(e.to_string().contains("holds more values but 10 were sent"), "{e}");
        assert!(check_count(&[2, 784], 784).is_err());
    }

    #[test]
    fn scales_uint8_like_training_and_rejects_bad_floats() {
        let t = InputTensor { shape: vec![1, 784], values: Values::U8(vec![255; 784]) };
        let im = to_images(&t, &ours()).unwrap();
        assert_eq!(im.pixels[0], 255.0 * PIXEL_SCALE);
        let mut v = vec![0.5f32; 784];
        v[7] = f32::NAN;
        let e = to_images(&InputTensor { shape: vec![1, 784], values: Values::F32(v.clone()) }, &ours()).unwrap_err();
        assert!(matches!(e, InputError::NotFinite { index: 7, .. }));
        v[7] = 2.0;
        let e = to_images(&InputTensor { shape: vec![1, 784], values: Values::F32(v.clone()) }, &ours()).unwrap_err();
        assert!(e.to_string().contains("outside [0, 1]"));
        let e = to_images(&InputTensor { shape: vec![1, 784], values: Values::F64(vec![f64::INFINITY; 784]) }, &ours())
            .unwrap_err();
        assert!(matches!(e, InputError::NotFinite { index: 0, .. }));
        // A model that takes pixels as they are (scale 1) takes floats up to 255.
        let raw = Signature { scale: 1.0, ..ours() };
        let im = to_images(&InputTensor { shape: vec![1, 784], values: Values::F32(v) }, &raw).unwrap();
        assert_eq!(im.pixels[7], 2.0);
        let im = to_images(&InputTensor { shape: vec![1, 784], values: Values::U8(vec![255; 784]) }, &raw).unwrap();
        assert_eq!(im.pixels[0], 255.0);
    }

    #[test]
    fn the_vectorised_range_check_agrees_with_the_one_that_names_the_value() {
        let max = 1.0f64;
        let bound = max * (1.0 + 1e-6);
        let edge = [
            0.0f32,
            -0.0,
            1.0,
            bound as f32,
            f32::from_bits((bound as f32).to_bits() + 1),
            f32::from_bits((bound as f32).to_bits() - 1),
            1.0000011,
            f32::MIN_POSITIVE,
            1e-45,
            -1e-45,
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.5,
        ];
        for &x in &edge {
            // Alone, and among fine values at every place of a chunk and across chunks.
            for at in [0, 1, 255, 256, 300] {
                let mut v = vec![0.25f32; 301];
                v[at] = x;
                let named = check_floats(v.iter().map(|&x| x as f64), max).is_ok();
                assert_eq!(all_within(&v, bound), named, "{x:e} at {at}");
            }
        }
    }

    #[test]
    fn an_owned_tensor_becomes_the_same_images() {
        for values in [Values::F32(vec![0.5; 784 * 2]), Values::U8(vec![9; 784 * 2]), Values::F64(vec![0.25; 784 * 2])]
        {
            let t = InputTensor { shape: vec![2, 784], values };
            assert_eq!(into_images(t.clone(), &ours()).unwrap(), to_images(&t, &ours()).unwrap());
        }
    }

    #[test]
    fn clamping_signatures_take_any_float_and_count_what_they_clamp() {
        let sig = Signature { clamp: true, ..ours() };
        let mut v = vec![0.5f32; 784];
        v[1] = f32::NAN;
        v[2] = -3.0;
        v[3] = 1e30;
        v[4] = f32::NEG_INFINITY;
        v[5] = 1.0;
        let im = to_images(&InputTensor { shape: vec![1, 784], values: Values::F32(v) }, &sig).unwrap();
        assert_eq!(im.clamped, 4);
        assert_eq!(im.pixels[..6], [0.5, 0.0, 0.0, 1.0, 0.0, 1.0]);
        let im = to_images(&InputTensor { shape: vec![1, 784], values: Values::F64(vec![0.25; 784]) }, &sig).unwrap();
        assert_eq!((im.clamped, im.pixels[0]), (0, 0.25));
        // Without the flag the same values are refused.
        let bad = InputTensor { shape: vec![1, 784], values: Values::F64(vec![-1.0; 784]) };
        assert!(to_images(&bad, &ours()).is_err());
        assert_eq!(to_images(&bad, &sig).unwrap().clamped, 784);
    }

    #[test]
    fn output_selection_keeps_the_requested_order() {
        let sig = ours();
        assert_eq!(select_outputs::<&str>(&[], &sig).unwrap(), vec![0, 1]);
        assert_eq!(select_outputs(&["probabilities", "logits"], &sig).unwrap(), vec![1, 0]);
        assert!(matches!(select_outputs(&["softmax"], &sig), Err(InputError::UnknownOutput { .. })));
        assert!(check_input_names(&["image"], &sig).is_ok());
        assert!(check_input_names(&["x"], &sig).is_err());
        // A file's own names work beside the contract's.
        use emnist_model::contract::OutputKind;
        let seed = Signature::new("x", &[("softmax_probabilities".into(), OutputKind::Probabilities)], PIXEL_SCALE);
        assert_eq!(select_outputs(&["softmax_probabilities", "logits"], &seed).unwrap(), vec![2, 0]);
        assert_eq!(select_outputs::<&str>(&[], &seed).unwrap(), vec![0, 1, 2]);
        assert!(check_input_names(&["x", "image"], &seed).is_ok());
        let e = select_outputs(&["nope"], &seed).unwrap_err().to_string();
        assert!(e.contains("`logits`, `probabilities`, `softmax_probabilities`"), "{e}");
    }
}
