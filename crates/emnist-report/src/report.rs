//! `emnist report`: the seed's notebooks as one self-contained HTML page, built from what the other
//! commands wrote — dataset statistics and figures, every trained run's curves, confusion matrix
//! and metrics, the export parity checks and the latest deployment check — with images inlined.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use emnist_data::explore::ExploreReport;
use emnist_data::Dataset;
use emnist_model::artifacts::ModelsFolder;

/// What to gather and where the page goes.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// The folder of run directories, `.onnx` files and their reports (`models/`).
    pub models: PathBuf,
    /// The HTML file to write.
    pub out: PathBuf,
}

/// What the page holds.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    pub out: PathBuf,
    pub bytes: usize,
    /// Section ids, in page order.
    pub sections: Vec<String>,
    pub runs: Vec<String>,
    pub exports: Vec<String>,
    pub queries: Vec<String>,
    /// Files in the folder that look like reports or runs but could not be read, with why.
    pub unreadable: Vec<String>,
}

/// Section ids every page has.
pub const SECTIONS: [&str; 5] = ["dataset", "models", "comparison", "export", "deployment"];

/// Builds and writes the page.
pub fn report(cfg: &ReportConfig, dataset: &Dataset, explore: &ExploreReport) -> Result<ReportSummary> {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ours = [name(&cfg.out), name(&cfg.out.with_extension("figures"))];
    emnist_data::fsutil::remove_stale_temps(emnist_data::fsutil::parent_dir(&cfg.out), |n| ours.iter().any(|o| o == n));
    let found = emnist_model::artifacts::scan(&cfg.models);
    let scratch = tempfile_dir(&cfg.out)?;
    let result = build(cfg, dataset, explore, &found, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let (html, summary) = result?;
    emnist_data::fsutil::write_atomic(&cfg.out, html.as_bytes())
        .with_context(|| format!("cannot write `{}`", cfg.out.display()))?;
    Ok(summary)
}

/// A scratch folder for the figures, beside the page under a temporary name
/// (`.<stem>.figures.<pid>.tmp`), so a killed run's leftovers are found and removed by the next.
fn tempfile_dir(out: &Path) -> Result<PathBuf> {
    let dir = emnist_data::fsutil::temp_path(&out.with_extension("figures"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    Ok(dir)
}

fn build(
    cfg: &ReportConfig,
    ds: &Dataset,
    ex: &ExploreReport,
    found: &ModelsFolder,
    scratch: &Path,
) -> Result<(String, ReportSummary)> {
    let runs = &found.runs;
    let mut h = String::with_capacity(1 << 20);
    h.push_str(HEAD);
    let _ = writeln!(
        h,
        "<header><h1>emnist report</h1><p class=\"sub\">{} · {} runs · written by emnist {} · the seed's notebooks, from the artifacts in <code>{}</code></p></header>",
        esc(&ex.dataset.name),
        runs.len(),
        env!("CARGO_PKG_VERSION"),
        esc(&cfg.models.display().to_string())
    );
    h.push_str("<nav>");
    for (id, title) in SECTIONS.iter().zip(TITLES) {
        let _ = write!(h, "<a href=\"#{id}\">{title}</a>");
    }
    h.push_str("</nav>\n<main>\n");
    if !found.unreadable.is_empty() {
        h.push_str("<p class=\"bad\">Left out, unreadable:</p><ul>");
        for (path, why) in &found.unreadable {
            let _ = write!(h, "<li><code>{}</code>: {}</li>", esc(&path.display().to_string()), esc(why));
        }
        h.push_str("</ul>\n");
    }

    // 1. Dataset.
    section(&mut h, "dataset", 1, "emnist explore --out models/explore");
    let _ = writeln!(
        h,
        "<table class=\"kv\"><tr><th>dataset</th><td>{}</td></tr><tr><th>images</th><td>{} train + {} test = {} ({:.1} % test)</td></tr>\
         <tr><th>classes</th><td>{}</td></tr><tr><th>imbalance</th><td>the most frequent class has {:.1}× the images of the least</td></tr>\
         <tr><th>train vs test</th><td>class shares differ by at most {:.2} points ({})</td></tr>\
         <tr><th>pixels</th><td>mean {:.3}, std {:.3} (of 1.0), {:.1} % ink</td></tr></table>",
        esc(&ex.dataset.name),
        crate::plot::thousands(ex.train_images),
        crate::plot::thousands(ex.test_images),
        crate::plot::thousands(ex.train_images + ex.test_images),
        100.0 * ex.test_fraction,
        ex.classes,
        ex.imbalance_ratio,
        ex.share_agreement.max_diff_pp,
        esc(&ex.share_agreement.max_diff_class),
        ex.pixel_mean,
        ex.pixel_std,
        100.0 * ex.ink_fraction
    );
    h.push_str("<table><tr><th>group</th><th>classes</th><th>train</th><th>test</th><th>share of train</th></tr>");
    for g in &ex.groups {
        let _ = write!(
            h,
            "<tr><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} %</td></tr>",
            g.group,
            g.classes,
            crate::plot::thousands(g.train),
            crate::plot::thousands(g.test),
            100.0 * g.train_share
        );
    }
    h.push_str("</table>\n");
    let figures = crate::plot::explore_figures(ds, ex, &scratch.join("explore"))?;
    h.push_str("<div class=\"figs\">");
    for f in &figures {
        figure(&mut h, f, &f.file_stem().unwrap_or_default().to_string_lossy().replace('_', " "))?;
    }
    h.push_str("</div></section>\n");

    // 2. Models.
    section(&mut h, "models", 2, "emnist train --model linear|dnn|cnn");
    if runs.is_empty() {
        h.push_str("<p class=\"empty\">No trained runs in this folder yet: run <code>emnist train</code>.</p>");
    } else {
        h.push_str("<table><tr><th>run</th><th>architecture</th><th>parameters</th><th>epochs</th><th>test accuracy</th><th>balanced accuracy</th><th>training time</th><th>dataset</th></tr>");
        for (run, r) in runs {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><b>{:.2} %</b></td><td>{:.2} %</td><td>{:.1} s</td><td>{}</td></tr>",
                esc(&run.name()),
                r.spec.architecture.name(),
                crate::plot::thousands(r.parameters),
                r.metrics.epochs_completed,
                100.0 * r.metrics.test_accuracy,
                100.0 * r.metrics.balanced_accuracy,
                r.wall_time_s,
                esc(&r.dataset.name)
            );
        }
        h.push_str("</table>\n");
        for (run, r) in runs {
            let _ = write!(
                h,
                "<h3>{} <span class=\"sub\">{}</span></h3><div class=\"figs\">",
                esc(&run.name()),
                r.spec.architecture.name()
            );
            for (png, caption) in run.figures() {
                figure(&mut h, &png, caption)?;
            }
            h.push_str("</div>");
            if !r.metrics.top_confusions.is_empty() {
                h.push_str("<p class=\"sub\">most confused: ");
                let parts: Vec<String> = r
                    .metrics
                    .top_confusions
                    .iter()
                    .take(5)
                    .map(|c| {
                        esc(&format!("{} → {} ({} images, {:.1} %)", c.truth, c.predicted, c.count, 100.0 * c.rate))
                    })
                    .collect();
                h.push_str(&parts.join(" · "));
                h.push_str("</p>");
            }
        }
    }
    h.push_str("</section>\n");

    // 3. Comparison.
    section(&mut h, "comparison", 3, "emnist compare models/linear models/dnn models/cnn");
    if runs.len() >= 2 {
        let dirs: Vec<PathBuf> = runs.iter().map(|r| r.0.path().to_path_buf()).collect();
        let png = scratch.join("compare.png");
        crate::compare::compare(&dirs, &png)?;
        h.push_str("<div class=\"figs\">");
        figure(&mut h, &png, "test accuracy of every run as training goes")?;
        h.push_str("</div>");
    } else {
        h.push_str("<p class=\"empty\">Fewer than two runs: nothing to compare yet.</p>");
    }
    h.push_str("</section>\n");

    // 4. Export.
    section(&mut h, "export", 4, "emnist export --onnx --model models/dnn");
    let exports = &found.exports;
    if exports.is_empty() {
        h.push_str("<p class=\"empty\">No export reports yet: run <code>emnist export --onnx</code>.</p>");
    } else {
        h.push_str("<table><tr><th>file</th><th>architecture</th><th>opset</th><th>bytes</th><th>checked on</th><th>max |Δp| tract vs weights</th><th>argmax agreement</th><th>verdict</th><th>sha256</th></tr>");
        for (_, v) in exports {
            let p = &v.parity;
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} images</td><td>{:.2e}</td><td>{:.2} %</td><td>{}</td><td><code>{}…</code></td></tr>",
                esc(&v.onnx.display().to_string()),
                esc(&v.architecture),
                v.opset,
                v.bytes,
                p.images,
                p.max_abs_diff_probabilities,
                100.0 * p.argmax_agreement,
                verdict(p.passed),
                esc(&v.sha256.chars().take(16).collect::<String>())
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</section>\n");

    // 5. Deployment.
    section(&mut h, "deployment", 5, "emnist serve & emnist query --protocol all");
    let queries = &found.queries;
    if queries.is_empty() {
        h.push_str("<p class=\"empty\">No deployment check yet: run <code>emnist serve</code>, then <code>emnist query</code>.</p>");
    }
    for (stem, v) in queries {
        let _ = write!(
            h,
            "<h3>{} <span class=\"sub\">served at {}, {} images per protocol, {} per request, {} in flight; verdict {}</span></h3>",
            esc(stem),
            esc(&v.url),
            v.images,
            v.batch,
            v.concurrency,
            verdict(v.passed)
        );
        h.push_str("<table><tr><th>protocol</th><th>requests</th><th>failed</th><th>accuracy</th><th>agreement with local tract</th><th>images/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th></tr>");
        for p in &v.protocols {
            let l = &p.latency;
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2} %</td><td>{:.2} %</td><td>{:.0}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
                p.protocol.as_str(),
                p.requests,
                p.failed_requests,
                100.0 * p.accuracy,
                100.0 * p.agreement,
                p.images_per_s,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.max_ms
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</section>\n</main></body></html>\n");
    let summary = ReportSummary {
        out: cfg.out.clone(),
        bytes: h.len(),
        sections: SECTIONS.iter().map(|s| s.to_string()).collect(),
        runs: runs.iter().map(|r| r.0.name()).collect(),
        exports: exports.iter().map(|e| e.0.clone()).collect(),
        queries: queries.iter().map(|q| q.0.clone()).collect(),
        unreadable: found.unreadable.iter().map(|(p, why)| format!("{}: {why}", p.display())).collect(),
    };
    Ok((h, summary))
}

fn verdict(passed: bool) -> &'static str {
    if passed {
        "<span class=\"ok\">PASS</span>"
    } else {
        "<span class=\"bad\">FAIL</span>"
    }
}

const TITLES: [&str; 5] = ["1 · Dataset", "2 · Models", "3 · Comparison", "4 · Export to ONNX", "5 · Deployment check"];

fn section(h: &mut String, id: &str, n: usize, command: &str) {
    let _ = writeln!(
        h,
        "<section id=\"{id}\"><h2>{}</h2><pre class=\"cell\"><span>In [{n}]:</span> {}</pre>",
        TITLES[n - 1],
        esc(command)
    );
}

/// An inlined PNG with its caption.
fn figure(h: &mut String, png: &Path, caption: &str) -> Result<()> {
    let bytes = std::fs::read(png).with_context(|| format!("cannot read `{}`", png.display()))?;
    let _ = write!(
        h,
        "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>",
        esc(caption),
        base64(&bytes),
        esc(caption)
    );
    Ok(())
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

const HEAD: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>emnist report</title>
<style>
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2433; background: #f6f7f9; }
header, nav, main { max-width: 1100px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; } h1 { margin: 0; font-size: 1.6rem; }
.sub { color: #6b7280; font-size: .9rem; font-weight: normal; }
nav { display: flex; gap: 14px; flex-wrap: wrap; padding-top: 8px; padding-bottom: 8px; position: sticky; top: 0; background: #f6f7f9; border-bottom: 1px solid #e3e6eb; z-index: 1; }
nav a { color: #2563eb; text-decoration: none; font-size: .92rem; }
section { overflow-x: hidden; scroll-margin-top: 44px; background: #fff; border: 1px solid #e3e6eb; border-radius: 10px; padding: 4px 22px 18px; margin: 18px 0; }
h2 { font-size: 1.2rem; } h3 { font-size: 1rem; margin: 20px 0 6px; }
pre.cell { background: #f3f4f6; border-left: 3px solid #2563eb; padding: 8px 12px; font-size: .86rem; overflow-x: auto; }
pre.cell span { color: #2563eb; }
table { border-collapse: collapse; margin: 10px 0; font-size: .88rem; font-variant-numeric: tabular-nums; display: block; max-width: 100%; overflow-x: auto; }
th, td { border-bottom: 1px solid #eceef2; padding: 4px 10px; text-align: left; }
th { color: #4b5563; font-weight: 600; } table.kv th { width: 9em; }
.figs { display: flex; flex-wrap: wrap; gap: 14px; }
figure { margin: 0; flex: 1 1 320px; max-width: 100%; }
figure img { width: 100%; height: auto; border: 1px solid #eceef2; border-radius: 6px; }
figcaption { color: #6b7280; font-size: .82rem; }
.ok { color: #047857; font-weight: 600; } .bad { color: #b91c1c; font-weight: 600; } .empty { color: #6b7280; }
code { font-size: .85em; }
</style></head><body>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
