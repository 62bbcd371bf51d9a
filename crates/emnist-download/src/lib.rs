//! `emnist download`: fetch one of NIST's EMNIST archives (resumable), check its digest, extract one split.
//!
//! Extraction guards the disk: an entry declaring more bytes than its split can hold is refused
//! (a zip bomb), no entry yields more bytes than it declares, the declared sizes must fit in the
//! free space, and a bad archive is deleted (unless kept on request) so the next run downloads
//! it afresh.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::digest::DynDigest;

use emnist_data::progress::Progress;
use emnist_data::setting::Setting;
use emnist_data::Split;

/// Where NIST publishes `matlab.zip` and `gzip.zip`.
pub const DEFAULT_BASE_URL: &str = "https://biometrics.nist.gov/cs_links/EMNIST";

/// NIST has been reported to refuse clients without a normal User-Agent.
const USER_AGENT: &str = concat!("emnist/", env!("CARGO_PKG_VERSION"));
/// Recorded by another public loader, not by NIST: a mismatch only warns.
const MATLAB_SHA256: &str = "e1fa805cdeae699a52da0b77c2db17f6feb77eed125f9b45c022e7990444df95";
/// From NIST's dataset page: a mismatch fails unless verification is off.
const GZIP_MD5: &str = "58c8d27c78d21e728a6bc7b3cc06412e";
const CHUNK_BYTES: usize = 256 * 1024;
/// Free space left over after extracting, on top of the declared sizes.
const DISK_MARGIN: u64 = 64 << 20;

/// The most bytes one extracted entry of `split` may declare. The biggest an entry can honestly
/// be is the split stored without compression: per image 784 pixel bytes, plus its label and its
/// writer id as 8-byte doubles (the Matlab release's types; the idx files hold one byte per
/// label), plus 1 MiB for headers and the mapping. NIST's files are compressed and far smaller;
/// more than this is refused as a zip bomb before anything is written.
pub fn entry_size_limit(split: Split) -> u64 {
    split.images() * (784 + 8 + 8) + (1 << 20)
}

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
    pub fn entries(self, split: Split) -> Vec<String> {
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
    pub split: Split,
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
    #[error("`{url}` answered HTTP {status}")]
    HttpStatus { url: String, status: u16, archive: PathBuf },
    /// The connection failed or broke; `kept_bytes` of the archive are in `part` for the next try.
    #[error("cannot download `{url}`")]
    Network { url: String, part: PathBuf, kept_bytes: u64, source: Box<dyn std::error::Error + Send + Sync> },
    /// `deleted`, here and in the other variants that mean a bad archive: the archive was deleted
    /// (as it is unless asked to keep it), so that the next run downloads it again.
    #[error("{algorithm} of `{}` is {actual}, expected {expected}", .path.display())]
    DigestMismatch { path: PathBuf, algorithm: &'static str, expected: String, actual: String, deleted: bool },
    #[error("`{}` is not a valid zip archive", .path.display())]
    BadZip { path: PathBuf, source: zip::result::ZipError, deleted: bool },
    #[error("entry `{entry}` of `{}` is corrupt", .archive.display())]
    CorruptEntry { archive: PathBuf, entry: String, source: io::Error, deleted: bool },
    #[error("`{}` has no entry `{entry}`", .archive.display())]
    MissingEntry { archive: PathBuf, entry: String },
    #[error("`{}` holds an entry with an unsafe path `{entry}`", .archive.display())]
    UnsafeEntry { archive: PathBuf, entry: String, deleted: bool },
    /// A zip bomb, or not an EMNIST archive: see [`entry_size_limit`].
    #[error(
        "entry `{entry}` of `{}` declares {declared} bytes, more than the {limit} an EMNIST {split} file can hold; refusing to extract it",
        .archive.display()
    )]
    OversizedEntry { archive: PathBuf, entry: String, split: Split, declared: u64, limit: u64, deleted: bool },
    #[error(
        "extracting needs {} in `{}` (with a margin of {}), but only {} is free",
        mib(*.needed), .folder.display(), mib(DISK_MARGIN), mib(*.available)
    )]
    NoSpace { folder: PathBuf, needed: u64, available: u64 },
    #[error("cannot {action} `{}`", .path.display())]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

/// `1.5 MiB`.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

impl DownloadError {
    /// A fix worth printing as a `hint: ` line after the error, when one is known.
    pub fn hint(&self) -> Option<String> {
        if let Some((archive, deleted)) = self.bad_archive() {
            let again = match self {
                DownloadError::DigestMismatch { .. } => format!(
                    "run the same command again to download it afresh, or add {} to skip the check",
                    Setting::NoVerify
                ),
                _ => "run the same command again to download it afresh".into(),
            };
            return Some(if deleted {
                format!(
                    "the bad archive `{}` was deleted; {again} ({} keeps a bad archive)",
                    archive.display(),
                    Setting::KeepArchive
                )
            } else if matches!(self, DownloadError::DigestMismatch { .. }) {
                format!(
                    "delete `{}` to download it again, or turn digest verification off to use it as is",
                    archive.display()
                )
            } else {
                format!("the bad archive `{}` was kept; delete it to download it afresh", archive.display())
            });
        }
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
            DownloadError::NoSpace { .. } => {
                Some(format!("free some disk space, or download into another folder ({})", Setting::Dir))
            }
            _ => None,
        }
    }

    /// The archive, and whether it was deleted, when this error means the archive itself is bad.
    fn bad_archive(&self) -> Option<(&Path, bool)> {
        match self {
            DownloadError::DigestMismatch { path, deleted, .. } | DownloadError::BadZip { path, deleted, .. } => {
                Some((path, *deleted))
            }
            DownloadError::CorruptEntry { archive, deleted, .. }
            | DownloadError::UnsafeEntry { archive, deleted, .. }
            | DownloadError::OversizedEntry { archive, deleted, .. } => Some((archive, *deleted)),
            _ => None,
        }
    }

    /// Records that the bad archive was deleted.
    fn mark_deleted(&mut self) {
        match self {
            DownloadError::DigestMismatch { deleted, .. }
            | DownloadError::BadZip { deleted, .. }
            | DownloadError::CorruptEntry { deleted, .. }
            | DownloadError::UnsafeEntry { deleted, .. }
            | DownloadError::OversizedEntry { deleted, .. } => *deleted = true,
            _ => {}
        }
    }
}

/// Fetches `cfg.format`'s archive into `cfg.dir` unless it is there already (resuming a `.part`
/// file), checks its digest, extracts `cfg.split`'s entries, and deletes the archive unless asked to keep it.
pub fn download(cfg: &DownloadConfig, progress: &dyn Progress) -> Result<DownloadReport, DownloadError> {
    fs::create_dir_all(&cfg.dir).map_err(io_error("create", &cfg.dir))?;
    let name = cfg.format.archive_name();
    emnist_data::fsutil::remove_stale_temps(&cfg.dir, |n| n == name);
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
    let checked = if cfg.verify && !digest_verified {
        let shown = archive.display();
        match cfg.format {
            ArchiveFormat::Matlab => {
                progress.note(&format!(
                    "warning: {algorithm} of `{shown}` is {digest}, not the {expected} another loader recorded; continuing"
                ));
                Ok(())
            }
            ArchiveFormat::Gzip => Err(DownloadError::DigestMismatch {
                path: archive.clone(),
                algorithm,
                expected: expected.to_owned(),
                actual: digest.clone(),
                deleted: false,
            }),
        }
    } else {
        Ok(())
    };
    let extracted =
        checked.and_then(|()| extract(&archive, &cfg.dir, cfg.split, &cfg.format.entries(cfg.split), progress));
    let extracted = match extracted {
        Ok(files) => files,
        // A bad archive would fail the same way next time: delete it so that the next run downloads it again.
        Err(mut e) if e.bad_archive().is_some() && !cfg.keep_archive => {
            if fs::remove_file(&archive).is_ok() {
                e.mark_deleted();
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
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

/// Extracts the named entries of `split` under `dir`, refusing first, before anything is written:
/// archives that hold any absolute or `..` path, entries declaring more than [`entry_size_limit`],
/// and entries that would not fit in the free space. Each entry goes to a temporary file (never
/// more bytes than it declares; the CRC checked), and all are renamed into place once all are
/// written; on any failure every temporary is removed.
fn extract(
    archive: &Path,
    dir: &Path,
    split: Split,
    entries: &[String],
    progress: &dyn Progress,
) -> Result<Vec<PathBuf>, DownloadError> {
    let file = File::open(archive).map_err(io_error("open", archive))?;
    let bad_zip = |source| DownloadError::BadZip { path: archive.to_owned(), source, deleted: false };
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(bad_zip)?;
    if let Some(entry) = zip.file_names_raw().map(String::from_utf8_lossy).find(|n| !is_safe_entry_name(n)) {
        return Err(DownloadError::UnsafeEntry {
            archive: archive.to_owned(),
            entry: entry.into_owned(),
            deleted: false,
        });
    }
    let limit = entry_size_limit(split);
    let mut plan = Vec::with_capacity(entries.len());
    for name in entries {
        let entry = zip.by_name(name).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => {
                DownloadError::MissingEntry { archive: archive.to_owned(), entry: name.clone() }
            }
            other => bad_zip(other),
        })?;
        let declared = entry.size();
        if declared > limit {
            return Err(DownloadError::OversizedEntry {
                archive: archive.to_owned(),
                entry: name.clone(),
                split,
                declared,
                limit,
                deleted: false,
            });
        }
        let dest = name.split('/').fold(dir.to_path_buf(), |path, part| path.join(part));
        plan.push((name, dest, declared));
    }
    let mut needed: Vec<(PathBuf, u64)> = Vec::new();
    for (_, dest, declared) in &plan {
        let folder = dest.parent().unwrap_or(dir).to_path_buf();
        match needed.iter_mut().find(|(f, _)| *f == folder) {
            Some((_, n)) => *n += declared,
            None => needed.push((folder, *declared)),
        }
    }
    for (folder, bytes) in &needed {
        fs::create_dir_all(folder).map_err(io_error("create", folder))?;
        // Only the leftovers of the entries about to be written in this folder.
        let ours: Vec<String> = plan
            .iter()
            .filter(|(_, d, _)| d.parent() == Some(folder.as_path()))
            .map(|(_, d, _)| file_name(d))
            .collect();
        emnist_data::fsutil::remove_stale_temps(folder, |n| ours.iter().any(|o| o == n));
        check_space(folder, *bytes, available_bytes(folder))?;
    }
    // Every entry under a temporary name; all move into place only when all were written.
    let mut staged = emnist_data::fsutil::Staged::default();
    for (name, dest, declared) in &plan {
        let tmp = staged.temp_for(dest);
        let mut entry = zip.by_name(name).map_err(bad_zip)?;
        let _stage = Stage::start(progress, &format!("extracting {}", file_name(dest)), Some(*declared));
        let copied = File::create(&tmp).map_err(Side::Write).and_then(|mut out| {
            copy_declared(&mut entry, *declared, &mut out, progress)?;
            out.sync_all().map_err(Side::Write)
        });
        let failed = match copied {
            Ok(()) => None,
            Err(Side::Read(source)) => Some(DownloadError::CorruptEntry {
                archive: archive.to_owned(),
                entry: (*name).clone(),
                source,
                deleted: false,
            }),
            Err(Side::Write(source)) => Some(DownloadError::Io { action: "write", path: tmp.clone(), source }),
        };
        if let Some(e) = failed {
            return Err(e);
        }
    }
    staged.commit().map_err(|(dest, e)| io_error("rename", &dest)(e))
}

/// Copies exactly the `declared` bytes of an entry, then makes sure the entry ends there (reading
/// to the end is also where the zip crate checks the CRC): a header that under-states its entry
/// never gets more than it declared written.
fn copy_declared<R: Read>(
    entry: &mut R,
    declared: u64,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<(), Side> {
    let copied = pump(&mut entry.by_ref().take(declared), out, None, progress)?;
    let invalid = |what: String| Side::Read(io::Error::new(io::ErrorKind::InvalidData, what));
    if copied < declared {
        return Err(invalid(format!("it holds {copied} bytes, not the {declared} its header declares")));
    }
    let mut extra = [0u8; 1];
    let more = loop {
        match entry.read(&mut extra) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    match more {
        Ok(0) => Ok(()),
        Ok(_) => Err(invalid(format!("it holds more than the {declared} bytes its header declares"))),
        Err(e) => Err(Side::Read(e)),
    }
}

/// Refuses to extract `needed` bytes into `folder` unless they fit in the `available` space with
/// [`DISK_MARGIN`] to spare; passes when the free space is unknown.
fn check_space(folder: &Path, needed: u64, available: Option<u64>) -> Result<(), DownloadError> {
    match available {
        Some(available) if needed.saturating_add(DISK_MARGIN) > available => {
            Err(DownloadError::NoSpace { folder: folder.to_owned(), needed, available })
        }
        _ => Ok(()),
    }
}

/// Bytes an unprivileged process may still write on the file system holding `path` (statvfs).
#[cfg(unix)]
fn available_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes into the struct we own, and `c_path` is a NUL-terminated string.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
}

#[cfg(not(unix))]
fn available_bytes(_path: &Path) -> Option<u64> {
    None
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
        assert_eq!(ArchiveFormat::Matlab.entries(Split::Letters), ["matlab/emnist-letters.mat"]);
        assert_eq!(
            ArchiveFormat::Gzip.entries(Split::Mnist),
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
    fn size_limits_follow_the_split_image_counts() {
        assert_eq!(entry_size_limit(Split::Mnist), 70_000 * 800 + (1 << 20));
        assert_eq!(entry_size_limit(Split::Byclass), entry_size_limit(Split::Bymerge));
    }

    #[test]
    fn space_check_keeps_a_margin_and_passes_when_unknown() {
        let dir = Path::new("data/matlab");
        assert!(check_space(dir, 100, None).is_ok());
        assert!(check_space(dir, 100, Some(100 + DISK_MARGIN)).is_ok());
        let err = check_space(dir, 100 << 20, Some(100 << 20)).unwrap_err();
        assert!(matches!(err, DownloadError::NoSpace { .. }));
        assert_eq!(
            err.to_string(),
            "extracting needs 100.0 MiB in `data/matlab` (with a margin of 64.0 MiB), but only 100.0 MiB is free"
        );
        assert!(err.hint().unwrap().contains("free some disk space"));
        assert!(available_bytes(Path::new(".")).is_some_and(|b| b > 0));
    }

    #[test]
    fn declared_sizes_are_never_exceeded() {
        let silent = &emnist_data::progress::Silent;
        let mut out = Vec::new();
        assert!(copy_declared(&mut &b"abcdef"[..], 6, &mut out, silent).is_ok());
        assert_eq!(out, b"abcdef");
        let mut out = Vec::new();
        let Err(Side::Read(e)) = copy_declared(&mut &b"abcdef"[..], 4, &mut out, silent) else {
            panic!("a longer entry passed")
        };
        assert_eq!(out, b"abcd", "nothing past the declared size is written");
        assert!(e.to_string().contains("more than the 4 bytes its header declares"), "{e}");
        let Err(Side::Read(e)) = copy_declared(&mut &b"ab"[..], 4, &mut Vec::new(), silent) else {
            panic!("a shorter entry passed")
        };
        assert!(e.to_string().contains("holds 2 bytes, not the 4"), "{e}");
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
        let n = pump(&mut &b"abc"[..], &mut out, Some(hasher.as_mut()), &emnist_data::progress::Silent);
        assert!(matches!(n, Ok(3)) && out == b"abc");
        let mut md5 = [0; 16];
        hasher.finalize_into_reset(&mut md5).unwrap();
        assert_eq!(md5[..4], [0x90, 0x01, 0x50, 0x98], "md5 of abc");
        let mut full = &mut [0u8; 2][..];
        let failed = pump(&mut &b"abc"[..], &mut full, None, &emnist_data::progress::Silent);
        assert!(matches!(failed, Err(Side::Write(_))));
    }
}
