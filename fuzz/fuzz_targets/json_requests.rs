//! Arbitrary bytes as a TensorFlow Serving predict body and as a KServe v2 infer body, then the
//! shared input validation the server runs before the model. KServe bodies are tried as plain
//! JSON (no `Inference-Header-Content-Length`) and with two header lengths: the first byte's
//! value, and the length of the leading JSON value, which is what a client sends with Triton's
//! binary extension, so the bytes after it reach the binary tensor reader. Errors are expected;
//! panics, hangs and runaway allocations are bugs. And a differential check: whatever the
//! one-pass KServe reader (`kserve::fast`) accepts, serde_json (the reference path) must accept
//! too, with the same fields and the same `f32` of every number.

#![no_main]

use emnist_model::contract::Signature;
use emnist_serve::protocol::kserve::{fast, parse_infer, InferRequest};
use emnist_serve::protocol::tensor::to_images;
use emnist_serve::protocol::tfserving::parse_predict;
use libfuzzer_sys::fuzz_target;

/// Bytes taken by the first JSON value in `data` (with leading whitespace), if it parses.
fn json_prefix(data: &[u8]) -> Option<usize> {
    let mut values = serde_json::Deserializer::from_slice(data).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => Some(values.byte_offset()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let sig = Signature::ours();
    if let Ok(r) = parse_predict(data, &sig) {
        let _ = to_images(&r.input, &sig);
    }
    let mut lengths = vec![None];
    if let Some(&b) = data.first() {
        lengths.push(Some(b as usize));
    }
    if let Some(n) = json_prefix(data).filter(|&n| n < data.len()) {
        lengths.push(Some(n));
    }
    if let Some(quick) = fast::parse(data) {
        let slow: InferRequest = serde_json::from_slice(data).expect("the one-pass reader accepted what serde_json refuses");
        assert_eq!((&quick.id, &quick.parameters), (&slow.id, &slow.parameters));
        assert_eq!(quick.inputs.len(), slow.inputs.len());
        for (q, s) in quick.inputs.iter().zip(&slow.inputs) {
            assert_eq!((&q.name, &q.shape, &q.datatype, &q.parameters), (&s.name, &s.shape, &s.datatype, &s.parameters));
            let want = s.data.as_ref().map(|t| t.values.iter().map(|&v| (v as f32).to_bits()).collect::<Vec<_>>());
            let got = q.fp32.as_ref().map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
            assert_eq!(got, want);
        }
    }
    for header_length in lengths {
        if let Ok(p) = parse_infer(data, header_length, &sig) {
            let _ = to_images(&p.input, &sig);
        }
    }
});
