//! Finding and running the training companion `emnist-train`.
//!
//! `emnist train …` execs `emnist-train` with the very same arguments (git's and cargo's model for
//! subcommands): the process, its PID, terminal, signals and exit status stay the same, so Ctrl-C,
//! SIGTERM, progress bars and `--resume` behave as if training were built in, while `emnist`
//! itself never loads libtorch.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The companion's file name.
pub const TRAINER: &str = "emnist-train";

/// Set by `emnist` for the trainer it execs: the version it expects the trainer to be.
pub const VERSION_ENV: &str = "EMNIST_CLI_VERSION";

/// Overrides where the trainer is looked for (a path to the executable).
pub const PATH_ENV: &str = "EMNIST_TRAIN";

/// One line for when the trainer is missing: what to do about it.
pub fn missing_message() -> String {
    format!(
        "`emnist train` needs the companion `{TRAINER}` (libtorch), found neither beside `emnist` nor on PATH; build both with `make build` (or `cargo build --release --workspace`) and keep them in one folder"
    )
}

/// The trainer: `$EMNIST_TRAIN`, else `emnist-train` beside the running executable, else on PATH.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(PATH_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| is_executable(p));
    }
    let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join(TRAINER)));
    if let Some(p) = beside.filter(|p| is_executable(p)) {
        return Some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(TRAINER)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Replaces this process with the trainer, given `args` (this process's arguments after the program name).
/// Returns only when that fails.
pub fn exec(trainer: &Path, args: impl IntoIterator<Item = OsString>) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    std::process::Command::new(trainer).args(args).env(VERSION_ENV, env!("CARGO_PKG_VERSION")).exec()
}

/// What the trainer says about itself (its `--version` after the first line: libtorch's version,
/// devices, threads), or why there is nothing to say.
pub fn describe() -> String {
    let Some(path) = find() else {
        return "training: unavailable (no `emnist-train` beside `emnist` or on PATH; `make build` builds it)".into();
    };
    match std::process::Command::new(&path).arg("--version").output() {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let rest: Vec<&str> = text.lines().skip(1).collect();
            format!("training: `{}`\n{}", path.display(), rest.join("\n"))
        }
        Ok(o) => format!(
            "training: `{}` does not start: {}",
            path.display(),
            String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("no message")
        ),
        Err(e) => format!("training: `{}` does not start: {e}", path.display()),
    }
}
