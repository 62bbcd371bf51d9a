//! Our side of the load benchmark: decode an EMNIST .mat file into upright row-major images
//! (what `emnist` does on a cold load), then load it again through the cache.
//!
//!     cargo run --release --no-default-features --example load_bench -- PATH CACHE_DIR
//!     cargo run --release --no-default-features --example load_bench -- PATH --cold-only
//!
//! `--cold-only` stops after the cold decode, so `/usr/bin/time` sees that step's peak memory.
//! Prints one JSON line with the timings and md5s of the decoded bytes (computed after the
//! timers stop), comparable with `bench/load_scipy.py`'s.

use std::time::Instant;

use emnist_data::progress::Silent;
use emnist_data::source::{load, LoadConfig};
use md5::{Digest, Md5};

fn hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "bench/out/emnist-byclass-bench.mat".into());
    let cache_dir = args.next().unwrap_or_else(|| "bench/out/cache".into());
    if cache_dir != "--cold-only" {
        let _ = std::fs::remove_dir_all(&cache_dir);
    }
    let cold_cfg = LoadConfig { data: Some(path.clone().into()), cache: false, ..LoadConfig::default() };
    let t0 = Instant::now();
    let cold = load(&cold_cfg, &Silent)?;
    let cold_s = t0.elapsed().as_secs_f64();
    let ds = &cold.dataset;
    let md5s = [hex(&ds.train.images), hex(&ds.test.images), hex(&ds.train.labels), hex(&ds.test.labels)];
    let (n_train, n_test) = (ds.train.len(), ds.test.len());
    drop(cold);
    if cache_dir == "--cold-only" {
        println!("{}", serde_json::json!({"seconds": (cold_s * 1000.0).round() / 1000.0, "train_images_md5": md5s[0]}));
        return Ok(());
    }

    // Populate the cache (decode + write), then time a load that the cache serves.
    let cached_cfg = LoadConfig { cache: true, cache_dir: Some(cache_dir.clone().into()), ..cold_cfg };
    let t1 = Instant::now();
    load(&cached_cfg, &Silent)?;
    let store_s = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let warm = load(&cached_cfg, &Silent)?;
    let warm_s = t2.elapsed().as_secs_f64();
    assert!(warm.from_cache, "the second load must come from the cache");
    // Touch every byte so the figure includes reading the mapped pages, as training would.
    let t3 = Instant::now();
    let sum: u64 = warm.dataset.train.images.iter().map(|&b| b as u64).sum();
    let touch_s = t3.elapsed().as_secs_f64();
    std::hint::black_box(sum);
    let same = hex(&warm.dataset.train.images) == md5s[0];
    println!(
        "{}",
        serde_json::json!({
            "seconds": (cold_s * 1000.0).round() / 1000.0,
            "train": n_train, "test": n_test,
            "train_images_md5": md5s[0], "test_images_md5": md5s[1],
            "train_labels_md5": md5s[2], "test_labels_md5": md5s[3],
            "decode_and_store_cache_seconds": (store_s * 1000.0).round() / 1000.0,
            "cached_load_seconds": (warm_s * 10000.0).round() / 10000.0,
            "cached_touch_all_train_bytes_seconds": (touch_s * 1000.0).round() / 1000.0,
            "cached_identical": same,
        })
    );
    Ok(())
}
