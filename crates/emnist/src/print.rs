//! What `emnist` prints beyond what both executables share ([`emnist_cli::print`]): the other
//! commands' result tables on stdout, and the hints only `emnist` can give.

use serde::Serialize;

use emnist_data::deployment::DeploymentReport;
use emnist_data::explore::ExploreReport;
use emnist_download::{DownloadError, DownloadReport};

/// `error:` and the hint for errors only `emnist` knows (a failed download), else the shared ones.
pub fn print_cli_error(e: &anyhow::Error) {
    print_error_with(e, |e| e.chain().find_map(|c| c.downcast_ref::<DownloadError>()).and_then(DownloadError::hint))
}

/// `explore --json`: the report plus the figures written.
#[derive(Serialize)]
pub struct ExploreJson<'a> {
    #[serde(flatten)]
    pub report: &'a ExploreReport,
    pub figures: &'a [std::path::PathBuf],
}

/// `explore --json` on a payload log: the deployment report plus the figures written.
#[derive(Serialize)]
pub struct DeploymentJson<'a> {
    #[serde(flatten)]
    pub report: &'a DeploymentReport,
    pub figures: &'a [std::path::PathBuf],
}

pub use emnist_cli::print::{announce_dataset, done, pct, print_error_with, print_json, thousands};

pub fn print_explore(r: &ExploreReport) {
    let src = r.dataset.path.as_ref().map_or_else(|| "generated".to_string(), |p| format!("`{}`", p.display()));
    println!("dataset      {}{}", r.dataset.name, if r.synthetic { "  [SYNTHETIC: not EMNIST]" } else { "" });
    println!("source       {src} ({:?})", r.dataset.format);
    println!(
        "images       {} train + {} test = {}; test/train {:.3} (test {} % of all); {}×{} grey",
        thousands(r.train_images),
        thousands(r.test_images),
        thousands(r.train_images + r.test_images),
        r.test_train_ratio,
        pct(r.test_fraction),
        r.image_width,
        r.image_height
    );
    let groups: Vec<String> = r.groups.iter().map(|g| format!("{:?} {}", g.group, g.classes).to_lowercase()).collect();
    println!("classes      {} ({})", r.classes, groups.join(", "));
    match r.writers {
        Some(w) => println!("writers      {}", thousands(w)),
        None => println!("writers      not recorded in this format"),
    }
    println!(
        "pixels       mean {:.4}, std {:.4} (scaled to [0, 1]); ink on {} % of pixels",
        r.pixel_mean,
        r.pixel_std,
        pct(r.ink_fraction)
    );
    let list = |v: &[emnist_data::explore::ClassCount]| {
        v.iter().map(|c| format!("{} {} %", c.name, pct(c.train_share))).collect::<Vec<_>>().join(", ")
    };
    println!("most         {}", list(&r.most_frequent));
    println!("least        {}", list(&r.least_frequent));
    println!("imbalance    {:.2} (largest / smallest train class)", r.imbalance_ratio);
    println!(
        "train~test   max share difference {:.3} pp (class {}); total variation distance {:.4}",
        r.share_agreement.max_diff_pp, r.share_agreement.max_diff_class, r.share_agreement.total_variation
    );
    println!();
    println!("{:<10} {:>7} {:>10} {:>9} {:>8} {:>7}", "group", "classes", "train", "test", "train %", "test %");
    for g in &r.groups {
        println!(
            "{:<10} {:>7} {:>10} {:>9} {:>8} {:>7}",
            format!("{:?}", g.group).to_lowercase(),
            g.classes,
            thousands(g.train),
            thousands(g.test),
            pct(g.train_share),
            pct(g.test_share)
        );
    }
    println!();
    println!("{:<6} {:<10} {:>9} {:>8} {:>8} {:>7}", "class", "group", "train", "test", "train %", "test %");
    for c in &r.per_class {
        println!(
            "{:<6} {:<10} {:>9} {:>8} {:>8} {:>7}",
            c.name,
            format!("{:?}", c.group).to_lowercase(),
            thousands(c.train),
            thousands(c.test),
            pct(c.train_share),
            pct(c.test_share)
        );
    }
}

/// A span of milliseconds in the largest unit that keeps it readable.
fn span(ms: u64) -> String {
    let s = ms as f64 / 1000.0;
    match s {
        s if s < 120.0 => format!("{s:.1} s"),
        s if s < 7200.0 => format!("{:.1} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}

pub fn print_deployment(r: &DeploymentReport) {
    let opt_pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |a| format!("{} %", pct(a)));
    let over = match (r.first_time_ms, r.last_time_ms) {
        (Some(a), Some(b)) => format!(", logged over {}", span(b - a)),
        _ => String::new(),
    };
    println!(
        "payload log  `{}`: {} segment{}, {} bytes{over}",
        r.log.display(),
        r.segments,
        if r.segments == 1 { "" } else { "s" },
        thousands(r.bytes as usize)
    );
    let protocols: Vec<String> =
        r.protocols.iter().map(|p| format!("{} {}", p.protocol, thousands(p.images))).collect();
    println!(
        "images       {} in {} requests ({})",
        thousands(r.images),
        thousands(r.requests),
        if protocols.is_empty() { "none".to_string() } else { protocols.join(", ") }
    );
    for m in &r.models {
        println!(
            "model        `{}` version {}: {} images, {} labelled, accuracy {}",
            m.model,
            m.version,
            thousands(m.images),
            thousands(m.labelled),
            opt_pct(m.accuracy)
        );
    }
    let rf = &r.reference;
    println!(
        "reference    {} ({} train images, {} classes){}",
        rf.dataset.name,
        thousands(rf.train_images),
        rf.classes,
        if rf.synthetic { "  [SYNTHETIC: not EMNIST]" } else { "" }
    );
    let l = &r.labelled;
    println!(
        "labelled     {} of {} images ({} %); the served model's accuracy on them {} ({} right)",
        thousands(l.images),
        thousands(r.images),
        pct(l.share),
        opt_pct(l.accuracy),
        thousands(l.correct)
    );
    println!(
        "feedback     {} records, {} naming no logged image",
        thousands(l.feedback),
        thousands(l.unmatched_feedback)
    );
    if let Some(m) = r.confidence.mean {
        println!("confidence   mean top-1 probability {m:.3}");
    }
    let ink = &r.ink;
    println!(
        "ink          mean per image {:.4} ± {:.4}; reference {:.4} ± {:.4} (pixels scaled to [0, 1])",
        ink.log_mean, ink.log_std, ink.reference_mean, ink.reference_std
    );
    match (r.drift.class_psi, r.drift.class_psi_reading) {
        (Some(p), Some(reading)) => {
            println!("drift        predicted classes vs reference shares: PSI {p:.4}, {}", reading.describe())
        }
        _ => println!("drift        predicted classes: no image logged"),
    }
    if let Some(t) = r.drift.ink_ks {
        println!(
            "             mean ink vs reference: Kolmogorov-Smirnov D {:.4}, p {:.3e} ({} vs {} images)",
            t.statistic,
            t.p_value,
            thousands(t.n),
            thousands(t.m)
        );
    }
    for t in &r.torn {
        println!(
            "torn         `{}` at offset {}: {} bytes skipped ({}{})",
            t.file.display(),
            t.offset,
            thousands(t.bytes as usize),
            t.reason,
            if t.open { "; open segment" } else { "" }
        );
    }
    println!();
    println!("{:<11} {:>9} {:>8} {:>9} {:>9}", "top-1 prob", "images", "share %", "labelled", "accuracy");
    for b in &r.confidence.bins {
        let acc = if b.labelled > 0 { format!("{} %", pct(b.correct as f64 / b.labelled as f64)) } else { "-".into() };
        println!(
            "{:<11} {:>9} {:>8} {:>9} {:>9}",
            format!("{:.1}-{:.1}", b.low, b.high),
            thousands(b.images),
            pct(b.share),
            thousands(b.labelled),
            acc
        );
    }
    println!();
    println!("{:<8} {:>11} {:>10} {:>12} {:>9}", "class", "reference %", "predicted", "predicted %", "labelled");
    for c in &r.classes {
        let reference = if c.in_reference { pct(c.reference_share) } else { "absent".into() };
        println!(
            "{:<8} {:>11} {:>10} {:>12} {:>9}",
            c.name,
            reference,
            thousands(c.predicted),
            pct(c.predicted_share),
            thousands(c.labelled)
        );
    }
}

pub fn print_download(r: &DownloadReport) {
    println!("archive      `{}`", r.archive.display());
    if r.resumed_from > 0 {
        println!("resumed      from byte {}", thousands(r.resumed_from as usize));
    }
    println!("downloaded   {} bytes", thousands(r.bytes_downloaded as usize));
    println!("digest       {} ({})", r.digest, if r.digest_verified { "verified" } else { "not verified" });
    for p in &r.extracted {
        println!("extracted    `{}`", p.display());
    }
    println!("use          --data {}", r.data_path.display());
}

pub fn print_compare(r: &emnist_report::compare::CompareReport) {
    println!(
        "{:<24} {:<7} {:>10} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "run", "model", "params", "epochs", "test acc", "balanced", "best 5%", "loss", "time s"
    );
    for s in &r.runs {
        println!(
            "{:<24} {:<7} {:>10} {:>6} {:>8}% {:>8}% {:>8}% {:>8.4} {:>8.1}",
            s.run.display().to_string(),
            s.model,
            thousands(s.parameters),
            s.epochs,
            pct(s.test_accuracy),
            pct(s.balanced_accuracy),
            pct(s.best_sample_accuracy),
            s.test_loss,
            s.wall_time_s
        );
    }
}

pub fn print_export(r: &emnist_model::export::ExportReport) {
    let p = &r.parity;
    let state = if r.written { "written" } else { "NOT written (parity check failed)" };
    println!(
        "model        {} ({} parameters, {} classes) from `{}`",
        r.architecture,
        thousands(r.parameters),
        r.classes,
        r.model_dir.display()
    );
    println!(
        "onnx         `{}` {state}: {} bytes, opset {}, IR {}, sha256 {}",
        r.onnx.display(),
        thousands(r.bytes),
        r.opset,
        r.ir_version,
        r.sha256
    );
    println!("graph        image [N,1,28,28] → {} → logits, probabilities [N,{}]", r.ops.join(" → "), r.classes);
    if r.written {
        println!("graphpipe    `{}`", r.value_inputs.display());
    }
    let same = if r.same_dataset { "the training dataset" } else { "NOT the training dataset" };
    println!(
        "checked on   {} test images of {} ({same}), tract in batches of {}",
        thousands(p.images),
        r.dataset,
        p.batch_size
    );
    println!(
        "parity       max |Δ probability| {:.2e} (tolerance {:.0e}), max |Δ logit| {:.2e}, argmax agreement {} % ({} disagreements): {}",
        p.max_abs_diff_probabilities,
        p.tolerance,
        p.max_abs_diff_logits,
        pct(p.argmax_agreement),
        p.argmax_disagreements,
        if p.passed { "PASS" } else { "FAIL" }
    );
    println!(
        "accuracy     {} % on these images (model.json: {} % on the whole test set)",
        pct(p.accuracy),
        pct(r.recorded_test_accuracy)
    );
    println!("time         build {:.0} ms, tract {:.0} ms, reference {:.0} ms", r.build_ms, p.tract_ms, p.reference_ms);
}

pub fn print_query(r: &emnist_serve::query::QueryReport) {
    let digest = match r.server_sha256_matches {
        Some(true) => "the server announces the same sha256",
        Some(false) => "the server announces ANOTHER sha256",
        None => "the server announces no sha256",
    };
    println!("server       {} serving `{}` ({digest})", r.url, r.model.display());
    println!(
        "sent         {} test images per protocol, {} per request, {} requests in flight; local tract accuracy {} %",
        thousands(r.images),
        r.batch,
        r.concurrency,
        pct(r.local_accuracy)
    );
    println!();
    println!(
        "{:<10} {:>9} {:>7} {:>10} {:>10} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "protocol",
        "requests",
        "failed",
        "accuracy",
        "agreement",
        "max|Δp|",
        "images/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms"
    );
    for p in &r.protocols {
        let l = &p.latency;
        println!(
            "{:<10} {:>9} {:>7} {:>9} % {:>8} % {:>9.1e} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            p.protocol.as_str(),
            p.requests,
            p.failed_requests,
            pct(p.accuracy),
            pct(p.agreement),
            p.max_abs_diff,
            p.images_per_s,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.max_ms
        );
        if let Some(e) = &p.first_error {
            println!("{:<10} first error: {e}", "");
        }
    }
    println!();
    println!(
        "verdict      {}",
        if r.passed { "PASS: every answer agrees with local inference of the same file" } else { "FAIL" }
    );
}
