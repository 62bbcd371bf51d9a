//! TensorFlow Serving's REST API: `{"instances": [...]}` (row format) and `{"inputs": ...}`
//! (columnar) requests, `{"predictions": ...}` / `{"outputs": ...}` answers, `{"error": ...}`.

use serde_json::{json, Map, Value};

use super::json_tensor::JsonTensor;
use super::tensor::{check_input_names, InputError, InputTensor, Values};
use emnist_model::contract::{Outputs, Signature, PIXELS, SIDE};

/// How the request was laid out, which decides how the answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `instances`: one entry per image; answered with `predictions`.
    Row,
    /// `inputs`: one tensor for the batch; answered with `outputs`.
    Columnar,
}

/// A parsed predict request.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictRequest {
    pub format: Format,
    pub input: InputTensor,
}

#[derive(serde::Deserialize)]
struct PredictBody {
    #[serde(default)]
    instances: Option<JsonTensor>,
    #[serde(default)]
    inputs: Option<JsonTensor>,
}

/// Parses a predict request body. The numbers go straight into one flat list (no JSON tree).
pub fn parse_predict(body: &[u8], sig: &Signature) -> Result<PredictRequest, InputError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(InputError::Malformed("the body must be a JSON object with `instances` or `inputs`".into()));
    }
    let req: PredictBody = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            InputError::Malformed(format!("the body is not valid JSON: {e}"))
        }
        _ => InputError::Malformed(format!("the body is not a predict request: {e}")),
    })?;
    let (format, t) = match (req.instances, req.inputs) {
        (Some(_), Some(_)) => {
            return Err(InputError::Malformed("send either `instances` or `inputs`, not both".into()))
        }
        (Some(t), None) => {
            match t.shape.first() {
                None => {
                    return Err(InputError::Malformed("`instances` must be a list with one entry per image".into()))
                }
                Some(0) => return Err(InputError::Malformed("`instances` is empty".into())),
                Some(_) => {}
            }
            (Format::Row, t)
        }
        (None, Some(t)) => (Format::Columnar, t),
        (None, None) => {
            return Err(InputError::Malformed("the body needs `instances` (one entry per image) or `inputs`".into()))
        }
    };
    if t.strings {
        return Err(InputError::Malformed("the input must be a nested list of numbers, not strings".into()));
    }
    if let Some(name) = &t.name {
        check_input_names(&[name], sig)?;
    }
    super::tensor::batch_of(&t.shape)?;
    Ok(PredictRequest { format, input: InputTensor { shape: t.shape, values: Values::F64(t.values) } })
}

/// The answer in the layout of the request; `outputs` selects which model outputs, in order.
pub fn predict_response(format: Format, out: &Outputs, outputs: &[usize], sig: &Signature) -> Value {
    let rows = |i: usize| -> Vec<&[f32]> { out.get(sig.outputs[i].1).chunks(out.classes).collect() };
    let name = |i: usize| sig.outputs[i].0.clone();
    match format {
        Format::Row => {
            let per: Vec<Vec<&[f32]>> = outputs.iter().map(|&i| rows(i)).collect();
            let predictions: Vec<Value> = (0..out.n)
                .map(|r| {
                    let m: Map<String, Value> =
                        outputs.iter().zip(&per).map(|(&i, p)| (name(i), json!(p[r]))).collect();
                    Value::Object(m)
                })
                .collect();
            json!({ "predictions": predictions })
        }
        Format::Columnar => {
            let m: Map<String, Value> = outputs.iter().map(|&i| (name(i), json!(rows(i)))).collect();
            json!({ "outputs": m })
        }
    }
}

/// A row-format predict request (the client side): one `[28][28]` list of floats per image, pixel
/// bytes times `scale` (what the served model expects).
pub fn predict_request(pixels: &[u8], scale: f32) -> Vec<u8> {
    let floats = emnist_model::contract::scaled(pixels, scale);
    let instances: Vec<Vec<&[f32]>> = floats.chunks(PIXELS).map(|im| im.chunks(SIDE).collect()).collect();
    serde_json::to_vec(&json!({ "instances": instances })).expect("a request serialises")
}

/// Reads the probabilities back out of a predict answer (the client side).
pub fn read_probabilities(v: &Value, n: usize, classes: usize) -> Result<Vec<f32>, String> {
    let rows: Vec<&Value> = match (v.get("predictions"), v.get("outputs")) {
        (Some(Value::Array(p)), _) => p.iter().map(|r| r.get("probabilities").unwrap_or(r)).collect(),
        (_, Some(o)) => match o.get("probabilities").unwrap_or(o) {
            Value::Array(rows) => rows.iter().collect(),
            _ => return Err("`outputs` holds no list".into()),
        },
        _ => return Err(format!("the answer has neither `predictions` nor `outputs`: {}", truncate(v))),
    };
    if rows.len() != n {
        return Err(format!("{} rows came back for {n} images", rows.len()));
    }
    let mut out = Vec::with_capacity(n * classes);
    for r in rows {
        let Some(r) = r.as_array().filter(|r| r.len() == classes) else {
            return Err(format!("a row is not a list of {classes} numbers"));
        };
        out.extend(r.iter().map(|x| x.as_f64().unwrap_or(f64::NAN) as f32));
    }
    Ok(out)
}

/// The start of a JSON value, for error messages.
pub fn truncate(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        format!("{}…", &s[..s.char_indices().nth(200).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(v: f64) -> Value {
        json!(vec![vec![v; 28]; 28])
    }

    #[test]
    fn row_and_columnar_requests() {
        let body = json!({ "instances": [image(0.5), image(0.25)] }).to_string();
        let r = parse_predict(body.as_bytes(), &Signature::ours()).unwrap();
        assert_eq!((r.format, r.input.shape.clone()), (Format::Row, vec![2, 28, 28]));
        let body = json!({ "instances": [{ "image": vec![0.5; 784] }] }).to_string();
        assert_eq!(parse_predict(body.as_bytes(), &Signature::ours()).unwrap().input.shape, vec![1, 784]);
        let body = json!({ "inputs": { "image": [[image(0.1)]] } }).to_string();
        let r = parse_predict(body.as_bytes(), &Signature::ours()).unwrap();
        assert_eq!((r.format, r.input.shape), (Format::Columnar, vec![1, 1, 28, 28]));
    }

    #[test]
    fn bad_requests_say_why() {
        for (body, want) in [
            ("{", "not valid JSON"),
            ("[]", "JSON object"),
            ("{}", "`instances`"),
            (r#"{"instances": []}"#, "empty"),
            (r#"{"instances": [[1, 2, 3]]}"#, "[N, 784]"),
            (r#"{"instances": [{"x": [1]}]}"#, "unknown input `x`"),
            (r#"{"instances": [[[0.5, 0.5], [0.5]]]}"#, "ragged"),
            (r#"{"instances": "abc"}"#, "list"),
        ] {
            let e = parse_predict(body.as_bytes(), &Signature::ours()).unwrap_err().to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
        let mut rows = vec![vec![0.5; 784]; 2];
        rows[1].pop();
        let e = parse_predict(json!({ "instances": rows }).to_string().as_bytes(), &Signature::ours()).unwrap_err();
        assert!(e.to_string().contains("ragged"), "{e}");
    }

    #[test]
    fn answers_follow_the_request_layout() {
        let out =
            Outputs { n: 2, classes: 2, logits: vec![1.0, 2.0, 3.0, 4.0], probabilities: vec![0.25, 0.75, 0.5, 0.5] };
        let row = predict_response(Format::Row, &out, &[0, 1], &Signature::ours());
        assert_eq!(row["predictions"][1]["logits"], json!([3.0, 4.0]));
        assert_eq!(read_probabilities(&row, 2, 2).unwrap(), vec![0.25, 0.75, 0.5, 0.5]);
        let col = predict_response(Format::Columnar, &out, &[1], &Signature::ours());
        assert_eq!(col["outputs"]["probabilities"][0], json!([0.25, 0.75]));
        assert_eq!(read_probabilities(&col, 2, 2).unwrap(), vec![0.25, 0.75, 0.5, 0.5]);
    }

    #[test]
    fn the_client_request_parses_back_to_the_scaled_images() {
        let pixels: Vec<u8> = (0..1568).map(|i| (i % 256) as u8).collect();
        let r =
            parse_predict(&predict_request(&pixels, emnist_model::contract::PIXEL_SCALE), &Signature::ours()).unwrap();
        assert_eq!((r.format, r.input.shape.clone()), (Format::Row, vec![2, 28, 28]));
        let Values::F64(got) = r.input.values else { panic!("floats expected") };
        assert!(got.iter().zip(emnist_model::contract::to_input(&pixels)).all(|(&a, b)| a as f32 == b));
    }
}
