//! `emnist-cli`: what the two executables share. `emnist` (everything but the training loop, no
//! libtorch) execs `emnist-train` (the loop, on libtorch) for `emnist train` with the same
//! arguments ([`trainer`]), and both parse them with the same [`args::TrainArgs`]; both render
//! progress ([`progress`]), print results and errors ([`mod@print`]), name flags in the library's
//! messages ([`flags`]) and stop on signals the same way. No server, no engine: the trainer builds
//! none.

pub mod args;
pub mod flags;
pub mod print;
pub mod progress;
pub mod trainer;

/// Exit status after SIGINT/SIGTERM stopped a command cleanly.
pub const INTERRUPTED: u8 = 130;

/// Exit status of a usage error (clap's, and ours where the command line cannot run as given).
pub const USAGE: u8 = 2;

/// The executables' one signal policy, for `serve` and `train` alike: the first SIGINT, SIGTERM
/// or SIGHUP requests a clean stop through the returned
/// [`Shutdown`](emnist_data::shutdown::Shutdown) (the server drains, training checkpoints); a
/// second one exits at once with [`INTERRUPTED`].
pub fn stop_on_signals() -> anyhow::Result<emnist_data::shutdown::Shutdown> {
    signals(None)
}

/// [`stop_on_signals`] for a server on a model repository: SIGHUP calls `on_hangup` (a re-read
/// of the repository) instead of stopping it.
pub fn stop_on_signals_or_hangup(
    on_hangup: impl Fn() + Send + 'static,
) -> anyhow::Result<emnist_data::shutdown::Shutdown> {
    signals(Some(Box::new(on_hangup)))
}

fn signals(on_hangup: Option<Box<dyn Fn() + Send>>) -> anyhow::Result<emnist_data::shutdown::Shutdown> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let shutdown = emnist_data::shutdown::Shutdown::new();
    let handle = shutdown.clone();
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            match (&on_hangup, signal) {
                (Some(hangup), SIGHUP) => hangup(),
                _ => {
                    if handle.request() {
                        std::process::exit(INTERRUPTED as i32);
                    }
                }
            }
        }
    })?;
    Ok(shutdown)
}
