//! KServe v2 / Open Inference Protocol (what Triton, KServe and Seldon speak): JSON tensors
//! `{name, shape, datatype, data}`, and Triton's binary tensor data extension, where the JSON
//! header (`Inference-Header-Content-Length` bytes) is followed by raw little-endian tensors:
//! the JSON types, request bodies and answers, and the client's side. What every front end
//! (this one and gRPC) shares, datatypes, input checks and refusals, is the core in `input.rs`.

pub mod fast;
mod input;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use input::{
    images, input_datatype, input_tensor, requested_outputs, Data, Datatype, KserveError, UnknownDatatype,
};

use super::json_tensor::JsonTensor;
use super::tensor::{batch_of, the_input, InputTensor, Values};
use emnist_model::contract::{Outputs, Signature, INPUT};

/// The HTTP header that carries the JSON part's length in binary requests and answers.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// One input of an inference request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// Flat or nested numbers, read without a JSON tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<JsonTensor>,
    /// An FP32 input's flat `data` read by the one-pass reader (`fast.rs`) instead of `data`.
    #[serde(skip)]
    pub fp32: Option<Vec<f32>>,
}

/// One requested output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestOutput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
}

/// An inference request (`POST /v2/models/{name}/infer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InferRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    pub inputs: Vec<RequestInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<RequestOutput>>,
}

/// One output of an answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponseOutput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<f32>>,
}

/// An inference answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InferResponse {
    pub model_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub outputs: Vec<ResponseOutput>,
}

/// A parsed request: the input tensor, the outputs wanted (index into the signature's outputs,
/// binary or not).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub id: Option<String>,
    pub input: InputTensor,
    pub outputs: Vec<(usize, bool)>,
}

fn flag(params: &Option<Map<String, Value>>, key: &str) -> Option<bool> {
    params.as_ref()?.get(key)?.as_bool()
}

/// Parses a request body (JSON, or Triton's binary tensor data after a JSON header);
/// `header_length` is the `Inference-Header-Content-Length` value if any.
pub fn parse_infer(body: &[u8], header_length: Option<usize>, sig: &Signature) -> Result<Parsed, KserveError> {
    let (json, mut binary) = match header_length {
        Some(n) if n > body.len() => {
            return Err(KserveError::Malformed(format!(
                "`Inference-Header-Content-Length` is {n} but the body has only {} bytes",
                body.len()
            )))
        }
        Some(n) => body.split_at(n),
        None => (body, &[][..]),
    };
    let mut req: InferRequest = match fast::parse(json) {
        Some(req) => req,
        None => serde_json::from_slice(json)
            .map_err(|e| KserveError::Malformed(format!("the body is not a KServe v2 inference request: {e}")))?,
    };
    the_input(&req.inputs, |i| i.name.as_str(), sig)?;
    // `the_input` found exactly one.
    let mut input = req.inputs.pop().expect("one input");
    batch_of(&input.shape)?;
    let data = match input.parameters.as_ref().and_then(|p| p.get("binary_data_size")) {
        Some(size) => {
            let size = size.as_u64().and_then(|s| usize::try_from(s).ok()).filter(|&s| s <= binary.len()).ok_or_else(
                || {
                    KserveError::Malformed(format!(
                        "`binary_data_size` of `{}` is not a size within the {} bytes sent",
                        input.name,
                        binary.len()
                    ))
                },
            )?;
            let (mine, rest) = binary.split_at(size);
            binary = rest;
            Data::Raw(mine)
        }
        None => match (input.fp32.take(), &input.data) {
            // Read straight into `f32`s: they become the tensor without a copy.
            (Some(fp32), _) => Data::Owned(fp32),
            (None, Some(json)) => Data::Json(json),
            (None, None) => return Err(KserveError::Malformed(format!("input `{}` has no `data`", input.name))),
        },
    };
    let tensor = input_tensor(&input.shape, &input.datatype, data)?;
    if !binary.is_empty() {
        return Err(KserveError::Malformed(format!("{} bytes follow the tensors the header describes", binary.len())));
    }
    let all_binary = flag(&req.parameters, "binary_data_output").unwrap_or(false);
    let outs = req.outputs.as_deref().unwrap_or_default();
    let idx = requested_outputs(
        outs.iter().map(|o| (o.name.as_str(), o.parameters.as_ref().is_some_and(|p| p.contains_key("classification")))),
        sig,
    )?;
    // None named: every output, binary as the request's parameter says.
    let outputs = match outs {
        [] => idx.into_iter().map(|i| (i, all_binary)).collect(),
        named => idx
            .into_iter()
            .zip(named)
            .map(|(i, o)| (i, flag(&o.parameters, "binary_data").unwrap_or(all_binary)))
            .collect(),
    };
    Ok(Parsed { id: req.id, input: tensor, outputs })
}

/// Builds the answer: JSON bytes, plus the binary part (empty when every output is JSON).
pub fn infer_response(
    model_name: &str,
    version: &str,
    p: &Parsed,
    out: &Outputs,
    sig: &Signature,
) -> (Vec<u8>, Vec<u8>) {
    let mut binary = Vec::new();
    let outputs = p
        .outputs
        .iter()
        .map(|&(i, bin)| {
            let (name, kind) = &sig.outputs[i];
            let values = out.get(*kind);
            let mut o = ResponseOutput {
                name: name.clone(),
                shape: vec![out.n as i64, out.classes as i64],
                datatype: Datatype::Fp32.as_str().into(),
                parameters: None,
                data: None,
            };
            if bin {
                let mut params = Map::new();
                params.insert("binary_data_size".into(), Value::from(values.len() * 4));
                o.parameters = Some(params);
                binary.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            } else {
                o.data = Some(values.to_vec());
            }
            o
        })
        .collect();
    let resp =
        InferResponse { model_name: model_name.into(), model_version: Some(version.into()), id: p.id.clone(), outputs };
    // Room for every number at its longest (an f32 takes at most 15 characters and a comma), so
    // the buffer is not grown and copied while a 128-image answer is written.
    let numbers: usize = resp.outputs.iter().map(|o| o.data.as_ref().map_or(0, Vec::len)).sum();
    let mut json = Vec::with_capacity(512 + 16 * numbers);
    serde_json::to_writer(&mut json, &resp).expect("a response serialises");
    (json, binary)
}

/// A JSON inference request for `input` asking for the `outputs` named (the client side).
pub fn infer_request(input: &InputTensor, outputs: &[&str]) -> Vec<u8> {
    let values: Vec<f64> = match &input.values {
        Values::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Values::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Values::F64(v) => v.clone(),
    };
    let req = InferRequest {
        id: None,
        parameters: None,
        inputs: vec![RequestInput {
            name: INPUT.into(),
            shape: input.shape.clone(),
            datatype: Datatype::of(&input.values).as_str().into(),
            parameters: None,
            data: Some(JsonTensor { shape: input.shape.clone(), values, ..Default::default() }),
            fp32: None,
        }],
        outputs: Some(outputs.iter().map(|&name| RequestOutput { name: name.into(), parameters: None }).collect()),
    };
    serde_json::to_vec(&req).expect("a request serialises")
}

/// Reads an answer (the client side): the named output as floats, from JSON or binary data.
pub fn read_output(body: &[u8], header_length: Option<usize>, name: &str) -> Result<(Vec<i64>, Vec<f32>), String> {
    let (json, binary) = match header_length {
        Some(n) if n <= body.len() => body.split_at(n),
        Some(n) => return Err(format!("header length {n} exceeds the body ({} bytes)", body.len())),
        None => (body, &[][..]),
    };
    let resp: InferResponse = serde_json::from_slice(json).map_err(|e| format!("not a KServe v2 answer: {e}"))?;
    let mut offset = 0;
    for o in resp.outputs {
        let size =
            o.parameters.as_ref().and_then(|p| p.get("binary_data_size")).and_then(Value::as_u64).map(|s| s as usize);
        if o.name == name {
            return match (o.data, size) {
                (Some(d), _) => Ok((o.shape, d)),
                (None, Some(s)) if offset + s <= binary.len() => Ok((
                    o.shape,
                    binary[offset..offset + s]
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                )),
                _ => Err(format!("output `{name}` has no data")),
            };
        }
        offset += size.unwrap_or(0);
    }
    Err(format!("the answer has no output `{name}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_request_with_nested_or_flat_data() {
        let body = json!({"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": vec![7; 784]}]});
        let p = parse_infer(body.to_string().as_bytes(), None, &Signature::ours()).unwrap();
        assert_eq!(p.input.values, Values::U8(vec![7; 784]));
        assert_eq!(p.outputs, vec![(0, false), (1, false)]);
        let body = json!({"id": "a", "inputs": [{"name": "image", "shape": [1, 28, 28], "datatype": "FP32", "data": vec![vec![0.5; 28]; 28]}],
                          "outputs": [{"name": "probabilities"}]});
        let p = parse_infer(body.to_string().as_bytes(), None, &Signature::ours()).unwrap();
        assert_eq!(p.input.values.len(), 784);
        assert_eq!((p.id.as_deref(), p.outputs.clone()), (Some("a"), vec![(1, false)]));
    }

    #[test]
    fn binary_request_and_answer() {
        let header = json!({"inputs": [{"name": "image", "shape": [2, 784], "datatype": "FP32", "parameters": {"binary_data_size": 2 * 784 * 4}}],
                            "parameters": {"binary_data_output": true}})
        .to_string();
        let mut body = header.clone().into_bytes();
        body.extend((0..2 * 784).flat_map(|i| ((i % 10) as f32 / 10.0).to_le_bytes()));
        let p = parse_infer(&body, Some(header.len()), &Signature::ours()).unwrap();
        assert_eq!(p.outputs, vec![(0, true), (1, true)]);
        let out =
            Outputs { n: 2, classes: 2, logits: vec![1.0, 2.0, 3.0, 4.0], probabilities: vec![0.1, 0.9, 0.2, 0.8] };
        let (json, bin) = infer_response("m", "1", &p, &out, &Signature::ours());
        let n = json.len();
        let mut all = json;
        all.extend(bin);
        assert_eq!(read_output(&all, Some(n), "probabilities").unwrap(), (vec![2, 2], vec![0.1, 0.9, 0.2, 0.8]));
        assert_eq!(read_output(&all, Some(n), "logits").unwrap().1, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn bad_requests_say_why() {
        let cases = [
            (json!({"inputs": []}), "no input"),
            (
                json!({"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP32", "data": [0]}]}),
                "unknown input `x`",
            ),
            (
                json!({"inputs": [{"name": "image", "shape": [1, 784], "datatype": "INT64", "data": vec![0; 784]}]}),
                "INT64",
            ),
            (json!({"inputs": [{"name": "image", "shape": [1, 5], "datatype": "FP32", "data": [0]}]}), "[N, 784]"),
            (
                json!({"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": vec![300; 784]}]}),
                "0..255",
            ),
            (json!({"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32"}]}), "no `data`"),
            (
                json!({"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": ["a"]}]}),
                "list of numbers",
            ),
            (
                json!({"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": vec![0; 784]}], "outputs": [{"name": "y"}]}),
                "unknown output `y`",
            ),
            (
                json!({"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "parameters": {"binary_data_size": 99999}}]}),
                "binary_data_size",
            ),
        ];
        for (body, want) in cases {
            let e = parse_infer(body.to_string().as_bytes(), None, &Signature::ours()).unwrap_err().to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
        assert!(parse_infer(b"{}", Some(10), &Signature::ours())
            .unwrap_err()
            .to_string()
            .contains("Inference-Header-Content-Length"));
    }

    #[test]
    fn the_client_request_parses_back_to_the_same_tensor() {
        for values in [Values::U8((0..1568).map(|i| (i % 256) as u8).collect()), Values::F32(vec![0.25; 1568])] {
            let t = InputTensor { shape: vec![2, 784], values };
            let p = parse_infer(&infer_request(&t, &["probabilities"]), None, &Signature::ours()).unwrap();
            assert_eq!(p.input, t);
            assert_eq!(p.outputs, vec![(1, false)]);
        }
    }
}
