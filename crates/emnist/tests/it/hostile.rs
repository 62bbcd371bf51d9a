//! Hostile input end to end: `emnist query` against servers that answer too much or garbage,
//! `emnist explore --data` on things that are not files, and `/predict` on pictures built to cost
//! memory. Every command runs under a 10-second guard: a hang fails the test instead of hanging it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{emnist_cmd, fixture, Server};

/// Runs `cmd` to its end, or kills it and fails the test after `secs` seconds.
pub fn output_within(mut cmd: Command, secs: u64) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).ok();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).ok();
        v
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command did not finish within {secs} s: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

/// A one-thread HTTP server on 127.0.0.1 that answers every request with `answer(method line)`:
/// (status line and headers, then the body writer). Runs until the test process ends.
fn hostile_server(answer: fn(&str, &mut TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut first = String::new();
                    if reader.read_line(&mut first).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0usize;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if h == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0u8; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    answer(&first, &mut stream);
                }
            });
        }
    });
    url
}

/// Metadata that parses and announces nothing (the check goes on); inference answers that never end.
fn endless_answers(first: &str, s: &mut TcpStream) {
    if first.starts_with("GET") {
        let body = br#"{"name":"emnist","platform":"onnx"}"#;
        let _ =
            write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
        let _ = s.write_all(body);
        return;
    }
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n[");
    let chunk = [b'0'; 1 << 16];
    // Until the client hangs up (at most 1 GiB: the test fails on its timeout long before).
    for _ in 0..(1 << 14) {
        if s.write_all(&chunk).is_err() {
            return;
        }
    }
}

/// Metadata that is not JSON.
fn garbage_metadata(_: &str, s: &mut TcpStream) {
    let body = b"<html>hello</html>";
    let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\r\n", body.len());
    let _ = s.write_all(body);
}

/// Metadata that never ends.
fn endless_metadata(_: &str, s: &mut TcpStream) {
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"name\":\"");
    let chunk = [b'a'; 1 << 16];
    for _ in 0..(1 << 14) {
        if s.write_all(&chunk).is_err() {
            return;
        }
    }
}

fn query(url: &str, model: &Path, extra: &[&str]) -> Output {
    let mut cmd = emnist_cmd();
    cmd.args(["query", "--url", url, "--data"]).arg(fixture("mnist-style")).arg("--model").arg(model).args(extra);
    output_within(cmd, 10)
}

#[test]
fn query_refuses_answers_larger_than_they_can_be() {
    let dir = tempfile::tempdir().unwrap();
    let model = crate::serve::model_file(dir.path(), 5);
    let url = hostile_server(endless_answers);
    let o = query(&url, &model, &["--protocol", "kserve", "--batch", "2", "--concurrency", "8"]);
    // The table (with each protocol's first error) is on stdout, the verdict on stderr.
    let err = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("the deployment does not behave like the model"), "{err}");
    let limit = emnist_serve::query::answer_limit_bytes(2, 10);
    assert!(err.contains(&format!("larger than the {limit} bytes it can legitimately be")), "{err}");
    assert!(err.contains("the server announces no sha256"), "metadata that parses may lack the digest: {err}");
}

#[test]
fn query_refuses_metadata_that_is_not_json_or_never_ends() {
    let dir = tempfile::tempdir().unwrap();
    let model = crate::serve::model_file(dir.path(), 5);
    let o = query(&hostile_server(garbage_metadata), &model, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("answered something that is not JSON"), "{err}");
    assert!(!err.contains("announces no sha256"), "{err}");
    let o = query(&hostile_server(endless_metadata), &model, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let limit = emnist_serve::query::METADATA_LIMIT_BYTES;
    assert!(err.contains(&format!("larger than the {limit} bytes")), "{err}");
}

fn explore_data(path: &Path) -> Output {
    let mut cmd = emnist_cmd();
    cmd.args(["explore", "--no-cache", "--data"]).arg(path);
    output_within(cmd, 10)
}

#[test]
fn explore_names_what_a_path_that_is_no_file_is_and_never_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.mat");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    for (path, what) in [
        (fifo.as_path(), "is a FIFO (named pipe), not a regular file"),
        (Path::new("/dev/zero"), "is a character device, not a regular file"),
        (a.as_path(), "is a symbolic link loop"),
    ] {
        let o = explore_data(path);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(what) && !err.contains("does not exist"), "{}: {err}", path.display());
    }
    // An idx folder whose training images are a FIFO: named, not waited on.
    let idx = dir.path().join("idx");
    std::fs::create_dir(&idx).unwrap();
    for name in ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::fs::copy(fixture("mnist-style").join(name), idx.join(name)).unwrap();
    }
    assert!(Command::new("mkfifo").arg(idx.join("train-images-idx3-ubyte")).status().unwrap().success());
    let o = explore_data(&idx);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("train-images-idx3-ubyte` is a FIFO (named pipe), not a regular file"), "{err}");
}

/// A PNG from its chunks (CRCs computed here, independently of the server's reader).
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = !0u32;
    for &b in kind.iter().chain(data) {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    out.extend_from_slice(&(!crc).to_be_bytes());
    out
}

#[test]
fn predict_says_what_is_wrong_with_a_picture() {
    let dir = tempfile::tempdir().unwrap();
    let model = crate::serve::model_file(dir.path(), 7);
    let server = Server::spawn({
        let mut c = emnist_cmd();
        c.args(["serve", "--port", "0", "--engine", "tract", "--model"]).arg(&model);
        c
    });
    let post = |body: &[u8]| {
        let mut r = ureq::post(format!("{}/predict", server.url))
            .config()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .header("content-type", "image/png")
            .send(body)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        (r.status().as_u16(), v["error"].as_str().unwrap_or_default().to_string())
    };
    // 8000×8000 grey: refused from its header.
    let mut ihdr = 8000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&8000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    for c in [png_chunk(b"IHDR", &ihdr), png_chunk(b"IDAT", &[0x78, 0x01]), png_chunk(b"IEND", b"")] {
        big.extend(c);
    }
    let (status, error) = post(&big);
    assert_eq!(status, 422, "{error}");
    assert!(error.contains("8000×8000") && error.contains("2048×2048"), "{error}");
    // A real picture cut in half: damaged, not "not a PNG".
    let img = image::GrayImage::from_fn(60, 60, |x, _| image::Luma([if (20..40).contains(&x) { 0 } else { 255 }]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let (status, error) = post(&png[..png.len() / 2]);
    assert_eq!(status, 400, "{error}");
    assert!(error.starts_with("the PNG is damaged: ") && error.contains("cut short"), "{error}");
    let (status, error) = post(b"GIF89a not ours");
    assert_eq!(status, 415, "{error}");
    assert!(error.contains("not a PNG or JPEG"), "{error}");
    let (status, _) = post(&png);
    assert_eq!(status, 200);
}
