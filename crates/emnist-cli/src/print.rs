//! What both executables print: the result of training (table or JSON) on stdout; the dataset
//! note, the closing line and errors (with a `hint:` where the fix is known) on stderr.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use emnist_data::progress::Progress;
use emnist_data::source::{describe, Loaded};
pub use emnist_data::text::thousands;

use crate::progress::Terminal;

/// `error: <cause chain>` and, when the fix is known, a `hint:` line.
pub fn print_error(e: &anyhow::Error) {
    print_error_with(e, |_| None)
}

/// [`print_error`] with the caller's own hints tried first (the error types only it knows).
pub fn print_error_with(e: &anyhow::Error, hints: impl Fn(&anyhow::Error) -> Option<String>) {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    // Drop causes whose text is already part of their parent's message.
    let mut parts: Vec<&str> = Vec::new();
    for c in &chain {
        if !parts.last().is_some_and(|p| p.contains(c.as_str())) {
            parts.push(c);
        }
    }
    eprintln!("error: {}", parts.join(": "));
    if let Some(h) = hints(e).or_else(|| hint(e)) {
        eprintln!("hint: {h}");
    }
}

fn hint(e: &anyhow::Error) -> Option<String> {
    for cause in e.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::PermissionDenied {
                return Some("check the file permissions, or choose another path".into());
            }
        }
    }
    None
}

/// Tells the user which dataset is used; loudly when it is the synthetic stand-in.
pub fn announce_dataset(loaded: &Loaded, progress: &Terminal) {
    let ds = &loaded.dataset;
    if ds.is_synthetic() {
        progress.note(&format!(
            "using the {} dataset: no EMNIST file under `data/` (run `emnist download`, or pass `--data`)",
            ds.info.name
        ));
    } else {
        progress.note(&format!("using {} from {}", ds.info.name, describe(&loaded.source)));
    }
}

/// The closing line of a long command: elapsed time and what was done.
pub fn done(progress: &Terminal, t0: Instant, what: &str) {
    progress.note(&format!("{what} in {:.2} s", t0.elapsed().as_secs_f64()));
}

pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A share as a percentage with two decimals.
pub fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

pub fn print_train(r: &emnist_model::record::ModelRecord) {
    let m = &r.metrics;
    println!("model        {} ({} parameters)", r.spec.architecture.name(), thousands(r.parameters));
    println!(
        "dataset      {} ({} train, {} test)",
        r.dataset.name,
        thousands(r.dataset.train_images),
        thousands(r.dataset.test_images)
    );
    println!(
        "training     {} epochs, {} steps, batch {}, Adam lr {}, class weights {}, {} ({} threads), {:.1} s",
        m.epochs_completed,
        thousands(m.steps),
        r.training.batch_size,
        r.training.learning_rate,
        r.training.class_weights,
        r.training.device,
        r.training.threads,
        r.wall_time_s
    );
    println!(
        "test         accuracy {} %, balanced accuracy {} %, loss {:.4} (whole test set)",
        pct(m.test_accuracy),
        pct(m.balanced_accuracy),
        m.test_loss
    );
    let mut worst: Vec<(usize, f64)> = m.per_class_accuracy.iter().copied().enumerate().collect();
    worst.sort_by(|a, b| a.1.total_cmp(&b.1));
    let list: Vec<String> =
        worst.iter().take(5).map(|(i, a)| format!("{} {} %", r.spec.classes.names[*i], pct(*a))).collect();
    println!("hardest      {}", list.join(", "));
    let conf: Vec<String> = m
        .top_confusions
        .iter()
        .take(8)
        .map(|c| format!("{}→{} {} ({} %)", c.truth, c.predicted, c.count, pct(c.rate)))
        .collect();
    println!("confused     {}", conf.join(", "));
    if let Some(f) = &r.fine_tune {
        println!(
            "fine-tuned   from `{}` on {} ({} new and {} rehearsal images per epoch)",
            f.from,
            f.data.name,
            thousands(f.new_images_per_epoch),
            thousands(f.rehearsal_images_per_epoch)
        );
        println!(
            "             {} test accuracy {} % before, {} % after",
            r.dataset.name,
            pct(f.from_test_accuracy),
            pct(m.test_accuracy)
        );
        match &f.new_test {
            Some(t) => println!(
                "             new data's test part ({} images): {} % before, {} % after",
                thousands(t.images),
                pct(t.accuracy_before),
                pct(t.accuracy_after)
            ),
            None => println!("             the new data has no test part"),
        }
    }
}
