//! `emnist-train`: the training companion of `emnist`. `emnist train …` execs it with the same
//! arguments; it parses them with the same command line, trains on libtorch, and prints what
//! `emnist train` always printed. Only this executable links libtorch.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};

use emnist_cli::args::{TrainArgs, TrainCli, TrainCommand};
use emnist_cli::progress::{Style, Terminal};
use emnist_cli::{print, trainer, INTERRUPTED, USAGE};
use emnist_data::progress::Progress as _;
use emnist_model::record::DatasetRef;
use emnist_model::train::{tune, RunDirLock, TrainConfig, TrainOutcome};

fn main() -> ExitCode {
    emnist_cli::flags::install();
    let version = format!("{}\n{}", env!("CARGO_PKG_VERSION"), emnist_train::libtorch_summary());
    let matches = TrainCli::command().long_version(version).get_matches();
    let cli = match TrainCli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // Run by an `emnist` of another version, the two may not agree on the command line.
    if let Some(v) = std::env::var_os(trainer::VERSION_ENV) {
        if v != env!("CARGO_PKG_VERSION") {
            eprintln!(
                "error: `emnist-train` {} does not match `emnist` {}; build both with `make build` and keep them in one folder",
                env!("CARGO_PKG_VERSION"),
                v.to_string_lossy()
            );
            return ExitCode::from(USAGE);
        }
    }
    let TrainCommand::Train(args) = cli.command;
    let progress = Terminal::new(Style::detect(cli.quiet));
    match train(args, &progress) {
        Ok(code) => code,
        Err(e) => {
            print::print_error(&e);
            ExitCode::from(1)
        }
    }
}

/// Loads the data and trains (or fine-tunes `start`) into the locked run directory.
fn run(
    args: &TrainArgs,
    cfg: &TrainConfig,
    start: Option<&tune::Start>,
    run_dir: RunDirLock,
    progress: &Terminal,
) -> Result<TrainOutcome> {
    // A new cache entry is written beside the training, and waited for at the end.
    let mut loaded = emnist_data::source::load(&args.data.to_config(), progress)?;
    print::announce_dataset(&loaded, progress);
    // First signal: finish the step, checkpoint, exit 130. Second: exit at once.
    let stop = emnist_cli::stop_on_signals()?;
    let Some(start) = start else {
        let outcome = emnist_train::train_in(cfg, run_dir, &loaded.dataset, progress, &stop);
        loaded.finish_cache(progress);
        return outcome;
    };
    let mut base = emnist_data::source::load(&args.rehearsal_source(&start.record.dataset), progress)?;
    progress.note(&format!("rehearsing {}, the data `{}` was trained on", base.dataset.info.name, start.dir.display()));
    start.check_base(&base.dataset)?;
    let mixed = tune::mix(&base.dataset, &loaded.dataset, start)?;
    base.finish_cache(progress);
    drop(base);
    let data = DatasetRef::of(&loaded.dataset);
    let outcome = emnist_train::tune_in(cfg, run_dir, &mixed, start, data, progress, &stop);
    loaded.finish_cache(progress);
    outcome
}

fn train(args: TrainArgs, progress: &Terminal) -> Result<ExitCode> {
    let t0 = Instant::now();
    let cfg = args.to_config()?;
    let start = cfg.init.as_ref().map(|init| tune::Start::open(&init.run)).transpose()?;
    let fresh = !cfg.out.exists();
    // Before the data: a second run into the same `--out` fails at once.
    let run_dir = emnist_model::train::open_run_dir(&cfg)?;
    let outcome = match run(&args, &cfg, start.as_ref(), run_dir, progress) {
        Ok(outcome) => outcome,
        Err(e) => {
            // A run that failed before writing anything leaves no folder behind.
            if fresh {
                emnist_model::train::remove_if_empty(&cfg.out);
            }
            return Err(e);
        }
    };
    match outcome {
        TrainOutcome::Finished(r) => {
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
            Ok(ExitCode::SUCCESS)
        }
        TrainOutcome::Interrupted { checkpoint, epoch, step } => {
            eprintln!(
                "interrupted in epoch {} after step {step}; checkpoint `{}`; continue with the same command plus `--resume`",
                epoch + 1,
                checkpoint.display()
            );
            Ok(ExitCode::from(INTERRUPTED))
        }
    }
}
