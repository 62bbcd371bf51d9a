//! The `emnist` binary: parse the command line, turn it into plain settings, call the library,
//! print the report (stdout) or the error chain (stderr).

mod cli;
mod report;

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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report::print_error(&e);
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

fn run(command: Command, progress: &Terminal) -> Result<()> {
    let t0 = Instant::now();
    match command {
        Command::Explore(args) => {
            let loaded = emnist::data::source::load(&args.data.to_config(), progress)?;
            report::announce_dataset(&loaded, progress);
            let r = emnist::explore::explore(&loaded.dataset);
            let figures = match &args.out {
                Some(dir) => emnist::plot::explore_figures(&loaded.dataset, &r, dir)?,
                None => Vec::new(),
            };
            if args.json {
                report::print_json(&report::ExploreJson { report: &r, figures: &figures })?;
            } else {
                report::print_explore(&r);
            }
            let place = match &args.out {
                Some(d) => format!("; {} figures in `{}`", figures.len(), d.display()),
                None => String::new(),
            };
            report::done(
                progress,
                t0,
                &format!("explored {} ({} images, {} classes){place}", r.dataset.name, r.train_images + r.test_images, r.classes),
            );
        }
        Command::Download(args) => {
            let cfg = args.to_config();
            let r = emnist::download::download(&cfg, progress)?;
            if args.json {
                report::print_json(&r)?;
            } else {
                report::print_download(&r);
            }
            report::done(progress, t0, &format!("downloaded; use `--data {}`", r.data_path.display()));
        }
    }
    Ok(())
}
