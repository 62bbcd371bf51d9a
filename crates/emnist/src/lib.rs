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
