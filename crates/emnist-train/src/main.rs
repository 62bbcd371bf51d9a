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
use emnist_model::train::TrainOutcome;

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

fn train(args: TrainArgs, progress: &Terminal) -> Result<ExitCode> {
    let t0 = Instant::now();
    let cfg = args.to_config()?;
    // Before the data: a second run into the same `--out` fails at once.
    let run_dir = emnist_model::train::open_run_dir(&cfg)?;
    let loaded = emnist_data::source::load(&args.data.to_config(), progress)?;
    print::announce_dataset(&loaded, progress);
    // First signal: finish the step, checkpoint, exit 130. Second: exit at once.
    let stop = emnist_cli::stop_on_signals()?;
    match emnist_train::train_in(&cfg, run_dir, &loaded.dataset, progress, &stop)? {
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
