//! `emnist query`: the deployment check. Sends test images to a running server over each
//! protocol, compares the answers with the labels (accuracy) and with local tract inference of
//! the same ONNX file (agreement, which must be total), and measures throughput and latency.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::protocol::graphpipe;
use crate::protocol::kserve;
use crate::protocol::tensor::{InputTensor, Values};
use crate::protocol::tfserving;
use emnist_data::progress::Progress;
use emnist_data::setting::{Command, Setting};
use emnist_data::Part;
use emnist_model::contract::{argmax_rows, max_abs_diff, OutputKind, PIXELS, PROBABILITIES};
pub use emnist_model::reports::{Latency, Protocol, ProtocolReport, QueryReport};
use emnist_runtime::{ModelOptions, ServedModel};

/// Settings of a query run.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// The server's base URL, e.g. `http://127.0.0.1:9000`.
    pub url: String,
    pub protocols: Vec<Protocol>,
    /// The model's name in URLs.
    pub name: String,
    /// The ONNX file the server serves, run locally for the agreement check.
    pub model: PathBuf,
    /// Test images to send (`None`: all of them).
    pub images: Option<usize>,
    /// Images per request.
    pub batch: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Longest wait for one answer.
    pub timeout: Duration,
}

/// Runs the check against a server.
pub fn query(cfg: &QueryConfig, test: &Part, progress: &dyn Progress) -> Result<QueryReport> {
    if cfg.batch == 0 || cfg.concurrency == 0 {
        bail!("{} and {} must be at least 1", Setting::Batch, Setting::Concurrency);
    }
    if test.is_empty() {
        bail!("the dataset has no test images to send");
    }
    let url = cfg.url.trim_end_matches('/').to_string();
    let agent = agent(cfg.timeout);
    let meta = server_metadata(&agent, &url, &cfg.name)?;
    // The file is read locally as the server reads it (its announced interpretation).
    let model = ServedModel::load(&cfg.model, &options_of(&meta))?;
    let server_sha256_matches = check_digest(&meta, &model)?;
    let scale = model.signature.scale;
    let idx = emnist_runtime::parity::sample_indices(test.len(), cfg.images.unwrap_or(usize::MAX));
    let k = model.classes();

    progress.start("running the model locally", Some(idx.len() as u64));
    let mut local = Vec::with_capacity(idx.len() * k);
    for chunk in idx.chunks(256) {
        let pixels: Vec<f32> = chunk.iter().flat_map(|&i| model.signature.to_input(test.image(i))).collect();
        local.extend(model.model.run(&pixels)?.probabilities);
        progress.advance(chunk.len() as u64);
    }
    progress.finish();
    let labels: Vec<usize> = idx.iter().map(|&i| test.labels[i] as usize).collect();
    let local_pred = argmax_rows(&local, k);
    let local_accuracy = share(local_pred.iter().zip(&labels).filter(|(p, l)| p == l).count(), idx.len());

    let mut reports = Vec::new();
    for &p in &cfg.protocols {
        progress.start(&format!("querying over {}", p.as_str()), Some(idx.len() as u64));
        let r = run_protocol(p, cfg, &url, &agent, test, &idx, (k, scale), &local, &labels, progress);
        progress.finish();
        reports.push(r?);
    }
    let passed = reports.iter().all(|r| r.failed_requests == 0 && r.disagreements == 0);
    let report = QueryReport {
        url,
        model: cfg.model.clone(),
        model_sha256: model.sha256.clone(),
        server_sha256_matches,
        images: idx.len(),
        batch: cfg.batch,
        concurrency: cfg.concurrency,
        local_accuracy,
        protocols: reports,
        passed,
        saved: None,
    };
    // The latest check beside the model file, for `emnist report`; a read-only folder only loses that.
    let path = emnist_model::artifacts::OnnxFile::new(&cfg.model).query_report();
    let report_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    emnist_data::fsutil::remove_stale_temps(emnist_data::fsutil::parent_dir(&path), |n| n == report_name);
    let mut report = report;
    report.saved = serde_json::to_vec_pretty(&report)
        .ok()
        .and_then(|j| emnist_data::fsutil::write_atomic(&path, &j).ok())
        .map(|_| path);
    Ok(report)
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_idle_connections_per_host(64)
            .build(),
    )
}

/// The most bytes a model metadata answer may have: a description of inputs, outputs and labels.
pub const METADATA_LIMIT_BYTES: u64 = 4 << 20;

/// The most bytes an answer to `n` images of `k` classes may have: 64 bytes a number (a JSON
/// float takes at most 25, pretty-printed with its indentation less than 64) and 64 KiB for the
/// rest (names, shapes, an error message). A hostile or broken server cannot make the check
/// buffer more.
pub fn answer_limit_bytes(n: usize, k: usize) -> u64 {
    (n as u64).saturating_mul(k as u64).saturating_mul(64).saturating_add(64 << 10)
}

/// Reads an answer's body, at most `limit` bytes.
fn read_limited(resp: &mut ureq::http::Response<ureq::Body>, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    resp.body_mut().with_config().limit(limit).read_to_vec().map_err(|e| match e {
        ureq::Error::BodyExceedsLimit(_) => {
            format!("{what} is larger than the {limit} bytes it can legitimately be; the server sent more, so it was not read")
        }
        other => format!("{what} could not be read: {other}"),
    })
}

/// The server's KServe model metadata: an error unless it answers 200 with a JSON object.
fn server_metadata(agent: &ureq::Agent, url: &str, name: &str) -> Result<Value> {
    let target = format!("{url}/v2/models/{name}");
    let mut resp = agent
        .get(&target)
        .call()
        .with_context(|| format!("cannot reach `{url}`: is {} running there?", Command::Serve))?;
    let status = resp.status().as_u16();
    if status == 404 {
        bail!(
            "the server at `{url}` does not serve a model named `{name}`: pass the name it serves with {}",
            Setting::Name
        );
    }
    let bytes = read_limited(&mut resp, METADATA_LIMIT_BYTES, "the model metadata answer")
        .map_err(|e| anyhow::anyhow!("`GET {target}`: {e}"))?;
    if status != 200 {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
        bail!("`GET {target}` answered HTTP {status} ({}): {}", text.trim(), not_kserve());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => bail!("`GET {target}` answered JSON that is not a model metadata object: {}", not_kserve()),
        Err(e) => bail!("`GET {target}` answered something that is not JSON ({e}): {}", not_kserve()),
    }
}

/// The question an answer that is not KServe's raises.
fn not_kserve() -> String {
    format!("is {} a KServe v2 server such as {}?", Setting::Url, Command::Serve)
}

/// How the server announces it reads the file (`parameters.interpretation`): its input scale,
/// transposition, and what a single output holds; the defaults where it says nothing.
fn options_of(meta: &Value) -> ModelOptions {
    let mut o = ModelOptions::default();
    let Some(i) = meta.pointer("/parameters/interpretation") else { return o };
    if let Some(s) = i.get("input_scale").and_then(Value::as_f64) {
        o.input_scale = s as f32;
    }
    o.transpose = i.get("transpose").and_then(Value::as_bool).unwrap_or(false);
    if let Some([one]) = i.get("outputs").and_then(Value::as_array).map(Vec::as_slice) {
        o.outputs = one.get("holds").cloned().and_then(|h| serde_json::from_value::<OutputKind>(h).ok());
    }
    o
}

/// Compares the local file's sha256 with the one the server announces (KServe model metadata).
fn check_digest(meta: &Value, model: &ServedModel) -> Result<Option<bool>> {
    match meta.pointer("/parameters/sha256").and_then(Value::as_str) {
        Some(s) if s == model.sha256 => Ok(Some(true)),
        Some(s) => bail!(
            "the server serves a different model (sha256 {}…) than `{}` (sha256 {}…): pass the file it serves with {}",
            s.chars().take(12).collect::<String>(),
            model.path.display(),
            &model.sha256[..12],
            Setting::Model
        ),
        None => Ok(None),
    }
}

struct Answer {
    chunk: usize,
    latency_s: f64,
    result: Result<Vec<f32>, String>,
}

#[allow(clippy::too_many_arguments)]
fn run_protocol(
    p: Protocol,
    cfg: &QueryConfig,
    url: &str,
    agent: &ureq::Agent,
    test: &Part,
    idx: &[usize],
    (k, scale): (usize, f32),
    local: &[f32],
    labels: &[usize],
    progress: &dyn Progress,
) -> Result<ProtocolReport> {
    let chunks: Vec<&[usize]> = idx.chunks(cfg.batch).collect();
    let next = AtomicUsize::new(0);
    let answers = Mutex::new(Vec::with_capacity(chunks.len()));
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cfg.concurrency.min(chunks.len()) {
            s.spawn(|| loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                let Some(chunk) = chunks.get(c) else { break };
                let pixels: Vec<u8> = chunk.iter().flat_map(|&i| test.image(i).iter().copied()).collect();
                let t = Instant::now();
                let result = send(p, agent, url, &cfg.name, &pixels, chunk.len(), (k, scale));
                let latency_s = t.elapsed().as_secs_f64();
                progress.advance(chunk.len() as u64);
                answers.lock().unwrap_or_else(|e| e.into_inner()).push(Answer { chunk: c, latency_s, result });
            });
        }
    });
    let seconds = t0.elapsed().as_secs_f64();
    let answers = answers.into_inner().unwrap_or_else(|e| e.into_inner());
    let (mut failed, mut first_error) = (0, None);
    let (mut correct, mut agree, mut answered, mut max_diff) = (0, 0, 0, 0.0f64);
    let mut latencies: Vec<f64> = Vec::with_capacity(answers.len());
    for a in &answers {
        latencies.push(a.latency_s * 1e3);
        let probs = match &a.result {
            Ok(p) => p,
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| e.clone());
                continue;
            }
        };
        let start = a.chunk * cfg.batch;
        let want = &local[start * k..(start + chunks[a.chunk].len()) * k];
        max_diff = max_diff.max(max_abs_diff(probs, want));
        let got = argmax_rows(probs, k);
        let expect = argmax_rows(want, k);
        for (j, (g, e)) in got.iter().zip(&expect).enumerate() {
            answered += 1;
            agree += usize::from(g == e);
            correct += usize::from(*g == labels[start + j]);
        }
    }
    let images = idx.len();
    Ok(ProtocolReport {
        protocol: p,
        requests: chunks.len(),
        images,
        failed_requests: failed,
        first_error,
        accuracy: share(correct, answered),
        agreement: share(agree, images),
        disagreements: images - agree,
        max_abs_diff: max_diff,
        seconds,
        images_per_s: answered as f64 / seconds,
        requests_per_s: chunks.len() as f64 / seconds,
        latency: percentiles(latencies),
    })
}

fn share(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Nearest-rank percentiles of latencies in ms.
pub fn percentiles(mut ms: Vec<f64>) -> Latency {
    if ms.is_empty() {
        return Latency { p50_ms: 0.0, p90_ms: 0.0, p99_ms: 0.0, max_ms: 0.0, mean_ms: 0.0 };
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    Latency {
        p50_ms: at(0.5),
        p90_ms: at(0.9),
        p99_ms: at(0.99),
        max_ms: ms[ms.len() - 1],
        mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
    }
}

/// One request of `n` images over protocol `p`; the answer's probabilities, `n × k`.
fn send(
    p: Protocol,
    agent: &ureq::Agent,
    url: &str,
    name: &str,
    pixels: &[u8],
    n: usize,
    (k, scale): (usize, f32),
) -> Result<Vec<f32>, String> {
    let bytes = InputTensor { shape: vec![n as i64, PIXELS as i64], values: Values::U8(pixels.to_vec()) };
    let (target, content_type, body) = match p {
        Protocol::Graphpipe => {
            (format!("{url}/"), "application/octet-stream", graphpipe::encode_infer_request(&bytes, &[PROBABILITIES]))
        }
        Protocol::Tfserving => {
            (format!("{url}/v1/models/{name}:predict"), "application/json", tfserving::predict_request(pixels, scale))
        }
        Protocol::Kserve => (
            format!("{url}/v2/models/{name}/infer"),
            "application/json",
            kserve::infer_request(&bytes, &[PROBABILITIES]),
        ),
    };
    let mut resp =
        agent.post(&target).header("Content-Type", content_type).send(&body[..]).map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let header_length =
        resp.headers().get(kserve::HEADER_LENGTH).and_then(|v| v.to_str().ok()).and_then(|s| s.parse::<usize>().ok());
    let bytes = read_limited(&mut resp, answer_limit_bytes(n, k), &format!("the answer (HTTP {status})"))?;
    let probs = match p {
        Protocol::Graphpipe => {
            let (outs, errs) = graphpipe::decode_infer_response(&bytes).map_err(|e| format!("HTTP {status}: {e}"))?;
            if let Some(e) = errs.first() {
                return Err(format!("HTTP {status}: {}", e.message));
            }
            outs.into_iter().next().map(|t| t.values).ok_or_else(|| format!("HTTP {status}: no output tensor"))?
        }
        _ if status != 200 => {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)])))
        }
        Protocol::Tfserving => {
            let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("the answer is not JSON: {e}"))?;
            tfserving::read_probabilities(&v, n, k)?
        }
        Protocol::Kserve => kserve::read_output(&bytes, header_length, PROBABILITIES)?.1,
    };
    if probs.len() != n * k {
        return Err(format!("{} probabilities came back for {n} images of {k} classes", probs.len()));
    }
    Ok(probs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_bounded_by_what_they_can_hold() {
        assert_eq!(answer_limit_bytes(0, 10), 64 << 10);
        assert_eq!(answer_limit_bytes(256, 62), 256 * 62 * 64 + (64 << 10));
        assert!(answer_limit_bytes(256, 62) < 2 << 20, "a full batch of byclass: about 1 MB, not 256 MB");
        // A real answer of the largest numbers JSON writes fits with room to spare.
        let row: Vec<f32> = vec![-1.234_567_9e-38; 62];
        let pretty = serde_json::to_vec_pretty(&serde_json::json!({ "predictions": vec![row; 256] })).unwrap();
        assert!((pretty.len() as u64) < answer_limit_bytes(256, 62), "{}", pretty.len());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let l = percentiles((1..=100).map(f64::from).collect());
        assert_eq!((l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(percentiles(vec![3.0]).p99_ms, 3.0);
    }
}
