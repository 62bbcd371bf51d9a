//! TensorFlow Serving's REST API: `{"instances": [...]}` (row format) and `{"inputs": ...}`
//! (columnar) requests, `{"predictions": ...}` / `{"outputs": ...}` answers, `{"error": ...}`.

use serde_json::{json, Map, Value};

use super::tensor::{InputError, InputTensor, Outputs, Values, INPUT, OUTPUTS};

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

/// Parses a predict request body.
pub fn parse_predict(body: &[u8]) -> Result<PredictRequest, InputError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| InputError::Malformed(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(mut obj) = v else {
        return Err(InputError::Malformed("the body must be a JSON object with `instances` or `inputs`".into()));
    };
    match (obj.remove("instances"), obj.remove("inputs")) {
        (Some(_), Some(_)) => Err(InputError::Malformed("send either `instances` or `inputs`, not both".into())),
        (Some(instances), None) => {
            let Value::Array(rows) = instances else {
                return Err(InputError::Malformed("`instances` must be a list with one entry per image".into()));
            };
            if rows.is_empty() {
                return Err(InputError::Malformed("`instances` is empty".into()));
            }
            // Named row format: each instance is {"image": ...}.
            let rows: Vec<Value> = rows.into_iter().map(named_input).collect::<Result<_, _>>()?;
            let input = tensor(&Value::Array(rows))?;
            Ok(PredictRequest { format: Format::Row, input })
        }
        (None, Some(inputs)) => Ok(PredictRequest { format: Format::Columnar, input: tensor(&named_input(inputs)?)? }),
        (None, None) => Err(InputError::Malformed("the body needs `instances` (one entry per image) or `inputs`".into())),
    }
}

/// `{"image": x}` → `x`; a bare tensor stays as it is.
fn named_input(v: Value) -> Result<Value, InputError> {
    match v {
        Value::Object(mut m) => {
            if let Some(k) = m.keys().find(|k| k.as_str() != INPUT) {
                return Err(InputError::UnknownInput(k.clone()));
            }
            m.remove(INPUT).ok_or(InputError::Missing)
        }
        other => Ok(other),
    }
}

/// A nested JSON list of numbers → shape and row-major values (rectangular, numbers only).
pub fn tensor(v: &Value) -> Result<InputTensor, InputError> {
    let mut shape = Vec::new();
    let mut cur = v;
    while let Value::Array(a) = cur {
        shape.push(a.len() as i64);
        match a.first() {
            Some(first) => cur = first,
            None => break,
        }
    }
    if shape.is_empty() {
        return Err(InputError::Malformed("the input must be a nested list of numbers".into()));
    }
    super::tensor::batch_of(&shape)?;
    let mut values = Vec::new();
    flatten(v, &shape, &mut values)?;
    Ok(InputTensor { shape, values: Values::F64(values) })
}

fn flatten(v: &Value, shape: &[i64], out: &mut Vec<f64>) -> Result<(), InputError> {
    match (v, shape.split_first()) {
        (Value::Array(a), Some((&n, rest))) => {
            if a.len() as i64 != n {
                return Err(InputError::Malformed(format!("the input is ragged: a list of {} where {n} were expected", a.len())));
            }
            a.iter().try_for_each(|x| flatten(x, rest, out))
        }
        (Value::Number(x), None) => {
            out.push(x.as_f64().ok_or_else(|| InputError::Malformed(format!("{x} is not a number we can read")))?);
            Ok(())
        }
        (Value::Null, None) => Err(InputError::NotFinite { index: out.len(), value: "null".into() }),
        _ => Err(InputError::Malformed("the input must be a rectangular nested list of numbers".into())),
    }
}

/// The answer in the layout of the request; `outputs` selects which model outputs, in order.
pub fn predict_response(format: Format, out: &Outputs, outputs: &[usize]) -> Value {
    let rows = |i: usize| -> Vec<&[f32]> { out.get(i).chunks(out.classes).collect() };
    match format {
        Format::Row => {
            let per: Vec<Vec<&[f32]>> = outputs.iter().map(|&i| rows(i)).collect();
            let predictions: Vec<Value> = (0..out.n)
                .map(|r| {
                    let m: Map<String, Value> = outputs.iter().zip(&per).map(|(&i, p)| (OUTPUTS[i].to_string(), json!(p[r]))).collect();
                    Value::Object(m)
                })
                .collect();
            json!({ "predictions": predictions })
        }
        Format::Columnar => {
            let m: Map<String, Value> = outputs.iter().map(|&i| (OUTPUTS[i].to_string(), json!(rows(i)))).collect();
            json!({ "outputs": m })
        }
    }
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
        let r = parse_predict(body.as_bytes()).unwrap();
        assert_eq!((r.format, r.input.shape.clone()), (Format::Row, vec![2, 28, 28]));
        let body = json!({ "instances": [{ "image": vec![0.5; 784] }] }).to_string();
        assert_eq!(parse_predict(body.as_bytes()).unwrap().input.shape, vec![1, 784]);
        let body = json!({ "inputs": { "image": [[image(0.1)]] } }).to_string();
        let r = parse_predict(body.as_bytes()).unwrap();
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
            (r#"{"instances": [[[0.5, 0.5], [0.5]]]}"#, "[N, 784]"),
            (r#"{"instances": "abc"}"#, "list"),
        ] {
            let e = parse_predict(body.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
        let mut rows = vec![vec![0.5; 784]; 2];
        rows[1].pop();
        let e = parse_predict(json!({ "instances": rows }).to_string().as_bytes()).unwrap_err();
        assert!(e.to_string().contains("ragged"), "{e}");
    }

    #[test]
    fn answers_follow_the_request_layout() {
        let out = Outputs { n: 2, classes: 2, logits: vec![1.0, 2.0, 3.0, 4.0], probabilities: vec![0.25, 0.75, 0.5, 0.5] };
        let row = predict_response(Format::Row, &out, &[0, 1]);
        assert_eq!(row["predictions"][1]["logits"], json!([3.0, 4.0]));
        assert_eq!(read_probabilities(&row, 2, 2).unwrap(), vec![0.25, 0.75, 0.5, 0.5]);
        let col = predict_response(Format::Columnar, &out, &[1]);
        assert_eq!(col["outputs"]["probabilities"][0], json!([0.25, 0.75]));
        assert_eq!(read_probabilities(&col, 2, 2).unwrap(), vec![0.25, 0.75, 0.5, 0.5]);
    }
}
