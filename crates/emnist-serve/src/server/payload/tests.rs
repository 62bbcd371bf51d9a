//! The log's queue, index and feedback checks without a model or a socket.

use std::sync::Arc;

use axum::http::StatusCode;

use super::*;
use crate::server::ApiError;
use emnist_data::payload_log::read_dir;

fn model() -> Arc<ModelInfo> {
    Arc::new(ModelInfo { name: "emnist".into(), version: 3, classes: ["0", "1", "2", "3"].map(String::from).to_vec() })
}

/// `n` images whose likeliest classes are 2, then 1, then 3.
fn outputs(n: usize) -> Outputs {
    let row = [0.05f32, 0.25, 0.6, 0.1];
    Outputs { n, classes: 4, logits: vec![0.0; 4 * n], probabilities: row.repeat(n) }
}

fn config(dir: &std::path::Path, queue: usize) -> PayloadConfig {
    PayloadConfig { queue, ..PayloadConfig::new(dir.to_path_buf()) }
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let log = PayloadLog::open(&config(dir.path(), 4)).unwrap();
    let release = log.hold_writer();
    // The writer is held: four entries fill the queue, the next three find it full. Each call
    // returns at once (a call that waited would never return while the writer is held).
    for i in 0..7u8 {
        log.record(&format!("r{i}"), PREDICT, &model(), &[i; PIXELS], &outputs(1));
    }
    assert_eq!(log.stats().dropped(Dropped::QueueFull), 3);
    drop(release);
    log.close();
    assert_eq!((log.stats().predictions(), log.stats().dropped(Dropped::QueueFull)), (4, 3));
    let mut metrics = String::new();
    log.render_metrics(&mut metrics);
    assert!(metrics.contains("emnist_payload_log_dropped_total{reason=\"queue_full\"} 3"), "{metrics}");
    assert!(metrics.contains("emnist_payload_log_entries_total{kind=\"prediction\"} 4"), "{metrics}");
    let read = read_dir(dir.path()).unwrap();
    assert!(read.torn.is_empty(), "{:?}", read.torn);
    let ids: Vec<&str> = read.predictions.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["r0", "r1", "r2", "r3"]);
    let p = &read.predictions[1];
    assert_eq!((p.model.as_str(), p.version, p.protocol.as_str(), p.class.as_str()), ("emnist", 3, "predict", "2"));
    assert_eq!(p.top, [("2".to_string(), 0.6), ("1".to_string(), 0.25), ("3".to_string(), 0.1)]);
    assert_eq!(p.pixels, [1; PIXELS]);
    // Only queued requests are remembered for feedback.
    assert_eq!(log.feedback("r5", 0, "1").unwrap_err().status, StatusCode::NOT_FOUND);
    // After the clean stop, entries are dropped as `stopped`.
    log.record("late", PREDICT, &model(), &[0; PIXELS], &outputs(1));
    assert_eq!(log.stats().dropped(Dropped::Stopped), 1);
}

#[test]
fn feedback_is_checked_against_the_logged_request() {
    let dir = tempfile::tempdir().unwrap();
    let log = PayloadLog::open(&config(dir.path(), 64)).unwrap();
    let mut pixels = vec![7u8; PIXELS];
    pixels.extend([9u8; PIXELS]);
    log.record("two", "kserve", &model(), &pixels, &outputs(2));
    let err = |r: Result<feedback::Recorded, ApiError>| {
        let e = r.unwrap_err();
        (e.status, e.message)
    };
    let (status, message) = err(log.feedback("nope", 0, "1"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message.contains("`nope`") && message.contains("last 100000"), "{message}");
    let (status, message) = err(log.feedback("two", 2, "1"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("2 images") && message.contains("below 2"), "{message}");
    let (status, message) = err(log.feedback("two", 0, "7"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message.contains("`7` is not a class of model `emnist` version 3") && message.contains("0, 1, 2, 3"),
        "{message}"
    );
    assert_eq!(log.feedback("two", 1, "2").unwrap(), feedback::Recorded { predicted: "2".into(), correction: false });
    assert_eq!(log.feedback("two", 0, "3").unwrap(), feedback::Recorded { predicted: "2".into(), correction: true });
    assert_eq!(log.feedback_counts(), (1, 1));
    log.close();
    assert_eq!(log.stats().feedback(), 2);
    let read = read_dir(dir.path()).unwrap();
    let labelled: Vec<(u32, &str, u8)> =
        read.labelled().iter().map(|l| (l.prediction.index, l.label, l.prediction.pixels[0])).collect();
    assert_eq!(labelled, [(0, "3", 7), (1, "2", 9)]);
}

#[test]
fn ids_that_cannot_be_logged_are_counted_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = PayloadLog::open(&config(dir.path(), 64)).unwrap();
    log.record(&"x".repeat(MAX_ID_BYTES + 1), "grpc", &model(), &[0; 2 * PIXELS], &outputs(2));
    log.record("", "grpc", &model(), &[0; PIXELS], &outputs(1));
    log.close();
    assert_eq!((log.stats().dropped(Dropped::TooLarge), log.stats().predictions()), (3, 0));
    assert!(read_dir(dir.path()).unwrap().predictions.is_empty());
}

#[test]
fn sampling_takes_about_the_share_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let all = PayloadLog::open(&config(dir.path(), 4)).unwrap();
    assert!((0..1000).all(|_| all.sampled()));
    drop(all);
    let quarter = PayloadLog::open(&PayloadConfig { sample: 0.25, ..config(dir.path(), 4) }).unwrap();
    let taken = (0..20_000).filter(|_| quarter.sampled()).count();
    // 5,000 expected; the standard deviation is about 61.
    assert!((4_500..=5_500).contains(&taken), "{taken}");
}

#[test]
fn the_top_three_are_the_likeliest_first() {
    assert_eq!(top_three(&[0.1, 0.4, 0.2, 0.3]).as_slice(), [1, 3, 2]);
    assert_eq!(top_three(&[0.5, 0.5, 0.0, 0.5]).as_slice(), [0, 1, 3], "ties: the lower index first");
    assert_eq!(top_three(&[0.3, 0.7]).as_slice(), [1, 0]);
    assert_eq!(top_three(&[]).as_slice(), [0usize; 0]);
    // Against a sort in `total_cmp`'s order (stable: the lower index first on ties), with
    // negatives, zeros of both signs, infinities and NaN among the values.
    let pool = [0.5f32, 0.25, 0.0, -0.0, -1.5, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0.25, 1e-30];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for len in 0..40 {
        for _ in 0..50 {
            let row: Vec<f32> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    pool[(x % pool.len() as u64) as usize]
                })
                .collect();
            let mut order: Vec<usize> = (0..len).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            order.truncate(3);
            assert_eq!(top_three(&row).as_slice(), order, "{row:?}");
        }
    }
}
