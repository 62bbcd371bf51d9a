//! Internal timing (not what a user runs): one KServe v2 JSON request body read by the one-pass
//! reader (`protocol::kserve::fast`) and by serde_json (the reference path), into the `f32`s the
//! model is fed, alternating, best of ROUNDS.
//!
//!   cargo run --release -p emnist-serve --example json_parse_bench -- BODY.json [ROUNDS]

use std::time::Instant;

use emnist_serve::protocol::kserve::{fast, InferRequest};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: json_parse_bench BODY.json [ROUNDS]");
    let rounds: usize = args.next().map_or(50, |r| r.parse().expect("ROUNDS is a count"));
    let body = std::fs::read(&path).expect("readable body");
    let (mut best_fast, mut best_serde) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let t = Instant::now();
        let req = fast::parse(&body).expect("the one-pass reader reads this body");
        let n = req.inputs[0].fp32.as_ref().map_or(0, Vec::len);
        best_fast = best_fast.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let req: InferRequest = serde_json::from_slice(&body).expect("a KServe v2 request");
        let values: Vec<f32> =
            req.inputs[0].data.as_ref().map_or(vec![], |d| d.values.iter().map(|&v| v as f32).collect());
        best_serde = best_serde.min(t.elapsed().as_secs_f64());
        assert_eq!(values.len(), n);
    }
    println!(
        "{} bytes: one-pass {:.3} ms, serde_json {:.3} ms, {:.2}x",
        body.len(),
        best_fast * 1e3,
        best_serde * 1e3,
        best_serde / best_fast
    );
}
