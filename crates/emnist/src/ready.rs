//! `emnist serve --ready-file PATH`: the file a script waits for to learn that the server is ready
//! and where it listens (with `--port 0`, the only machine-readable way to learn the ports).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use emnist_data::fsutil;
use emnist_serve::server::repo::Catalog;
use emnist_serve::server::Listening;

/// What the ready file says: one JSON object, pretty-printed (one top-level field a line).
#[derive(Debug, Serialize)]
pub struct ReadyDoc {
    /// Base URL of the HTTP port: `http://127.0.0.1:9000` (`https://` with `--tls-cert`).
    pub http: String,
    /// `host:port` of KServe v2 over gRPC, `null` without `--grpc-port`.
    pub grpc: Option<String>,
    /// Whether both ports speak TLS.
    pub tls: bool,
    /// The server's process id (the one to send SIGTERM or SIGHUP to).
    pub pid: u32,
    /// The version of `emnist`.
    pub version: &'static str,
    /// What was served at start (a repository's later reloads do not rewrite the file).
    pub models: Vec<ReadyModel>,
    /// The payload log's folder (`--log-dir`), `null` without one.
    pub log_dir: Option<PathBuf>,
}

/// One served model version.
#[derive(Debug, Serialize)]
pub struct ReadyModel {
    pub name: String,
    pub version: u64,
    pub path: PathBuf,
    /// Lowercase hex sha256 of the file (what `emnist query` checks).
    pub sha256: String,
    pub classes: usize,
    /// `tract` or `onnxruntime`.
    pub engine: &'static str,
}

impl ReadyDoc {
    pub fn new(listening: &Listening, catalog: &Catalog, log_dir: Option<&Path>) -> ReadyDoc {
        let scheme = if listening.tls { "https" } else { "http" };
        ReadyDoc {
            http: format!("{scheme}://{}", listening.http),
            grpc: listening.grpc.map(|a| a.to_string()),
            tls: listening.tls,
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION"),
            models: catalog
                .versions()
                .map(|v| ReadyModel {
                    name: v.name.clone(),
                    version: v.number,
                    path: v.model.path.clone(),
                    sha256: v.model.sha256.clone(),
                    classes: v.model.classes(),
                    engine: v.engine.as_str(),
                })
                .collect(),
            log_dir: log_dir.map(Path::to_path_buf),
        }
    }
}

/// The ready file of one server: written once it listens, removed when it stops (on drop).
#[derive(Debug)]
pub struct ReadyFile {
    path: PathBuf,
    written: bool,
}

impl ReadyFile {
    /// Checks at start-up, before any model loads or port is bound, that `path` can be written
    /// (its folder is created, and a probe under the temporary name the real write uses is
    /// written and removed), and removes a file an earlier server left there, so that a script
    /// waiting for the file never reads a stale one.
    pub fn prepare(path: &Path) -> Result<ReadyFile> {
        let cannot = || format!("cannot write the ready file `{}` (`--ready-file`)", path.display());
        if path.is_dir() {
            anyhow::bail!("{}: it is a folder", cannot());
        }
        let dir = fsutil::parent_dir(path);
        if let Some(file) = dir.ancestors().find(|a| a.exists() && !a.is_dir()) {
            anyhow::bail!("{}: `{}` is not a folder", cannot(), file.display());
        }
        fs::create_dir_all(dir).with_context(cannot)?;
        let probe = fsutil::temp_path(path);
        fs::File::create(&probe).with_context(cannot)?;
        let _ = fs::remove_file(&probe);
        match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e).with_context(cannot),
            _ => {}
        }
        Ok(ReadyFile { path: path.to_owned(), written: false })
    }

    /// Writes `doc` atomically (a temporary file in the same folder, then a rename): a reader
    /// sees the whole document or no file.
    pub fn write(&mut self, doc: &ReadyDoc) -> Result<()> {
        let mut text = serde_json::to_string_pretty(doc)?;
        text.push('\n');
        fsutil::write_atomic(&self.path, text.as_bytes())
            .context("the server is ready, but its `--ready-file` cannot be written")?;
        self.written = true;
        Ok(())
    }
}

impl Drop for ReadyFile {
    fn drop(&mut self) {
        if self.written {
            let _ = fs::remove_file(&self.path);
        }
    }
}
