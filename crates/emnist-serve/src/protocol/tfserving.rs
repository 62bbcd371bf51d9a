//! TensorFlow Serving's REST API: `{"instances": [...]}` (row format) and `{"inputs": ...}`
//! (columnar) requests, `{"predictions": ...}` / `{"outputs": ...}` answers, `{"error": ...}`.

use serde_json::{json, Value};

use super::json_tensor::{JsonTensor, MAX_DEPTH};
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

/// Parses a predict request body. The numbers go straight into one flat list of `f32` (no JSON
/// tree; TF Serving's float inputs are `DT_FLOAT`): in one pass for the common body, plain nested
/// lists under `instances` or `inputs` (`parse_fast`), else through serde_json, which also says
/// what is wrong with a bad body. Both read each number as the `f32` of serde_json's `f64`.
pub fn parse_predict(body: &[u8], sig: &Signature) -> Result<PredictRequest, InputError> {
    if let Some((format, shape, values)) = parse_fast(body) {
        super::tensor::batch_of(&shape)?;
        return Ok(PredictRequest { format, input: InputTensor { shape, values: Values::F32(values) } });
    }
    parse_serde(body, sig)
}

/// [`parse_predict`] through serde_json: every body, and the errors users see.
fn parse_serde(body: &[u8], sig: &Signature) -> Result<PredictRequest, InputError> {
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
    let values = Values::F32(t.values.iter().map(|&v| v as f32).collect());
    Ok(PredictRequest { format, input: InputTensor { shape: t.shape, values } })
}

/// The common request in one pass: an object whose `instances` or `inputs` (one of them, once)
/// is a rectangular nested list of numbers, other keys skipped as serde_json skips them. `None`
/// for anything else (objects per instance, strings, empty lists, malformed JSON).
fn parse_fast(body: &[u8]) -> Option<(Format, Vec<i64>, Vec<f32>)> {
    use super::kserve::fast::{set, Reader};
    let mut r = Reader::new(body);
    r.byte(b'{')?;
    let (mut instances, mut inputs) = (None, None);
    r.members(|r, key| match key {
        b"instances" => set(&mut instances, r.nested_floats(MAX_DEPTH)?),
        b"inputs" => set(&mut inputs, r.nested_floats(MAX_DEPTH)?),
        _ => r.serde::<serde::de::IgnoredAny>().map(drop),
    })?;
    if !r.at_end() {
        return None;
    }
    match (instances, inputs) {
        (Some((shape, values)), None) => Some((Format::Row, shape, values)),
        (None, Some((shape, values))) => Some((Format::Columnar, shape, values)),
        _ => None,
    }
}

/// The answer in the layout of the request, as JSON bytes; `outputs` selects which model outputs,
/// in order. Written straight from the rows (no `serde_json::Value` per number); numbers as
/// serde_json writes an `f32` (the shortest that reads back to it; `null` for NaN and infinities).
pub fn predict_response(format: Format, out: &Outputs, outputs: &[usize], sig: &Signature) -> Vec<u8> {
    let mut body = Vec::with_capacity(32 + out.n * outputs.len() * (out.classes * 12 + 24));
    let row = |body: &mut Vec<u8>, i: usize, r: usize| {
        let values = &out.get(sig.outputs[i].1)[r * out.classes..(r + 1) * out.classes];
        serde_json::to_writer(&mut *body, values).expect("numbers serialise");
    };
    let name = |body: &mut Vec<u8>, i: usize| {
        serde_json::to_writer(&mut *body, &sig.outputs[i].0).expect("a name serialises");
        body.push(b':');
    };
    match format {
        Format::Row => {
            body.extend_from_slice(b"{\"predictions\":[");
            for r in 0..out.n {
                body.extend_from_slice(if r == 0 { b"{" } else { b",{" });
                for (k, &i) in outputs.iter().enumerate() {
                    if k > 0 {
                        body.push(b',');
                    }
                    name(&mut body, i);
                    row(&mut body, i, r);
                }
                body.push(b'}');
            }
            body.extend_from_slice(b"]}");
        }
        Format::Columnar => {
            body.extend_from_slice(b"{\"outputs\":{");
            for (k, &i) in outputs.iter().enumerate() {
                if k > 0 {
                    body.push(b',');
                }
                name(&mut body, i);
                body.push(b'[');
                for r in 0..out.n {
                    if r > 0 {
                        body.push(b',');
                    }
                    row(&mut body, i, r);
                }
                body.push(b']');
            }
            body.extend_from_slice(b"}}");
        }
    }
    body
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

    /// The one-pass reader against serde_json's on the bodies it takes: the same request, number
    /// for number (random pixels, edge numbers, both layouts, other keys, spacing); and what it
    /// leaves to serde_json is what serde_json alone reads.
    #[test]
    fn the_fast_reader_agrees_with_serde() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut bodies: Vec<String> = Vec::new();
        for n in [1, 2, 5] {
            let images: Vec<Vec<Vec<f64>>> = (0..n)
                .map(|_| (0..28).map(|_| (0..28).map(|_| (next() % 256) as f64 / 255.0).collect()).collect())
                .collect();
            bodies.push(json!({ "instances": images }).to_string());
            bodies.push(json!({ "signature_name": "serving_default", "inputs": images }).to_string());
            let flat: Vec<Vec<f64>> = images.iter().map(|im| im.concat()).collect();
            bodies.push(format!(" {{ \"instances\" :\n{} , \"x\": {{\"y\": [1, \"z\"]}} }} ", json!(flat)));
        }
        let edge = [
            "0",
            "1",
            "0.0",
            "1.0",
            "-0",
            "0.5e0",
            "1e-45",
            "3.4028236e38",
            "0.30000000000000004",
            "0.100000001490116119384765625",
            "12345678901234567890123e-23",
        ];
        let row: Vec<&str> = (0..784).map(|i| edge[i % edge.len()]).collect();
        bodies.push(format!("{{\"instances\": [[{}]]}}", row.join(",")));
        for body in &bodies {
            let fast = parse_fast(body.as_bytes()).expect("the one-pass reader takes it");
            let slow = parse_serde(body.as_bytes(), &Signature::ours());
            let Ok(PredictRequest { format, input: InputTensor { shape, values: Values::F32(v) } }) = slow else {
                panic!("serde_json: {slow:?}")
            };
            assert_eq!((fast.0, &fast.1), (format, &shape));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast.2), bits(&v), "{}", &body[..80.min(body.len())]);
        }
        // Left to serde_json: objects per instance, strings, empty and ragged lists, duplicates,
        // both layouts at once, trailing bytes, nesting past the limit.
        for body in [
            r#"{"instances": [{"image": [0.5]}]}"#,
            r#"{"instances": [["0.5"]]}"#,
            r#"{"instances": []}"#,
            r#"{"instances": [[]]}"#,
            r#"{"instances": [[0.5, 0.5], [0.5]]}"#,
            r#"{"instances": [[0.5], [[0.5]]]}"#,
            r#"{"instances": [[0.5]], "instances": [[0.5]]}"#,
            r#"{"instances": [[0.5]], "inputs": [[0.5]]}"#,
            r#"{"instances": [[0.5]]} x"#,
            r#"{"instances": [[[[[[[[[0.5]]]]]]]]]}"#,
            r#"{"instances": [[01]]}"#,
        ] {
            assert_eq!(parse_fast(body.as_bytes()), None, "{body}");
        }
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
        let parse = |b: Vec<u8>| -> Value { serde_json::from_slice(&b).unwrap() };
        let row = parse(predict_response(Format::Row, &out, &[0, 1], &Signature::ours()));
        assert_eq!(row["predictions"][1]["logits"], json!([3.0, 4.0]));
        assert_eq!(read_probabilities(&row, 2, 2).unwrap(), vec![0.25, 0.75, 0.5, 0.5]);
        let col = parse(predict_response(Format::Columnar, &out, &[1], &Signature::ours()));
        assert_eq!(col["outputs"]["probabilities"][0], json!([0.25, 0.75]));
        assert_eq!(read_probabilities(&col, 2, 2).unwrap(), vec![0.25, 0.75, 0.5, 0.5]);
    }

    /// The bytes against serde_json's writing of the same answer built as a tree: equal as JSON
    /// (each number the same `f32`), in both layouts, for any selection of outputs.
    #[test]
    fn answers_are_the_json_serde_writes() {
        let (n, classes) = (3, 5);
        let logits: Vec<f32> = (0..n * classes).map(|i| (i as f32 - 7.0) * 1.37e-3).collect();
        let mut probabilities: Vec<f32> = (0..n * classes).map(|i| 1.0 / (i as f32 + 3.0)).collect();
        probabilities[4] = f32::NAN;
        probabilities[5] = f32::MIN_POSITIVE;
        let out = Outputs { n, classes, logits, probabilities };
        let sig = Signature::ours();
        // Each number as the f32 it stands for (the tree holds the f64 of each f32, the bytes
        // the shortest decimal that reads back to it).
        fn as_f32(v: &Value) -> Value {
            match v {
                Value::Array(a) => Value::Array(a.iter().map(as_f32).collect()),
                Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), as_f32(x))).collect()),
                Value::Number(x) => json!(x.as_f64().unwrap() as f32),
                x => x.clone(),
            }
        }
        for outputs in [&[0, 1][..], &[1], &[1, 0]] {
            let rows = |i: usize| -> Vec<&[f32]> { out.get(sig.outputs[i].1).chunks(classes).collect() };
            let name = |i: usize| sig.outputs[i].0.clone();
            let tree_row = json!({ "predictions": (0..n).map(|r| {
                Value::Object(outputs.iter().map(|&i| (name(i), json!(rows(i)[r]))).collect())
            }).collect::<Vec<_>>() });
            let tree_col =
                json!({ "outputs": Value::Object(outputs.iter().map(|&i| (name(i), json!(rows(i)))).collect()) });
            for (format, tree) in [(Format::Row, tree_row), (Format::Columnar, tree_col)] {
                let ours: Value = serde_json::from_slice(&predict_response(format, &out, outputs, &sig)).unwrap();
                assert_eq!(as_f32(&ours), as_f32(&tree), "{format:?} {outputs:?}");
            }
        }
    }

    #[test]
    fn the_client_request_parses_back_to_the_scaled_images() {
        let pixels: Vec<u8> = (0..1568).map(|i| (i % 256) as u8).collect();
        let r =
            parse_predict(&predict_request(&pixels, emnist_model::contract::PIXEL_SCALE), &Signature::ours()).unwrap();
        assert_eq!((r.format, r.input.shape.clone()), (Format::Row, vec![2, 28, 28]));
        let Values::F32(got) = r.input.values else { panic!("floats expected") };
        assert_eq!(got, emnist_model::contract::to_input(&pixels));
    }
}
