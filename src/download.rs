//! `emnist download`: fetch one of NIST's EMNIST archives (resumable), check its digest, extract one split.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::digest::DynDigest;

use crate::progress::Progress;

/// Where NIST publishes `matlab.zip` and `gzip.zip`.
pub const DEFAULT_BASE_URL: &str = "https://biometrics.nist.gov/cs_links/EMNIST";
/// The split names both archives hold.
pub const SPLITS: [&str; 6] = ["byclass", "bymerge", "balanced", "letters", "digits", "mnist"];

/// NIST has been reported to refuse clients without a normal User-Agent.
const USER_AGENT: &str = concat!("emnist/", env!("CARGO_PKG_VERSION"));
/// Recorded by another public loader, not by NIST: a mismatch only warns.
const MATLAB_SHA256: &str = "e1fa805cdeae699a52da0b77c2db17f6feb77eed125f9b45c022e7990444df95";
/// From NIST's dataset page: a mismatch fails unless verification is off.
const GZIP_MD5: &str = "58c8d27c78d21e728a6bc7b3cc06412e";
const CHUNK_BYTES: usize = 256 * 1024;

/// Which of NIST's two archives to fetch; both hold every split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `matlab.zip`: one `.mat` file per split.
    Matlab,
    /// `gzip.zip`: idx files (gzipped) and a mapping text file per split.
    Gzip,
}

impl ArchiveFormat {
    /// The archive's file name, on NIST's server and on disk: `matlab.zip` or `gzip.zip`.
    pub fn archive_name(self) -> &'static str {
        match self {
            ArchiveFormat::Matlab => "matlab.zip",
            ArchiveFormat::Gzip => "gzip.zip",
        }
    }

    /// The entries one split needs, named as inside the archive (and as extracted under the download folder).
    pub fn entries(self, split: &str) -> Vec<String> {
        match self {
            ArchiveFormat::Matlab => vec![format!("matlab/emnist-{split}.mat")],
            ArchiveFormat::Gzip => {
                let mut names: Vec<String> = ["train", "test"]
                    .iter()
                    .flat_map(|set| {
                        ["images-idx3", "labels-idx1"].map(|kind| format!("gzip/emnist-{split}-{set}-{kind}-ubyte.gz"))
                    })
                    .collect();
                names.push(format!("gzip/emnist-{split}-mapping.txt"));
                names
            }
        }
    }

    /// The digest algorithm, the known value, and a hasher for this archive.
    fn digest(self) -> (&'static str, &'static str, Box<dyn DynDigest>) {
        match self {
            ArchiveFormat::Matlab => ("sha256", MATLAB_SHA256, Box::new(sha2::Sha256::default())),
            ArchiveFormat::Gzip => ("md5", GZIP_MD5, Box::new(md5::Md5::default())),
        }
    }
}

/// Settings for one download; the CLI fills them from its flags.
#[derive(Debug, Clone)]
pub struct DownloadConfig {
    /// One of [`SPLITS`].
    pub split: String,
    pub format: ArchiveFormat,
    /// Where the archive and the extracted files go.
    pub dir: PathBuf,
    /// Folder URL holding `matlab.zip` and `gzip.zip`; [`DEFAULT_BASE_URL`] unless testing.
    pub base_url: String,
    /// Compare the archive with its known digest (md5 mismatch fails, sha256 mismatch warns).
    pub verify: bool,
    /// Keep the `.zip` after extracting, to extract other splits later without downloading again.
    pub keep_archive: bool,
}

/// What a download did and where its results are.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DownloadReport {
    /// Where the archive is (deleted after extraction unless `keep_archive`).
    pub archive: PathBuf,
    /// Bytes received over the network by this call (0 when the archive was already there).
    pub bytes_downloaded: u64,
    /// Size of the `.part` file this call resumed from (0 when it started fresh).
    pub resumed_from: u64,
    /// Lowercase hex digest of the whole archive: sha256 for `matlab.zip`, md5 for `gzip.zip`.
    pub digest: String,
    /// Whether verification was on and the digest matched the known value.
    pub digest_verified: bool,
    /// The extracted files.
    pub extracted: Vec<PathBuf>,
    /// What to pass as `--data`: the `.mat` file, or the folder holding the idx files.
    pub data_path: PathBuf,
}

/// Why a download failed; a field named `source` is the underlying cause.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("unknown split `{0}`: expected one of byclass, bymerge, balanced, letters, digits, mnist")]
    UnknownSplit(String),
    #[error("`{url}` answered HTTP {status}")]
    HttpStatus { url: String, status: u16, archive: PathBuf },
    /// The connection failed or broke; `kept_bytes` of the archive are in `part` for the next try.
    #[error("cannot download `{url}`")]
    Network { url: String, part: PathBuf, kept_bytes: u64, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("{algorithm} of `{}` is {actual}, expected {expected}", .path.display())]
    DigestMismatch { path: PathBuf, algorithm: &'static str, expected: String, actual: String },
    #[error("`{}` is not a valid zip archive", .path.display())]
    BadZip { path: PathBuf, source: zip::result::ZipError },
    #[error("entry `{entry}` of `{}` is corrupt", .archive.display())]
    CorruptEntry { archive: PathBuf, entry: String, source: io::Error },
    #[error("`{}` has no entry `{entry}`", .archive.display())]
    MissingEntry { archive: PathBuf, entry: String },
    #[error("`{}` holds an entry with an unsafe path `{entry}`", .archive.display())]
    UnsafeEntry { archive: PathBuf, entry: String },
    #[error("cannot {action} `{}`", .path.display())]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

impl DownloadError {
    /// A fix worth printing as a `hint: ` line after the error, when one is known.
    pub fn hint(&self) -> Option<String> {
        match self {
            DownloadError::Network { kept_bytes, part, .. } if *kept_bytes > 0 => Some(format!(
                "run the same command again to resume from the {kept_bytes} bytes kept in `{}`",
                part.display()
            )),
            DownloadError::Network { url, .. } => {
                Some(format!("check the network connection and that `{url}` is reachable"))
            }
            DownloadError::HttpStatus { url, archive, .. } => Some(format!(
                "save `{url}` as `{}` another way (a browser) and run again: an archive in place is used as is",
                archive.display()
            )),
            DownloadError::DigestMismatch { path, .. } => Some(format!(
                "delete `{}` to download it again, or turn digest verification off to use it as is",
                path.display()
            )),
            _ => None,
        }
    }
}

/// Fetches `cfg.format`'s archive into `cfg.dir` unless it is there already (resuming a `.part`
/// file), checks its digest, extracts `cfg.split`'s entries, and deletes the archive unless asked to keep it.
pub fn download(cfg: &DownloadConfig, progress: &dyn Progress) -> Result<DownloadReport, DownloadError> {
    if !SPLITS.contains(&cfg.split.as_str()) {
        return Err(DownloadError::UnknownSplit(cfg.split.clone()));
    }
    fs::create_dir_all(&cfg.dir).map_err(io_error("create", &cfg.dir))?;
    let name = cfg.format.archive_name();
    let archive = cfg.dir.join(name);
    let (algorithm, expected, mut hasher) = cfg.format.digest();
    let (bytes_downloaded, resumed_from) = if archive.is_file() {
        progress.note(&format!("using the archive already in `{}`", archive.display()));
        hash_file(&archive, hasher.as_mut(), progress)?;
        (0, 0)
    } else {
        let part = cfg.dir.join(format!("{name}.part"));
        let url = format!("{}/{name}", cfg.base_url.trim_end_matches('/'));
        let fetched = fetch(&url, &part, hasher.as_mut(), progress)?;
        fs::rename(&part, &archive).map_err(io_error("rename", &part))?;
        fetched
    };
    let mut bytes = vec![0; hasher.output_size()];
    hasher.finalize_into_reset(&mut bytes).expect("buffer sized by output_size");
    let digest: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let digest_verified = cfg.verify && digest == expected;
    if cfg.verify && !digest_verified {
        let shown = archive.display();
        match cfg.format {
            ArchiveFormat::Matlab => progress.note(&format!(
                "warning: {algorithm} of `{shown}` is {digest}, not the {expected} another loader recorded; continuing"
            )),
            ArchiveFormat::Gzip => {
                let (path, expected, actual) = (archive, expected.to_owned(), digest);
                return Err(DownloadError::DigestMismatch { path, algorithm, expected, actual });
            }
        }
    }
    let extracted = extract(&archive, &cfg.dir, &cfg.format.entries(&cfg.split), progress)?;
    if !cfg.keep_archive {
        fs::remove_file(&archive).map_err(io_error("delete", &archive))?;
        progress.note(&format!("deleted `{}` after extracting", archive.display()));
    }
    let data_path = match cfg.format {
        ArchiveFormat::Matlab => extracted[0].clone(),
        ArchiveFormat::Gzip => cfg.dir.join("gzip"),
    };
    Ok(DownloadReport { archive, bytes_downloaded, resumed_from, digest, digest_verified, extracted, data_path })
}

/// Streams `url` into `part`, resuming from its current length; returns (bytes received, resumed from).
fn fetch(
    url: &str,
    part: &Path,
    hasher: &mut dyn DynDigest,
    progress: &dyn Progress,
) -> Result<(u64, u64), DownloadError> {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .accept_encoding("identity")
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build(),
    );
    let network = |source: Box<dyn std::error::Error + Send + Sync>| {
        let kept_bytes = fs::metadata(part).map_or(0, |m| m.len());
        DownloadError::Network { url: url.to_owned(), part: part.to_owned(), kept_bytes, source }
    };
    let offset = fs::metadata(part).map_or(0, |m| m.len());
    let mut request = agent.get(url);
    if offset > 0 {
        progress.note(&format!("resuming `{}` from {offset} bytes", part.display()));
        hash_file(part, hasher, progress)?;
        request = request.header("Range", format!("bytes={offset}-"));
    }
    let mut response = request.call().map_err(|e| network(e.into()))?;
    let status = response.status().as_u16();
    let range = response.headers().get("content-range").and_then(|v| v.to_str().ok());
    match status {
        200 if offset == 0 => {}
        206 if offset > 0 && range.and_then(content_range_start) == Some(offset) => {}
        416 if offset > 0 => return Ok((0, offset)),
        200 | 206 if offset > 0 => {
            drop(response);
            progress.note("the server did not resume where asked; downloading from the start");
            fs::remove_file(part).map_err(io_error("delete", part))?;
            hasher.reset();
            return fetch(url, part, hasher, progress);
        }
        _ => return Err(DownloadError::HttpStatus { url: url.to_owned(), status, archive: part.with_extension("") }),
    }
    let mut file = match offset {
        0 => File::create(part),
        _ => OpenOptions::new().append(true).open(part),
    }
    .map_err(io_error("open", part))?;
    let total = response.body().content_length().map(|n| n + offset);
    let _stage = Stage::start(progress, &format!("downloading {}", file_name(&part.with_extension(""))), total);
    progress.advance(offset);
    let received =
        pump(&mut response.body_mut().as_reader(), &mut file, Some(hasher), progress).map_err(|side| match side {
            Side::Read(e) => network(e.into()),
            Side::Write(e) => io_error("write", part)(e),
        })?;
    file.sync_all().map_err(io_error("write", part))?;
    Ok((received, offset))
}

/// Feeds a whole file to the hasher, as a progress stage.
fn hash_file(path: &Path, hasher: &mut dyn DynDigest, progress: &dyn Progress) -> Result<(), DownloadError> {
    let mut file = File::open(path).map_err(io_error("open", path))?;
    let len = file.metadata().map_err(io_error("read", path))?.len();
    let _stage = Stage::start(progress, &format!("checking {}", file_name(path)), Some(len));
    pump(&mut file, &mut io::sink(), Some(hasher), progress)
        .map_err(|(Side::Read(e) | Side::Write(e))| io_error("read", path)(e))?;
    Ok(())
}

/// Extracts the named entries under `dir` (each through a temporary file, CRC checked), after
/// refusing archives that hold any absolute or `..` path.
fn extract(
    archive: &Path,
    dir: &Path,
    entries: &[String],
    progress: &dyn Progress,
) -> Result<Vec<PathBuf>, DownloadError> {
    let file = File::open(archive).map_err(io_error("open", archive))?;
    let bad_zip = |source| DownloadError::BadZip { path: archive.to_owned(), source };
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(bad_zip)?;
    if let Some(entry) = zip.file_names_raw().map(String::from_utf8_lossy).find(|n| !is_safe_entry_name(n)) {
        return Err(DownloadError::UnsafeEntry { archive: archive.to_owned(), entry: entry.into_owned() });
    }
    let mut extracted = Vec::with_capacity(entries.len());
    for name in entries {
        let mut entry = zip.by_name(name).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => {
                DownloadError::MissingEntry { archive: archive.to_owned(), entry: name.clone() }
            }
            other => bad_zip(other),
        })?;
        let dest = name.split('/').fold(dir.to_path_buf(), |path, part| path.join(part));
        let folder = dest.parent().unwrap_or(dir);
        fs::create_dir_all(folder).map_err(io_error("create", folder))?;
        let tmp = folder.join(format!(".{}.partial", file_name(&dest)));
        let _stage = Stage::start(progress, &format!("extracting {}", file_name(&dest)), Some(entry.size()));
        // Reading to the end is where the zip crate checks the CRC.
        let copied = File::create(&tmp).map_err(Side::Write).and_then(|mut out| {
            pump(&mut entry, &mut out, None, progress)?;
            out.sync_all().map_err(Side::Write)
        });
        let result = match copied {
            Ok(()) => fs::rename(&tmp, &dest).map_err(io_error("rename", &tmp)),
            Err(Side::Read(source)) => {
                Err(DownloadError::CorruptEntry { archive: archive.to_owned(), entry: name.clone(), source })
            }
            Err(Side::Write(source)) => Err(DownloadError::Io { action: "write", path: tmp.clone(), source }),
        };
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        extracted.push(dest);
    }
    Ok(extracted)
}

/// Which side of a copy failed.
enum Side {
    Read(io::Error),
    Write(io::Error),
}

/// Copies `from` into `to` in chunks, feeding the hasher and the current progress stage; returns the byte count.
fn pump(
    from: &mut dyn Read,
    to: &mut dyn Write,
    mut hasher: Option<&mut dyn DynDigest>,
    progress: &dyn Progress,
) -> Result<u64, Side> {
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Side::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(Side::Write)?;
        if let Some(hasher) = hasher.as_deref_mut() {
            hasher.update(&buf[..n]);
        }
        total += n as u64;
        progress.advance(n as u64);
    }
}

/// A zip entry name that stays inside the extraction folder: relative, no `..`, no drive, no NUL.
fn is_safe_entry_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['/', '\\'])
        && !name.contains([':', '\0'])
        && name.split(['/', '\\']).all(|part| part != "..")
}

/// The first byte of a `Content-Range: bytes <start>-<end>/<total>` header.
fn content_range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> DownloadError + 'a {
    move |source| DownloadError::Io { action, path: path.to_owned(), source }
}

/// A progress stage that finishes when dropped, on success or error alike.
struct Stage<'a>(&'a dyn Progress);

impl<'a> Stage<'a> {
    fn start(progress: &'a dyn Progress, stage: &str, total: Option<u64>) -> Self {
        progress.start(stage, total);
        Stage(progress)
    }
}

impl Drop for Stage<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_outside_the_folder_are_unsafe() {
        for good in ["matlab/emnist-letters.mat", "gzip/x..y.gz", "a/./b"] {
            assert!(is_safe_entry_name(good), "{good}");
        }
        for bad in ["../evil", "gzip/../../evil", "/etc/passwd", "\\x", "c:/x", "a\\..\\b", "", "a\0b"] {
            assert!(!is_safe_entry_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn entries_follow_nist_names() {
        assert_eq!(ArchiveFormat::Matlab.entries("letters"), ["matlab/emnist-letters.mat"]);
        assert_eq!(
            ArchiveFormat::Gzip.entries("mnist"),
            [
                "gzip/emnist-mnist-train-images-idx3-ubyte.gz",
                "gzip/emnist-mnist-train-labels-idx1-ubyte.gz",
                "gzip/emnist-mnist-test-images-idx3-ubyte.gz",
                "gzip/emnist-mnist-test-labels-idx1-ubyte.gz",
                "gzip/emnist-mnist-mapping.txt",
            ]
        );
    }

    #[test]
    fn content_range_start_parses() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes 0-0/*"), Some(0));
        assert_eq!(content_range_start("bytes */200"), None);
        assert_eq!(content_range_start("items 1-2/3"), None);
    }

    #[test]
    fn pump_hashes_what_it_copies_and_tells_read_from_write_failures() {
        let (_, _, mut hasher) = ArchiveFormat::Gzip.digest();
        let mut out = Vec::new();
        let n = pump(&mut &b"abc"[..], &mut out, Some(hasher.as_mut()), &crate::progress::Silent);
        assert!(matches!(n, Ok(3)) && out == b"abc");
        let mut md5 = [0; 16];
        hasher.finalize_into_reset(&mut md5).unwrap();
        assert_eq!(md5[..4], [0x90, 0x01, 0x50, 0x98], "md5 of abc");
        let mut full = &mut [0u8; 2][..];
        let failed = pump(&mut &b"abc"[..], &mut full, None, &crate::progress::Silent);
        assert!(matches!(failed, Err(Side::Write(_))));
    }
}
