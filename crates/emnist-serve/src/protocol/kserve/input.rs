//! The one KServe v2 core that HTTP JSON, HTTP binary and gRPC all call: the protocol's
//! [`Datatype`]s, an input tensor's values decoded and checked (datatype, UINT8 range, byte
//! count) and turned into the model's images, the requested outputs checked, and every refusal
//! as one [`KserveError`] that each front end maps to its own status.

use std::fmt;
use std::str::FromStr;

use super::super::json_tensor::JsonTensor;
use super::super::tensor::{self, batch_of, check_count, select_outputs, Images, InputError, InputTensor, Values};
use emnist_model::contract::{Signature, PIXELS};

/// A tensor element type, spelled as KServe v2 spells it (`"FP32"`, `"UINT8"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Datatype {
    Bool,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Int8,
    Int16,
    Int32,
    Int64,
    Fp16,
    Bf16,
    Fp32,
    Fp64,
    Bytes,
}

impl Datatype {
    /// Every datatype the protocol defines.
    pub const ALL: [Datatype; 14] = [
        Datatype::Bool,
        Datatype::Uint8,
        Datatype::Uint16,
        Datatype::Uint32,
        Datatype::Uint64,
        Datatype::Int8,
        Datatype::Int16,
        Datatype::Int32,
        Datatype::Int64,
        Datatype::Fp16,
        Datatype::Bf16,
        Datatype::Fp32,
        Datatype::Fp64,
        Datatype::Bytes,
    ];

    /// The protocol's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::Bool => "BOOL",
            Datatype::Uint8 => "UINT8",
            Datatype::Uint16 => "UINT16",
            Datatype::Uint32 => "UINT32",
            Datatype::Uint64 => "UINT64",
            Datatype::Int8 => "INT8",
            Datatype::Int16 => "INT16",
            Datatype::Int32 => "INT32",
            Datatype::Int64 => "INT64",
            Datatype::Fp16 => "FP16",
            Datatype::Bf16 => "BF16",
            Datatype::Fp32 => "FP32",
            Datatype::Fp64 => "FP64",
            Datatype::Bytes => "BYTES",
        }
    }

    /// The datatype of values as they arrived on the wire.
    pub fn of(values: &Values) -> Datatype {
        match values {
            Values::U8(_) => Datatype::Uint8,
            Values::F32(_) => Datatype::Fp32,
            Values::F64(_) => Datatype::Fp64,
        }
    }
}

impl fmt::Display for Datatype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A datatype string that KServe v2 does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a KServe v2 datatype")]
pub struct UnknownDatatype(pub String);

impl FromStr for Datatype {
    type Err = UnknownDatatype;

    fn from_str(s: &str) -> Result<Datatype, UnknownDatatype> {
        Datatype::ALL.into_iter().find(|d| d.as_str() == s).ok_or_else(|| UnknownDatatype(s.to_string()))
    }
}

/// Why a KServe request cannot be run, whichever front end it came by (HTTP JSON, HTTP binary,
/// gRPC). Each front end maps these to its own status in one function.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KserveError {
    /// The tensor breaks the model's contract: input names, shape, value count, float range,
    /// NaN or infinity, output names.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A datatype the model does not take, known to the protocol (`INT64`, `BYTES`) or not.
    #[error("{}", InputError::Type(.got.clone()))]
    Datatype { got: String },
    /// A UINT8 value that is not an integer 0..255 (JSON numbers, gRPC's `uint_contents`).
    #[error("UINT8 value at index {index} is {value}, not an integer 0..255")]
    Uint8Range { index: usize, value: String },
    /// Raw bytes that do not split into whole values of the datatype.
    #[error("{bytes} bytes of {datatype} data is not a whole number of values")]
    PartialValue { bytes: usize, datatype: Datatype },
    /// A requested output asks for Triton's classification extension.
    #[error("output `{output}` asks for classification, which this server does not offer")]
    Classification { output: String },
    /// The request's framing: the body, its header length, where the values are.
    #[error("{0}")]
    Malformed(String),
}

impl From<UnknownDatatype> for KserveError {
    fn from(e: UnknownDatatype) -> KserveError {
        KserveError::Datatype { got: e.0 }
    }
}

/// An input's values as a front end decoded them, before they are checked.
#[derive(Debug, Clone)]
pub enum Data<'a> {
    /// Little-endian bytes: Triton's binary tensor data over HTTP, `raw_input_contents` over gRPC.
    Raw(&'a [u8]),
    /// JSON's `data`, flat or nested.
    Json(&'a JsonTensor),
    /// gRPC's typed `contents`: the list the datatype names is read.
    Typed { fp32: &'a [f32], fp64: &'a [f64], uint: &'a [u32] },
    /// JSON numbers the one-pass reader already read as `f32`s (an `FP32` input's): they become
    /// the tensor's values without a copy.
    Owned(Vec<f32>),
}

/// The datatype of an input, if the model takes it: `UINT8`, `FP32` or `FP64`.
pub fn input_datatype(datatype: &str) -> Result<Datatype, KserveError> {
    match datatype.parse::<Datatype>()? {
        d @ (Datatype::Uint8 | Datatype::Fp32 | Datatype::Fp64) => Ok(d),
        other => Err(KserveError::Datatype { got: other.as_str().to_string() }),
    }
}

/// One input tensor (its shape, datatype and values as sent) as the values the model is fed
/// from, every check but the model's float range made. The caller has checked its name
/// ([`tensor::the_input`]).
pub fn input_tensor(shape: &[i64], datatype: &str, data: Data<'_>) -> Result<InputTensor, KserveError> {
    batch_of(shape)?;
    let datatype = input_datatype(datatype)?;
    let values = match data {
        Data::Raw(bytes) => raw_values(datatype, shape, bytes)?,
        Data::Json(t) if t.strings => {
            return Err(KserveError::Malformed("`data` must be a list of numbers, flat or nested".into()))
        }
        Data::Json(t) => match datatype {
            Datatype::Uint8 => Values::U8(uint8(t.values.iter().copied())?),
            Datatype::Fp32 => Values::F32(t.values.iter().map(|&x| x as f32).collect()),
            _ => Values::F64(t.values.clone()),
        },
        Data::Owned(v) if datatype == Datatype::Fp32 => Values::F32(v),
        // Another datatype reads them as gRPC's typed contents of that list are read.
        Data::Owned(v) => {
            return input_tensor(shape, datatype.as_str(), Data::Typed { fp32: &v, fp64: &[], uint: &[] })
        }
        Data::Typed { fp32, fp64, uint } => match datatype {
            Datatype::Uint8 => Values::U8(uint8(uint.iter().map(|&x| f64::from(x)))?),
            Datatype::Fp32 => Values::F32(fp32.to_vec()),
            _ => Values::F64(fp64.to_vec()),
        },
    };
    Ok(InputTensor { shape: shape.to_vec(), values })
}

/// UINT8 values sent as numbers, each an integer 0..255.
fn uint8(values: impl Iterator<Item = f64>) -> Result<Vec<u8>, KserveError> {
    values
        .enumerate()
        .map(|(index, x)| {
            if x.fract() == 0.0 && (0.0..=255.0).contains(&x) {
                Ok(x as u8)
            } else {
                Err(KserveError::Uint8Range { index, value: x.to_string() })
            }
        })
        .collect()
}

/// Values of `datatype` from little-endian bytes, checked against `shape`.
fn raw_values(datatype: Datatype, shape: &[i64], bytes: &[u8]) -> Result<Values, KserveError> {
    let size = match datatype {
        Datatype::Uint8 => 1,
        Datatype::Fp32 => 4,
        _ => 8,
    };
    let count = check_count(shape, bytes.len() / size).map(|n| n * PIXELS)?;
    if count * size != bytes.len() {
        return Err(KserveError::PartialValue { bytes: bytes.len(), datatype });
    }
    Ok(match datatype {
        Datatype::Uint8 => Values::U8(bytes.to_vec()),
        Datatype::Fp32 => {
            Values::F32(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
        }
        _ => Values::F64(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()),
    })
}

/// The model's images from a decoded input (its floats become the images without a copy): the
/// count against the shape, floats finite and within the model's range.
pub fn images(input: InputTensor, sig: &Signature) -> Result<Images, KserveError> {
    Ok(tensor::into_images(input, sig)?)
}

/// The outputs a request asked for, as `(name, asks for classification)`, by index into the
/// signature's outputs; none named means all of them.
pub fn requested_outputs<'a>(
    outputs: impl IntoIterator<Item = (&'a str, bool)>,
    sig: &Signature,
) -> Result<Vec<usize>, KserveError> {
    let outputs: Vec<(&str, bool)> = outputs.into_iter().collect();
    let names: Vec<&str> = outputs.iter().map(|&(name, _)| name).collect();
    let idx = select_outputs(&names, sig)?;
    if let Some(&(name, _)) = outputs.iter().find(|&&(_, classification)| classification) {
        return Err(KserveError::Classification { output: name.to_string() });
    }
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datatypes_by_their_kserve_spelling() {
        for d in Datatype::ALL {
            assert_eq!(d.as_str().parse::<Datatype>(), Ok(d));
        }
        assert_eq!("FP32".parse::<Datatype>(), Ok(Datatype::Fp32));
        assert_eq!("fp32".parse::<Datatype>(), Err(UnknownDatatype("fp32".into())));
        assert_eq!(input_datatype("INT64"), Err(KserveError::Datatype { got: "INT64".into() }));
        assert_eq!(input_datatype("NOPE"), Err(KserveError::Datatype { got: "NOPE".into() }));
        let e = input_datatype("BYTES").unwrap_err().to_string();
        assert!(e.starts_with("input type BYTES is not supported"), "{e}");
    }

    #[test]
    fn one_uint8_check_for_json_and_typed_contents() {
        let json = JsonTensor { shape: vec![1, 784], values: vec![1.5; 784], ..Default::default() };
        let typed = [300u32; 784];
        let from_json = input_tensor(&[1, 784], "UINT8", Data::Json(&json)).unwrap_err();
        let from_typed =
            input_tensor(&[1, 784], "UINT8", Data::Typed { fp32: &[], fp64: &[], uint: &typed }).unwrap_err();
        assert_eq!(from_json.to_string(), "UINT8 value at index 0 is 1.5, not an integer 0..255");
        assert_eq!(from_typed.to_string(), "UINT8 value at index 0 is 300, not an integer 0..255");
    }

    #[test]
    fn raw_bytes_are_counted_against_the_shape() {
        let t = input_tensor(&[1, 784], "FP32", Data::Raw(&[0; 784 * 4])).unwrap();
        assert_eq!(t.values, Values::F32(vec![0.0; 784]));
        assert!(matches!(
            input_tensor(&[1, 784], "FP32", Data::Raw(&[0; 784 * 4 + 1])),
            Err(KserveError::PartialValue { bytes: 3137, datatype: Datatype::Fp32 })
        ));
        assert!(matches!(
            input_tensor(&[2, 784], "UINT8", Data::Raw(&[0; 784])),
            Err(KserveError::Input(InputError::Count { .. }))
        ));
    }

    #[test]
    fn classification_is_refused_after_unknown_names() {
        let sig = Signature::ours();
        assert_eq!(requested_outputs([], &sig), Ok(vec![0, 1]));
        assert_eq!(requested_outputs([("probabilities", false)], &sig), Ok(vec![1]));
        assert_eq!(
            requested_outputs([("logits", true)], &sig),
            Err(KserveError::Classification { output: "logits".into() })
        );
        assert!(matches!(
            requested_outputs([("softmax", true)], &sig),
            Err(KserveError::Input(InputError::UnknownOutput { .. }))
        ));
    }
}
