//! The `emnist` binary: parse the command line, turn it into plain settings, call the library,
//! print the report (stdout) or the error chain (stderr).

mod cli;
mod print;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Command};
use emnist::progress::{Style, Terminal};

fn main() -> ExitCode {
    let matches = Cli::command().long_version(&*Box::leak(long_version().into_boxed_str())).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let progress = Terminal::new(Style::detect(cli.quiet));
    match run(cli.command, &progress) {
        Ok(Exit::Ok) => ExitCode::SUCCESS,
        Ok(Exit::Interrupted) => ExitCode::from(INTERRUPTED),
        Err(e) => {
            print::print_error(&e);
            ExitCode::from(1)
        }
    }
}

fn long_version() -> String {
    let mut v = format!("{}\nfeatures: ", env!("CARGO_PKG_VERSION"));
    if cfg!(feature = "train") {
        v.push_str("train (libtorch)");
        #[cfg(feature = "train")]
        v.push_str(&format!("\n{}", emnist::train::libtorch_summary()));
    } else {
        v.push_str("none (built without libtorch: explore, export, serve and query only)");
    }
    v
}

/// Exit status after SIGINT/SIGTERM stopped a command cleanly.
const INTERRUPTED: u8 = 130;

/// Outcome of a command that may be interrupted (only training can be, so far).
#[cfg_attr(not(feature = "train"), allow(dead_code))]
enum Exit {
    Ok,
    Interrupted,
}

#[cfg(feature = "train")]
fn train(args: cli::TrainArgs, progress: &Terminal, t0: Instant) -> Result<Exit> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let cfg = args.to_config()?;
    // Before the data: a second run into the same `--out` fails at once.
    let run_dir = emnist::train::open_run_dir(&cfg)?;
    let loaded = emnist::data::source::load(&args.data.to_config(), progress)?;
    print::announce_dataset(&loaded, progress);
    // First signal: finish the step, checkpoint, exit 130. Second: exit at once.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(INTERRUPTED as i32);
        }
    })?;
    match emnist::train::train_in(&cfg, run_dir, &loaded.dataset, progress, &stop)? {
        emnist::train::TrainOutcome::Finished(r) => {
            if args.json {
                print::print_json(&r.record)?;
            } else {
                print::print_train(&r.record);
            }
            print::done(
                progress,
                t0,
                &format!(
                    "trained {} to {:.2} % test accuracy; artifacts in `{}`",
                    r.record.spec.architecture.name(),
                    100.0 * r.record.metrics.test_accuracy,
                    cfg.out.display()
                ),
            );
            Ok(Exit::Ok)
        }
        emnist::train::TrainOutcome::Interrupted { checkpoint, epoch, step } => {
            eprintln!(
                "interrupted in epoch {} after step {step}; checkpoint `{}`; continue with the same command plus `--resume`",
                epoch + 1,
                checkpoint.display()
            );
            Ok(Exit::Interrupted)
        }
    }
}

#[cfg(not(feature = "train"))]
fn train(_args: cli::TrainArgs, _progress: &Terminal, _t0: Instant) -> Result<Exit> {
    anyhow::bail!("this emnist was built without libtorch, so it cannot train; rebuild with the default features (`cargo build --release`)")
}

fn run(command: Command, progress: &Terminal) -> Result<Exit> {
    let t0 = Instant::now();
    match command {
        Command::Explore(args) => {
            let loaded = emnist::data::source::load(&args.data.to_config(), progress)?;
            print::announce_dataset(&loaded, progress);
            let r = emnist::explore::explore(&loaded.dataset);
            let figures = match &args.out {
                Some(dir) => emnist::plot::explore_figures(&loaded.dataset, &r, dir)?,
                None => Vec::new(),
            };
            if args.json {
                print::print_json(&print::ExploreJson { report: &r, figures: &figures })?;
            } else {
                print::print_explore(&r);
            }
            let place = match &args.out {
                Some(d) => format!("; {} figures in `{}`", figures.len(), d.display()),
                None => String::new(),
            };
            print::done(
                progress,
                t0,
                &format!(
                    "explored {} ({} images, {} classes){place}",
                    r.dataset.name,
                    r.train_images + r.test_images,
                    r.classes
                ),
            );
        }
        Command::Train(args) => return train(args, progress, t0),
        Command::Compare(args) => {
            let r = emnist::compare::compare(&args.runs, &args.out)?;
            if args.json {
                print::print_json(&r)?;
            } else {
                print::print_compare(&r);
            }
            print::done(progress, t0, &format!("compared {} runs; plot in `{}`", r.runs.len(), r.plot.display()));
        }
        Command::Download(args) => {
            let cfg = args.to_config();
            let r = emnist::download::download(&cfg, progress)?;
            if args.json {
                print::print_json(&r)?;
            } else {
                print::print_download(&r);
            }
            print::done(progress, t0, &format!("downloaded; use `--data {}`", r.data_path.display()));
        }
        Command::Export(args) => {
            let prepared = emnist::onnx::prepare_export(&args.to_config())?;
            let loaded = emnist::data::source::load(&args.data.to_config(), progress)?;
            print::announce_dataset(&loaded, progress);
            let r = emnist::onnx::export_onnx(prepared, &loaded.dataset, progress)?;
            if args.json {
                print::print_json(&r)?;
            } else {
                print::print_export(&r);
            }
            let p = &r.parity;
            if !r.written {
                anyhow::bail!(
                    "the ONNX graph does not match the model: max probability difference {:.2e} (tolerance {:.0e}), {} of {} argmax disagreements; nothing was written",
                    p.max_abs_diff_probabilities,
                    p.tolerance,
                    p.argmax_disagreements,
                    p.images
                );
            }
            print::done(
                progress,
                t0,
                &format!(
                    "exported {} to `{}`, equal to the reference within {:.1e} on {} test images",
                    r.architecture,
                    r.onnx.display(),
                    p.max_abs_diff_probabilities,
                    p.images
                ),
            );
        }
        Command::Serve(args) => {
            init_logging();
            let cfg = args.to_config()?;
            // Always printed, even with -q: with `--port 0` it is the only way to learn the port.
            emnist::serve::serve(cfg, |addr, model| {
                eprintln!(
                    "emnist serve: listening on http://{addr} ({} classes, sha256 {}…); stop with Ctrl-C",
                    model.classes(),
                    &model.sha256[..12]
                );
            })?;
        }
        Command::Query(args) => {
            let cfg = args.to_config();
            let loaded = emnist::data::source::load(&args.data.to_config(), progress)?;
            print::announce_dataset(&loaded, progress);
            let r = emnist::query::query(&cfg, &loaded.dataset.test, progress)?;
            if args.json {
                print::print_json(&r)?;
            } else {
                print::print_query(&r);
            }
            if !r.passed {
                anyhow::bail!("the deployment does not behave like the model: see the table above (agreement must be 100 % and every request answered)");
            }
            print::done(
                progress,
                t0,
                &format!("queried {} images over {} protocol(s): 100 % agreement", r.images, r.protocols.len()),
            );
        }
        Command::Report(args) => {
            let loaded = emnist::data::source::load(&args.data.to_config(), progress)?;
            print::announce_dataset(&loaded, progress);
            let ex = emnist::explore::explore(&loaded.dataset);
            let cfg = emnist::report::ReportConfig { models: args.models.clone(), out: args.out.clone() };
            let r = emnist::report::report(&cfg, &loaded.dataset, &ex)?;
            if args.json {
                print::print_json(&r)?;
            } else {
                println!("report       `{}` ({} KiB)", r.out.display(), r.bytes / 1024);
                println!("runs         {}", if r.runs.is_empty() { "none".to_string() } else { r.runs.join(", ") });
                println!(
                    "exports      {}",
                    if r.exports.is_empty() { "none".to_string() } else { r.exports.join(", ") }
                );
                println!(
                    "queries      {}",
                    if r.queries.is_empty() { "none".to_string() } else { r.queries.join(", ") }
                );
            }
            print::done(progress, t0, &format!("report written to `{}`; open it in a browser", r.out.display()));
        }
    }
    Ok(Exit::Ok)
}

/// Structured logs on stderr for the server; `EMNIST_LOG` (or `RUST_LOG`) sets the filter, e.g.
/// `EMNIST_LOG=debug` logs every request.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("EMNIST_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let ansi = std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}
