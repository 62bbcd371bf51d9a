//! Command-line types (their doc comments are the `--help`) and their conversion to plain configs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use emnist::data::source::LoadConfig;
use emnist::download::{ArchiveFormat, DownloadConfig, DEFAULT_BASE_URL};

/// From handwritten-character data to a production model server: explore EMNIST, train
/// classifiers, export them to ONNX, serve them and check the deployment.
#[derive(Debug, Parser)]
#[command(name = "emnist", version, propagate_version = true)]
pub struct Cli {
    /// No progress bars or notes on stderr (errors are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dataset statistics and figures: sizes, class distribution, imbalance, train vs test.
    Explore(ExploreArgs),
    /// Fetch NIST's EMNIST archive, resuming a partial download, and extract one split.
    Download(DownloadArgs),
}

/// Which dataset to read: shared by every command that reads one.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// A .mat file (EMNIST's Matlab release) or a folder of idx files (EMNIST's gzip release,
    /// MNIST, Fashion-MNIST). Default: the first EMNIST file under `--data-dir`, else a generated
    /// synthetic EMNIST-like set (clearly labelled: it is not EMNIST).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Which EMNIST split to use where a folder holds several.
    #[arg(long, value_parser = ["byclass", "bymerge", "balanced", "letters", "digits", "mnist"])]
    pub split: Option<String>,
    /// Where to look for EMNIST files when `--data` is not given.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Decode from the source instead of the cache, and write no cache entry.
    #[arg(long)]
    pub no_cache: bool,
}

impl DataArgs {
    pub fn to_config(&self) -> LoadConfig {
        LoadConfig {
            data: self.data.clone(),
            data_dir: self.data_dir.clone(),
            split: self.split.clone(),
            cache: !self.no_cache,
            ..LoadConfig::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Write PNG figures (class distribution, samples, mean images) into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// `matlab.zip`: one .mat file per split.
    Matlab,
    /// `gzip.zip`: idx files per split plus a mapping file.
    Gzip,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The split to extract.
    #[arg(long, default_value = "byclass", value_parser = ["byclass", "bymerge", "balanced", "letters", "digits", "mnist"])]
    pub split: String,
    /// Which of NIST's two archives to fetch.
    #[arg(long, value_enum, default_value = "matlab")]
    pub format: FormatArg,
    /// Where the archive and the extracted files go.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub dir: PathBuf,
    /// Where the archives are served (NIST's site by default).
    #[arg(long, value_name = "URL", default_value = DEFAULT_BASE_URL, env = "EMNIST_BASE_URL")]
    pub base_url: String,
    /// Skip the archive's checksum check.
    #[arg(long)]
    pub no_verify: bool,
    /// Keep the .zip after extracting (to extract other splits later without downloading again).
    #[arg(long)]
    pub keep_archive: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl DownloadArgs {
    pub fn to_config(&self) -> DownloadConfig {
        DownloadConfig {
            split: self.split.clone(),
            format: match self.format {
                FormatArg::Matlab => ArchiveFormat::Matlab,
                FormatArg::Gzip => ArchiveFormat::Gzip,
            },
            dir: self.dir.clone(),
            base_url: self.base_url.clone(),
            verify: !self.no_verify,
            keep_archive: self.keep_archive,
        }
    }
}
