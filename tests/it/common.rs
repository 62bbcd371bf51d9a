//! Helpers shared by the integration tests.

use std::path::PathBuf;
use std::process::Command;

/// A committed fixture file.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The built `emnist` binary, with its cache in a private folder so tests never share state.
pub fn emnist_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emnist"));
    let cache = std::env::temp_dir().join(format!("emnist-test-cache-{}", std::process::id()));
    c.env("EMNIST_CACHE_DIR", cache).env("NO_COLOR", "1");
    c
}

/// libtorch's seed and thread count are process-wide: tests that train (in any module) take turns.
#[cfg(feature = "train")]
pub fn torch_lock() -> std::sync::MutexGuard<'static, ()> {
    static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TORCH.lock().unwrap_or_else(|e| e.into_inner())
}
