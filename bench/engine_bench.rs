//! Our side of the inference-engine benchmark: tract, through `emnist_runtime::TractModel` (what
//! `emnist serve` runs), timed call by call on one thread.
//!
//!     cargo run --release --no-default-features --example engine_bench -- MODEL.onnx [BATCHES] [SECONDS] [IMAGES.f32] [fixed]
//!
//! BATCHES: comma-separated batch sizes (default `1,128`). SECONDS: time budget per batch size
//! after warm-up (default 3; at least 20 calls). IMAGES.f32: raw little-endian float32 images
//! (784 values each, in [0, 1]; `bench/make_serve_bodies.py` writes `images_128.f32`); without
//! it, a fixed pseudo-random input. A batch of n takes the first n images (cycling if short).
//! Prints one JSON line per batch size: median / p10 / p90 per-call latency and images/s
//! (n / median).
//!
//! `fixed` (a diagnostic, not what the server runs) also times tract on a plan optimised for each
//! batch size (the batch dimension made concrete before `into_optimized`), reported as engine
//! `tract-fixed-batch`: it shows what the symbolic batch dimension costs.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use emnist_runtime::ServedModel;
use tract_onnx::prelude::*;

const PIXELS: usize = 784;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let model_path = args.next().context("usage: engine_bench MODEL.onnx [BATCHES] [SECONDS] [IMAGES.f32]")?;
    let batches: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "1,128".into())
        .split(',')
        .map(|s| s.trim().parse::<usize>().with_context(|| format!("bad batch size `{s}`")))
        .collect::<Result<_>>()?;
    let budget = Duration::from_secs_f64(args.next().map_or(Ok(3.0), |s| s.parse::<f64>())?);
    let images: Vec<f32> = match args.next() {
        Some(p) => {
            let bytes = std::fs::read(&p).with_context(|| format!("cannot read `{p}`"))?;
            if bytes.is_empty() || bytes.len() % (4 * PIXELS) != 0 {
                bail!("`{p}` does not hold whole 28x28 float32 images");
            }
            bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
        }
        None => {
            // xorshift, fixed seed: values in [0, 1).
            let mut s = 0x2545_f491_4f6c_dd1du64;
            (0..128 * PIXELS)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 40) as f32 / (1u64 << 24) as f32
                })
                .collect()
        }
    };

    let fixed = args.next().as_deref() == Some("fixed");

    let t_load = Instant::now();
    let model = ServedModel::load(Path::new(&model_path), &Default::default())?.model;
    let load_ms = t_load.elapsed().as_secs_f64() * 1e3;

    for &n in &batches {
        let input: Vec<f32> = images.iter().copied().cycle().take(n * PIXELS).collect();
        let served = time_calls(budget, || {
            std::hint::black_box(model.run(std::hint::black_box(&input))?);
            Ok(())
        })?;
        report("tract", &model_path, n, &served, load_ms);
        if fixed {
            let t = Instant::now();
            let plan = tract_onnx::onnx()
                .model_for_path(&model_path)?
                .with_input_fact(0, f32::fact([n, 1, 28, 28]).into())?
                .into_optimized()?
                .into_runnable()?;
            let fixed_load_ms = t.elapsed().as_secs_f64() * 1e3;
            let times = time_calls(budget, || {
                let x = Tensor::from_shape(&[n, 1, 28, 28], std::hint::black_box(&input))?;
                let out = plan.run(tvec!(x.into_tvalue()))?;
                // The same copies as TractModel::run makes.
                let copy = |t: &TValue| -> Result<Vec<f32>> { Ok(t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()) };
                std::hint::black_box((copy(&out[0])?, copy(&out[1])?));
                Ok(())
            })?;
            report("tract-fixed-batch", &model_path, n, &times, fixed_load_ms);
        }
    }
    Ok(())
}

/// Warm-up (at least 5 calls and 0.3 s), then calls until `budget` has passed (at least 20);
/// each call's seconds, sorted.
fn time_calls(budget: Duration, mut call: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    let t_warm = Instant::now();
    let mut warm = 0;
    while warm < 5 || t_warm.elapsed() < Duration::from_millis(300) {
        call()?;
        warm += 1;
    }
    let mut times = Vec::new();
    let t0 = Instant::now();
    while times.len() < 20 || t0.elapsed() < budget {
        let t = Instant::now();
        call()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

fn report(engine: &str, model: &str, n: usize, times: &[f64], load_ms: f64) {
    let q = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    let median = q(0.5);
    println!(
        "{}",
        serde_json::json!({
            "engine": engine,
            "threads": 1,
            "model": model,
            "batch": n,
            "calls": times.len(),
            "median_ms": median * 1e3,
            "p10_ms": q(0.1) * 1e3,
            "p90_ms": q(0.9) * 1e3,
            "images_per_s": n as f64 / median,
            "load_ms": load_ms,
        })
    );
}
