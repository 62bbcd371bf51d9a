//! The `emnist` binary: parse the command line, turn it into plain settings, call the library,
//! print the report (stdout) or the error chain (stderr).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};

use emnist_cli::progress::{Style, Terminal};
use emnist_cli::{trainer, USAGE};

use emnist_data::setting::Setting;
use emnist_data::source::{LoadConfig, Source};

use crate::cli::{Cli, Command, ExploreArgs};

mod cli;
mod print;

mod ready;

fn main() -> ExitCode {
    emnist_cli::flags::install();
    let mut command = Cli::command();
    // Asking the trainer what libtorch sees takes a while: only for `--version` itself.
    if wants_long_version() {
        let ort = match cli::onnxruntime_library(None) {
            Some((path, place)) => format!("onnxruntime: `{}` ({place})", path.display()),
            None => "onnxruntime: not found beside the executable, in the project's .venv or on the system's library path (`emnist serve --engine auto` serves with tract)".to_string(),
        };
        let v = format!("{}\n{}\n{ort}", env!("CARGO_PKG_VERSION"), trainer::describe());
        command = command.long_version(v);
    }
    let matches = command.get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let progress = Terminal::new(Style::detect(cli.quiet));
    match run(cli.command, &progress) {
        Ok(code) => code,
        Err(e) => {
            print::print_cli_error(&e);
            ExitCode::from(1)
        }
    }
}

/// `emnist train …`: the same arguments, to the companion that links libtorch. Returns only when
/// it cannot run (a usage error: the command needs a part that is not installed).
fn train() -> ExitCode {
    let Some(path) = trainer::find() else {
        eprintln!("error: {}", trainer::missing_message());
        return ExitCode::from(USAGE);
    };
    let e = trainer::exec(&path, std::env::args_os().skip(1));
    eprintln!("error: cannot run `{}`: {e}; rebuild it with `make build`", path.display());
    ExitCode::from(USAGE)
}

/// `--version` among the options before the subcommand.
fn wants_long_version() -> bool {
    std::env::args_os().skip(1).take_while(|a| a.to_str().is_some_and(|s| s.starts_with('-'))).any(|a| a == "--version")
}

fn run(command: Command, progress: &Terminal) -> Result<ExitCode> {
    let t0 = Instant::now();
    match command {
        Command::Explore(args) => {
            let cfg = args.data.to_config();
            if let Source::PayloadLog(dir) = emnist_data::source::resolve(&cfg)? {
                return explore_log(&args, &dir, progress, t0);
            }
            if args.reference.is_some() {
                anyhow::bail!(
                    "{} is for a payload log: {} names `{}`, which is not a folder `emnist serve` logged to",
                    Setting::Reference,
                    Setting::Data,
                    cfg.data.as_deref().unwrap_or(std::path::Path::new("data")).display()
                );
            }
            let mut loaded = emnist_data::source::load(&cfg, progress)?;
            print::announce_dataset(&loaded, progress);
            let r = emnist_data::explore::explore(&loaded.dataset);
            let figures = match &args.out {
                Some(dir) => emnist_report::plot::explore_figures(&loaded.dataset, &r, dir)?,
                None => Vec::new(),
            };
            if args.json {
                print::print_json(&print::ExploreJson { report: &r, figures: &figures })?;
            } else {
                print::print_explore(&r);
            }
            // The answer is out; the cache entry has been written beside it.
            loaded.finish_cache(progress);
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
        Command::Train(_) => return Ok(train()),
        Command::Compare(args) => {
            let r = emnist_report::compare::compare(&args.runs, &args.out)?;
            if args.json {
                print::print_json(&r)?;
            } else {
                print::print_compare(&r);
            }
            print::done(progress, t0, &format!("compared {} runs; plot in `{}`", r.runs.len(), r.plot.display()));
        }
        Command::Download(args) => {
            let cfg = args.to_config();
            let r = emnist_download::download(&cfg, progress)?;
            if args.json {
                print::print_json(&r)?;
            } else {
                print::print_download(&r);
            }
            print::done(progress, t0, &format!("downloaded; use `--data {}`", r.data_path.display()));
        }
        Command::Export(args) => {
            let prepared = emnist_model::export::prepare_export(&args.to_config()?)?;
            let mut loaded = emnist_data::source::load(&args.data.to_config(), progress)?;
            print::announce_dataset(&loaded, progress);
            let r = emnist_model::export::export_onnx(
                prepared,
                &loaded.dataset,
                &emnist_runtime::parity::check_export,
                progress,
            )?;
            if args.json {
                print::print_json(&r)?;
            } else {
                print::print_export(&r);
            }
            loaded.finish_cache(progress);
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
            // Before any model loads or port is bound: an unwritable ready file fails at once.
            let mut ready_file = args.ready_file.as_deref().map(ready::ReadyFile::prepare).transpose()?;
            let mut ready_error = None;
            if !matches!(cfg.engine, emnist_runtime::EngineKind::Tract) {
                if let Some((path, place)) = args.onnxruntime_library() {
                    eprintln!("emnist serve: onnxruntime library `{}` ({place})", path.display());
                }
            }
            // Always printed, even with -q: people read it (programs read `--ready-file`).
            let reload = emnist_serve::server::Reload::new();
            let shutdown = {
                let reload = reload.clone();
                emnist_cli::stop_on_signals_or_hangup(move || reload.request())?
            };
            let stop = shutdown.clone();
            let repository = cfg.repository.is_some();
            let log_dir = cfg.log.as_ref().map(|l| l.dir.clone());
            emnist_serve::server::serve(cfg, shutdown, reload, |listening, catalog| {
                let addr = listening.http;
                let scheme = if listening.tls { "https" } else { "http" };
                if let Some(grpc) = listening.grpc {
                    let tls = if listening.tls { ", TLS" } else { "" };
                    eprintln!(
                        "emnist serve: KServe v2 over gRPC on {grpc} (service inference.GRPCInferenceService{tls})"
                    );
                }
                if let Some(dir) = &log_dir {
                    eprintln!(
                        "emnist serve: payload log in `{}` ({} of requests, at most {} MiB; feedback on POST /feedback)",
                        dir.display(),
                        args.log_sample,
                        args.log_max_mb
                    );
                }
                for v in catalog.versions() {
                    let m = &v.model;
                    if !matches!(m.labels_from, emnist_runtime::classifier::LabelSource::Metadata) {
                        eprintln!("emnist serve: {} version {}: {}", v.name, v.number, m.labels_from.describe());
                    }
                    if repository {
                        eprintln!(
                            "emnist serve: {} version {}: `{}` ({} classes, sha256 {}…)",
                            v.name,
                            v.number,
                            m.path.display(),
                            m.classes(),
                            &m.sha256[..12]
                        );
                    }
                }
                match catalog.versions().next() {
                    Some(v) if !repository => eprintln!(
                        "emnist serve: listening on {scheme}://{addr} ({} classes, sha256 {}…); stop with Ctrl-C",
                        v.model.classes(),
                        &v.model.sha256[..12]
                    ),
                    _ => eprintln!(
                        "emnist serve: listening on {scheme}://{addr} (a model repository: re-read on SIGHUP); stop with Ctrl-C"
                    ),
                }
                if let Some(file) = &mut ready_file {
                    // Last: once it exists, everything about the start has been said. A script waits for
                    // it, so a server that cannot write it stops instead of running unseen.
                    if let Err(e) = file.write(&ready::ReadyDoc::new(&listening, catalog, log_dir.as_deref())) {
                        ready_error = Some(e);
                        stop.request();
                    }
                }
            })?;
            if let Some(e) = ready_error {
                return Err(e);
            }
            // Stopped cleanly: the ready file goes (dropped here, after the last request).
            drop(ready_file);
        }
        Command::Query(args) => {
            let cfg = args.to_config();
            let mut loaded = emnist_data::source::load(&args.data.to_config(), progress)?;
            print::announce_dataset(&loaded, progress);
            let r = emnist_serve::query::query(&cfg, &loaded.dataset.test, progress)?;
            if args.json {
                print::print_json(&r)?;
            } else {
                print::print_query(&r);
            }
            loaded.finish_cache(progress);
            if !r.passed {
                anyhow::bail!("the deployment does not behave like the model: see the table above (agreement must be 100 % and every request answered)");
            }
            print::done(
                progress,
                t0,
                &format!("queried {} images over {} protocol(s): 100 % agreement", r.images, r.protocols.len()),
            );
        }
        Command::Health(args) => {
            let r = emnist_serve::health::check(&args.to_config())?;
            if args.json {
                print::print_json(&r)?;
            } else {
                println!("healthy: `{}{}` answered 200 in {:.1} ms", r.url, r.route, r.latency_ms);
            }
        }
        Command::Report(args) => {
            let mut loaded = emnist_data::source::load(&args.data.to_config(), progress)?;
            print::announce_dataset(&loaded, progress);
            let ex = emnist_data::explore::explore(&loaded.dataset);
            let cfg = emnist_report::report::ReportConfig { models: args.models.clone(), out: args.out.clone() };
            let r = emnist_report::report::report(&cfg, &loaded.dataset, &ex)?;
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
            for why in &r.unreadable {
                emnist_data::progress::Progress::note(progress, &format!("warning: left out of the report: {why}"));
            }
            loaded.finish_cache(progress);
            print::done(progress, t0, &format!("report written to `{}`; open it in a browser", r.out.display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `emnist explore --data LOGDIR`: what the deployment saw against the reference data.
fn explore_log(args: &ExploreArgs, dir: &std::path::Path, progress: &Terminal, t0: Instant) -> Result<ExitCode> {
    use emnist_data::progress::Progress as _;
    let log = emnist_data::payload_log::read_dir(dir)?;
    let ref_cfg = LoadConfig { data: args.reference.clone(), ..args.data.to_config() };
    emnist_data::deployment::check_reference(&emnist_data::source::resolve(&ref_cfg)?)?;
    progress.note(&format!("reading the payload log `{}`; the reference is the training data below", dir.display()));
    let mut reference = emnist_data::source::load(&ref_cfg, progress)?;
    print::announce_dataset(&reference, progress);
    let r = emnist_data::deployment::report(dir, &log, &reference.dataset);
    for t in &log.torn {
        progress.note(&format!("warning: {t}"));
    }
    let figures = match &args.out {
        Some(out) => emnist_report::plot::deployment_figures(&r, out)?,
        None => Vec::new(),
    };
    if args.json {
        print::print_json(&print::DeploymentJson { report: &r, figures: &figures })?;
    } else {
        print::print_deployment(&r);
    }
    reference.finish_cache(progress);
    let place = match &args.out {
        Some(d) => format!("; {} figures in `{}`", figures.len(), d.display()),
        None => String::new(),
    };
    let accuracy = r.labelled.accuracy.map_or_else(String::new, |a| format!(", accuracy {} % on them", print::pct(a)));
    print::done(
        progress,
        t0,
        &format!(
            "explored the payload log `{}` ({} images, {} labelled{accuracy}){place}",
            dir.display(),
            print::thousands(r.images),
            print::thousands(r.labelled.images)
        ),
    );
    Ok(ExitCode::SUCCESS)
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
