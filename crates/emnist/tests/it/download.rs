//! `emnist download` against a tiny local HTTP server: fetch, resume, status and digest errors,
//! unsafe archives, zip bombs and lying headers, and what happens to a bad archive.

use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use emnist_data::progress::Progress;
use emnist_download::{download, ArchiveFormat, DownloadConfig, DownloadError};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// Deterministic bytes that deflate barely shrinks, so the archive is large enough to cut mid-way.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn build_zip(entries: &[(&str, &[u8])], options: SimpleFileOptions) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn letters_mat() -> Vec<u8> {
    noise(120_000, 1)
}

fn matlab_zip() -> Vec<u8> {
    build_zip(
        &[("matlab/emnist-letters.mat", &letters_mat()), ("matlab/emnist-digits.mat", &noise(50_000, 2))],
        SimpleFileOptions::default(),
    )
}

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    range: Option<String>,
    user_agent: Option<String>,
}

#[derive(Clone, Copy, Default)]
struct Behaviour {
    /// Declare the full length but close the connection after this many body bytes, on the first request only.
    cut_first_after: Option<usize>,
    /// Answer 200 with the whole file even when asked for a range.
    ignore_range: bool,
}

struct Server {
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// An HTTP/1.1 server on 127.0.0.1:0 serving `files` at `/<name>`, one connection at a time, honouring
/// `Range: bytes=N-`, and refusing (403) clients whose User-Agent is not ours, as NIST reportedly does.
fn serve(files: Vec<(&'static str, Vec<u8>)>, behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}/cs_links/EMNIST", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let count = AtomicUsize::new(0);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let first = count.fetch_add(1, Ordering::SeqCst) == 0;
            let _ = handle(stream, &files, behaviour, first, &log);
        }
    });
    Server { base_url, seen }
}

fn handle(
    mut stream: TcpStream,
    files: &[(&'static str, Vec<u8>)],
    behaviour: Behaviour,
    first: bool,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let (mut range, mut user_agent) = (None, None);
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "range" => range = Some(value.trim().to_owned()),
                "user-agent" => user_agent = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    log.lock().unwrap().push(Seen { path: path.clone(), range: range.clone(), user_agent: user_agent.clone() });

    let file = files.iter().find(|(name, _)| path == format!("/cs_links/EMNIST/{name}"));
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|_| !behaviour.ignore_range);
    let (status, extra, body): (&str, String, &[u8]) = match file {
        _ if !user_agent.as_deref().unwrap_or("").starts_with("emnist/") => ("403 Forbidden", String::new(), b"no"),
        None => ("404 Not Found", String::new(), b"not found"),
        Some((_, bytes)) => match start {
            Some(n) if n >= bytes.len() => {
                ("416 Range Not Satisfiable", format!("Content-Range: bytes */{}\r\n", bytes.len()), b"")
            }
            Some(n) => (
                "206 Partial Content",
                format!("Content-Range: bytes {n}-{}/{}\r\n", bytes.len() - 1, bytes.len()),
                &bytes[n..],
            ),
            None => ("200 OK", String::new(), bytes.as_slice()),
        },
    };
    write!(stream, "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n", body.len())?;
    let sent = match behaviour.cut_first_after {
        Some(k) if first => &body[..k.min(body.len())],
        _ => body,
    };
    stream.write_all(sent)?;
    stream.flush()?;
    stream.shutdown(Shutdown::Both)
}

/// Records what the library reports, to check stages and notes.
#[derive(Default)]
struct Recorder {
    stages: Mutex<Vec<(String, Option<u64>)>>,
    notes: Mutex<Vec<String>>,
    advanced: AtomicUsize,
}

impl Progress for Recorder {
    fn start(&self, stage: &str, total: Option<u64>) {
        self.stages.lock().unwrap().push((stage.to_owned(), total));
    }
    fn advance(&self, n: u64) {
        self.advanced.fetch_add(n as usize, Ordering::SeqCst);
    }
    fn finish(&self) {}
    fn note(&self, message: &str) {
        self.notes.lock().unwrap().push(message.to_owned());
    }
}

impl Recorder {
    fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap().clone()
    }
}

fn config(split: &str, format: ArchiveFormat, dir: &Path, base_url: &str) -> DownloadConfig {
    DownloadConfig {
        split: split.parse().unwrap(),
        format,
        dir: dir.to_owned(),
        base_url: base_url.to_owned(),
        verify: true,
        keep_archive: false,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn matlab_archive_is_fetched_extracted_and_deleted_with_a_digest_warning() {
    let archive = matlab_zip();
    let server = serve(vec![("matlab.zip", archive.clone())], Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let progress = Recorder::default();
    let report = download(&config("letters", ArchiveFormat::Matlab, dir.path(), &server.base_url), &progress).unwrap();

    let mat = dir.path().join("matlab").join("emnist-letters.mat");
    assert_eq!(report.extracted, vec![mat.clone()]);
    assert_eq!(report.data_path, mat);
    assert_eq!(std::fs::read(&mat).unwrap(), letters_mat());
    assert!(!dir.path().join("matlab").join("emnist-digits.mat").exists(), "only the asked split is extracted");
    assert_eq!(report.archive, dir.path().join("matlab.zip"));
    assert!(!report.archive.exists(), "archive deleted without keep_archive");
    assert!(!dir.path().join("matlab.zip.part").exists());
    assert_eq!(report.bytes_downloaded, archive.len() as u64);
    assert_eq!(report.resumed_from, 0);
    assert_eq!(report.digest, hex(&Sha256::digest(&archive)));
    assert!(!report.digest_verified);
    assert!(progress.notes().iter().any(|n| n.starts_with("warning: sha256 of")), "{:?}", progress.notes());

    let stages = progress.stages.lock().unwrap().clone();
    assert_eq!(stages[0], ("downloading matlab.zip".to_owned(), Some(archive.len() as u64)));
    assert!(stages.iter().any(|(s, _)| s == "extracting emnist-letters.mat"));
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/cs_links/EMNIST/matlab.zip");
    assert_eq!(seen[0].range, None);
    assert!(seen[0].user_agent.as_deref().unwrap().starts_with("emnist/"));
}

#[test]
fn broken_connection_leaves_a_part_that_the_next_call_resumes() {
    let archive = matlab_zip();
    let cut = 40_000;
    let behaviour = Behaviour { cut_first_after: Some(cut), ..Behaviour::default() };
    let server = serve(vec![("matlab.zip", archive.clone())], behaviour);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config("letters", ArchiveFormat::Matlab, dir.path(), &server.base_url);
    cfg.keep_archive = true;

    let err = download(&cfg, &Recorder::default()).unwrap_err();
    assert!(matches!(err, DownloadError::Network { kept_bytes, .. } if kept_bytes == cut as u64), "{err:?}");
    assert!(err.to_string().starts_with("cannot download `http://127.0.0.1:"), "{err}");
    assert!(err.hint().unwrap().contains("run the same command again to resume"));
    let part = dir.path().join("matlab.zip.part");
    assert_eq!(std::fs::read(&part).unwrap(), archive[..cut]);

    let progress = Recorder::default();
    let report = download(&cfg, &progress).unwrap();
    assert_eq!(report.resumed_from, cut as u64);
    assert_eq!(report.bytes_downloaded, (archive.len() - cut) as u64);
    assert_eq!(std::fs::read(&report.archive).unwrap(), archive, "resumed archive is byte-identical");
    assert_eq!(report.digest, hex(&Sha256::digest(&archive)), "digest covers the resumed part too");
    assert!(!part.exists());
    assert_eq!(std::fs::read(&report.data_path).unwrap(), letters_mat());
    assert_eq!(server.seen()[1].range.as_deref(), Some(format!("bytes={cut}-").as_str()));
    let stages = progress.stages.lock().unwrap().clone();
    assert!(stages.contains(&("downloading matlab.zip".to_owned(), Some(archive.len() as u64))), "{stages:?}");
}

#[test]
fn server_ignoring_the_range_restarts_from_zero() {
    let archive = matlab_zip();
    let server = serve(vec![("matlab.zip", archive.clone())], Behaviour { ignore_range: true, ..Behaviour::default() });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("matlab.zip.part"), b"stale bytes from some other file").unwrap();
    let mut cfg = config("letters", ArchiveFormat::Matlab, dir.path(), &server.base_url);
    cfg.keep_archive = true;
    let progress = Recorder::default();
    let report = download(&cfg, &progress).unwrap();
    assert_eq!(report.resumed_from, 0);
    assert_eq!(report.bytes_downloaded, archive.len() as u64);
    assert_eq!(std::fs::read(&report.archive).unwrap(), archive);
    assert_eq!(report.digest, hex(&Sha256::digest(&archive)));
    assert!(progress.notes().iter().any(|n| n.contains("downloading from the start")));
}

#[test]
fn complete_part_answered_416_is_used_as_is() {
    let archive = matlab_zip();
    let server = serve(vec![("matlab.zip", archive.clone())], Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("matlab.zip.part"), &archive).unwrap();
    let report =
        download(&config("letters", ArchiveFormat::Matlab, dir.path(), &server.base_url), &Recorder::default())
            .unwrap();
    assert_eq!((report.bytes_downloaded, report.resumed_from), (0, archive.len() as u64));
    assert_eq!(report.digest, hex(&Sha256::digest(&archive)));
    assert_eq!(std::fs::read(&report.data_path).unwrap(), letters_mat());
}

#[test]
fn missing_file_on_the_server_is_a_clear_error() {
    let server = serve(vec![("matlab.zip", matlab_zip())], Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let err = download(&config("letters", ArchiveFormat::Gzip, dir.path(), &server.base_url), &Recorder::default())
        .unwrap_err();
    assert!(matches!(err, DownloadError::HttpStatus { status: 404, .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("`{}/gzip.zip` answered HTTP 404", server.base_url));
    assert!(err.hint().unwrap().contains("gzip.zip"));
    assert!(!dir.path().join("gzip.zip.part").exists(), "no empty .part left behind");
}

#[test]
fn refused_connection_is_a_network_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let err = download(&config("digits", ArchiveFormat::Matlab, dir.path(), &url), &Recorder::default()).unwrap_err();
    assert!(matches!(err, DownloadError::Network { kept_bytes: 0, .. }), "{err:?}");
    assert!(err.hint().unwrap().starts_with("check the network connection"));
    assert!(std::error::Error::source(&err).is_some(), "the cause is chained");
}

fn gzip_zip(split: &str) -> Vec<u8> {
    let names = ArchiveFormat::Gzip.entries(split.parse().unwrap());
    let contents: Vec<Vec<u8>> = (0..names.len()).map(|i| noise(1000 + i, 10 + i as u32)).collect();
    let entries: Vec<(&str, &[u8])> =
        names.iter().map(String::as_str).zip(contents.iter().map(Vec::as_slice)).collect();
    build_zip(&entries, SimpleFileOptions::default())
}

#[test]
fn gzip_md5_mismatch_fails_unless_verification_is_off() {
    let server = serve(vec![("gzip.zip", gzip_zip("digits"))], Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config("digits", ArchiveFormat::Gzip, dir.path(), &server.base_url);
    let err = download(&cfg, &Recorder::default()).unwrap_err();
    assert!(matches!(err, DownloadError::DigestMismatch { algorithm: "md5", deleted: true, .. }), "{err:?}");
    assert!(err.to_string().ends_with("expected 58c8d27c78d21e728a6bc7b3cc06412e"), "{err}");
    assert!(!dir.path().join("gzip.zip").exists(), "a mismatching archive is deleted");
    assert!(err.hint().unwrap().contains("was deleted"), "{:?}", err.hint());
    assert!(!dir.path().join("gzip").exists(), "nothing extracted");

    cfg.keep_archive = true;
    let err = download(&cfg, &Recorder::default()).unwrap_err();
    assert!(matches!(err, DownloadError::DigestMismatch { deleted: false, .. }), "{err:?}");
    assert!(dir.path().join("gzip.zip").exists(), "kept for inspection when asked");
    assert!(err.hint().unwrap().starts_with("delete `"), "{:?}", err.hint());

    cfg.verify = false;
    let report = download(&cfg, &Recorder::default()).unwrap();
    assert!(!report.digest_verified);
    assert_eq!(report.bytes_downloaded, 0, "the archive already in place is reused");
    assert_eq!(report.data_path, dir.path().join("gzip"));
    assert_eq!(report.extracted.len(), 5);
    for (path, name) in report.extracted.iter().zip(ArchiveFormat::Gzip.entries(emnist_data::Split::Digits)) {
        assert_eq!(path, &dir.path().join(&name));
        assert!(path.is_file(), "{name}");
    }
    assert_eq!(server.seen().len(), 2, "downloaded again after the deletion, not after keeping it");
}

#[test]
fn kept_archive_serves_another_split_without_the_network() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("matlab.zip"), matlab_zip()).unwrap();
    let mut cfg = config("digits", ArchiveFormat::Matlab, dir.path(), "http://127.0.0.1:9");
    cfg.keep_archive = true;
    let progress = Recorder::default();
    let report = download(&cfg, &progress).unwrap();
    assert_eq!(report.bytes_downloaded, 0);
    assert_eq!(std::fs::read(&report.data_path).unwrap(), noise(50_000, 2));
    assert!(report.archive.exists());
    assert!(progress.notes()[0].starts_with("using the archive already in"));
}

#[test]
fn archive_with_a_parent_dir_entry_is_rejected() {
    let archive =
        build_zip(&[("matlab/emnist-letters.mat", b"fine"), ("../evil", b"gotcha")], SimpleFileOptions::default());
    let server = serve(vec![("matlab.zip", archive)], Behaviour::default());
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let err =
        download(&config("letters", ArchiveFormat::Matlab, &dir, &server.base_url), &Recorder::default()).unwrap_err();
    assert!(matches!(&err, DownloadError::UnsafeEntry { entry, deleted: true, .. } if entry == "../evil"), "{err:?}");
    assert!(!parent.path().join("evil").exists());
    assert!(!dir.join("matlab").exists());
    assert!(!dir.join("matlab.zip").exists(), "the bad archive is deleted");
}

#[test]
fn absent_split_entry_is_reported() {
    let server = serve(vec![("matlab.zip", matlab_zip())], Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let err = download(&config("balanced", ArchiveFormat::Matlab, dir.path(), &server.base_url), &Recorder::default())
        .unwrap_err();
    assert!(matches!(&err, DownloadError::MissingEntry { entry, .. } if entry == "matlab/emnist-balanced.mat"));
    assert!(err.to_string().ends_with("has no entry `matlab/emnist-balanced.mat`"), "{err}");
}

#[test]
fn corrupt_entry_fails_its_crc_and_leaves_no_file() {
    let content = noise(5000, 7);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut archive = build_zip(&[("matlab/emnist-mnist.mat", &content)], stored);
    let at = archive.windows(content.len()).position(|w| w == content.as_slice()).unwrap() + 2500;
    archive[at] ^= 0xff;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("matlab.zip"), archive).unwrap();
    let err = download(&config("mnist", ArchiveFormat::Matlab, dir.path(), "http://127.0.0.1:9"), &Recorder::default())
        .unwrap_err();
    assert!(matches!(err, DownloadError::CorruptEntry { deleted: true, .. }), "{err:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path().join("matlab")).unwrap().collect();
    assert!(left.is_empty(), "no extracted or temporary file left: {left:?}");
    assert!(!dir.path().join("matlab.zip").exists(), "the bad archive is deleted");
}

/// A deflated entry of `len` zeros: a few hundred kilobytes that declare `len` bytes.
fn zeros_zip(name: &str, len: usize) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file(name, SimpleFileOptions::default().compression_level(Some(1))).unwrap();
    let block = vec![0u8; 1 << 20];
    for _ in 0..len >> 20 {
        zip.write_all(&block).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn zip_bomb_is_refused_before_anything_is_written_and_deleted_unless_kept() {
    // 64 MiB of zeros declared for the mnist split, which can hold at most 70,000 × 800 bytes + 1 MiB.
    let limit = emnist_download::entry_size_limit(emnist_data::Split::Mnist);
    let bomb = zeros_zip("matlab/emnist-mnist.mat", 64 << 20);
    assert!(bomb.len() < 1 << 20 && (64 << 20) > limit);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("matlab.zip");
    std::fs::write(&archive, &bomb).unwrap();
    let mut cfg = config("mnist", ArchiveFormat::Matlab, dir.path(), "http://127.0.0.1:9");
    let err = download(&cfg, &Recorder::default()).unwrap_err();
    assert!(
        matches!(&err, DownloadError::OversizedEntry { declared, limit: l, deleted: true, .. } if *declared == 64 << 20 && *l == limit),
        "{err:?}"
    );
    assert!(err.to_string().contains("declares 67108864 bytes"), "{err}");
    assert!(err.hint().unwrap().contains("was deleted"), "{:?}", err.hint());
    assert!(!dir.path().join("matlab").exists(), "nothing extracted");
    assert!(!archive.exists(), "the bomb is deleted");

    std::fs::write(&archive, &bomb).unwrap();
    cfg.keep_archive = true;
    let err = download(&cfg, &Recorder::default()).unwrap_err();
    assert!(matches!(err, DownloadError::OversizedEntry { deleted: false, .. }), "{err:?}");
    assert!(archive.exists(), "kept when asked");
    assert!(err.hint().unwrap().contains("was kept"), "{:?}", err.hint());
    assert!(!dir.path().join("matlab").exists(), "nothing extracted");

    // The binary: one error line and the hint, exit 1; the archive stays with `--keep-archive`.
    let out = crate::common::emnist_cmd()
        .args(["download", "--split", "mnist", "--base-url", "http://127.0.0.1:9", "--keep-archive", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("emnist-mnist.mat") && errors[0].contains("refusing"), "{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("hint: ")), "{stderr}");
    assert!(archive.exists());
}

/// Rewrites the uncompressed size that the local and central headers of the only entry declare.
fn declare_size(archive: &mut [u8], size: u32) {
    for (signature, offset) in [([0x50, 0x4b, 0x03, 0x04], 22), ([0x50, 0x4b, 0x01, 0x02], 24)] {
        let at = archive.windows(4).position(|w| w == signature).unwrap() + offset;
        archive[at..at + 4].copy_from_slice(&size.to_le_bytes());
    }
}

#[test]
fn entry_longer_than_its_header_declares_is_cut_and_refused() {
    let content = noise(50_000, 3);
    let mut archive = build_zip(&[("matlab/emnist-digits.mat", &content)], SimpleFileOptions::default());
    declare_size(&mut archive, 1000);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("matlab.zip"), archive).unwrap();
    let mut cfg = config("digits", ArchiveFormat::Matlab, dir.path(), "http://127.0.0.1:9");
    cfg.keep_archive = true;
    let err = download(&cfg, &Recorder::default()).unwrap_err();
    assert!(matches!(err, DownloadError::CorruptEntry { deleted: false, .. }), "{err:?}");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    // Caught by us (`more than the 1000 bytes its header declares`) or by the zip crate itself.
    assert!(cause.contains("declared") || cause.contains("declares"), "{cause}");
    let left: Vec<_> = std::fs::read_dir(dir.path().join("matlab")).unwrap().collect();
    assert!(left.is_empty(), "no extracted or temporary file left: {left:?}");
    assert!(dir.path().join("matlab.zip").exists(), "kept when asked");
}

#[test]
fn stale_temporaries_of_dead_processes_are_removed_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("matlab.zip"), matlab_zip()).unwrap();
    std::fs::create_dir(dir.path().join("matlab")).unwrap();
    let dead =
        [dir.path().join(".matlab.zip.999999999.tmp"), dir.path().join("matlab/.emnist-letters.mat.999999999.tmp")];
    let live = dir.path().join(format!("matlab/.emnist-digits.mat.{}.tmp", std::process::id()));
    for f in dead.iter().chain([&live]) {
        std::fs::write(f, b"left over").unwrap();
    }
    let mut cfg = config("letters", ArchiveFormat::Matlab, dir.path(), "http://127.0.0.1:9");
    cfg.keep_archive = true;
    download(&cfg, &Recorder::default()).unwrap();
    for f in &dead {
        assert!(!f.exists(), "{} is a dead process's and goes", f.display());
    }
    assert!(live.exists(), "a live process's temporary stays");
}

#[test]
fn an_unknown_split_is_a_usage_error_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::common::emnist_cmd()
        .args(["download", "--split", "Letters", "--base-url", "http://127.0.0.1:9", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'Letters'") && err.contains("byclass"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing is created");
}
