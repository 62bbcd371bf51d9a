//! The command line of `emnist`, shared by its two executables: `emnist` (everything but the
//! training loop, no libtorch) and `emnist-train` (the loop, on libtorch), which `emnist train`
//! execs with the same arguments, so that both parse them with the same [`cli::Cli`].

pub mod cli;
pub mod print;
pub mod trainer;

/// Exit status after SIGINT/SIGTERM stopped a command cleanly.
pub const INTERRUPTED: u8 = 130;

/// Exit status of a usage error (clap's, and ours where the command line cannot run as given).
pub const USAGE: u8 = 2;

/// The executables' one signal policy, for `serve` and `train` alike: the first SIGINT, SIGTERM
/// or SIGHUP requests a clean stop through the returned
/// [`Shutdown`](emnist_core::shutdown::Shutdown) (the server drains, training checkpoints); a
/// second one exits at once with [`INTERRUPTED`].
pub fn stop_on_signals() -> anyhow::Result<emnist_core::shutdown::Shutdown> {
    signals(None)
}

/// [`stop_on_signals`] for a server on a model repository: SIGHUP asks it to re-read the
/// repository instead of stopping it.
pub fn serve_signals(reload: emnist_core::serve::Reload) -> anyhow::Result<emnist_core::shutdown::Shutdown> {
    signals(Some(reload))
}

fn signals(reload: Option<emnist_core::serve::Reload>) -> anyhow::Result<emnist_core::shutdown::Shutdown> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let shutdown = emnist_core::shutdown::Shutdown::new();
    let handle = shutdown.clone();
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            match (&reload, signal) {
                (Some(r), SIGHUP) => r.request(),
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
