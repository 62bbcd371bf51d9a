//! The gRPC port under the same connection discipline as the HTTP port (reliability, round two):
//! a cap on connections (beyond it: GOAWAY), silent connections closed at the header timeout, a
//! message that trickles in ends in DEADLINE_EXCEEDED, a flood of gRPC connections under a small
//! file limit cannot starve the HTTP port, and SIGTERM with idle gRPC clients exits in time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::common::{emnist_bin, emnist_cmd, wait_for_ready, Server};
use crate::serve::model_file;

/// What an HTTP/2 client sends first: the connection preface and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

const SERVICE: &str = "inference.GRPCInferenceService";

fn start(model: &Path, extra: &[&str]) -> Server {
    let mut c = emnist_cmd();
    c.args(["serve", "--port", "0", "--grpc-port", "0", "--model"]).arg(model).args(extra);
    Server::spawn(c)
}

/// A connection to the gRPC port that sends the preface and SETTINGS, then nothing.
fn silent_grpc_client(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(PREFACE).unwrap();
    s
}

/// Everything the server sends until it closes the connection; `None` if it was still open
/// after the read timeout.
fn until_closed(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return None,
            Err(_) => return Some(out), // reset: closed too
        }
    }
}

fn metrics(url: &str) -> String {
    ureq::get(format!("{url}/metrics")).call().unwrap().body_mut().read_to_string().unwrap()
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok()).unwrap_or(0)
}

/// An HTTP/2 connection to `addr` (its driver spawned) with one call to `rpc` opened on it.
async fn open_call(
    addr: &str,
    rpc: &str,
) -> (h2::client::SendRequest<Bytes>, h2::client::ResponseFuture, h2::SendStream<Bytes>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post(format!("http://{addr}/{SERVICE}/{rpc}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (resp, stream) = client.send_request(req, false).unwrap();
    (client, resp, stream)
}

/// A unary call by hand over HTTP/2: the gRPC-framed `message` (its first `send` bytes only, when
/// given, the stream left open) to `rpc`; returns grpc-status, grpc-message and the answer bytes.
pub async fn call(addr: &str, rpc: &str, message: &[u8], send: Option<usize>) -> (String, String, Vec<u8>) {
    let (_client, resp, mut stream) = open_call(addr, rpc).await;
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    match send {
        None => stream.send_data(Bytes::from(framed), true).unwrap(),
        Some(n) => stream.send_data(Bytes::copy_from_slice(&framed[..n]), false).unwrap(),
    }
    let resp = resp.await.unwrap();
    let header = |h: &http::HeaderMap, k: &str| h.get(k).map(|v| v.to_str().unwrap().to_string());
    if let Some(status) = header(resp.headers(), "grpc-status") {
        // Trailers-only: an error.
        return (status, header(resp.headers(), "grpc-message").unwrap_or_default(), Vec::new());
    }
    let mut body = resp.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.unwrap().unwrap_or_default();
    (header(&trailers, "grpc-status").unwrap_or_default(), header(&trailers, "grpc-message").unwrap_or_default(), data)
}

fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn grpc_connections_are_capped_and_silent_ones_closed_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 41);
    let server =
        start(&model, &["--max-connections", "20", "--header-timeout-ms", "2000", "--idle-timeout-ms", "3000"]);
    let grpc = server.grpc.clone().expect("the gRPC address was printed");
    let mut clients: Vec<TcpStream> = (0..60).map(|_| silent_grpc_client(&grpc)).collect();
    let t0 = Instant::now();
    let mut told = 0;
    for (i, c) in clients.iter_mut().enumerate() {
        let got = until_closed(c).unwrap_or_else(|| panic!("connection {i} still open 20 s later"));
        if String::from_utf8_lossy(&got).contains("--max-connections") {
            told += 1;
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(20));
    // 40 refused; up to LINGERING_REFUSALS (32) of them linger to say why, the others are closed.
    assert!(told >= 8, "the refused connections read a GOAWAY that says why ({told})");
    let m = metrics(&server.url);
    assert_eq!(metric(&m, "emnist_connections_closed_total{reason=\"refused\"}"), 40, "{m}");
    assert_eq!(metric(&m, "emnist_connections_closed_total{reason=\"header_timeout\"}"), 20, "{m}");
    // Everyone else is still served, over gRPC and HTTP.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, message, answer) = rt.block_on(call(&grpc, "ServerLive", &[], None));
    assert_eq!((status.as_str(), message.as_str()), ("0", ""));
    assert_eq!(answer, [0, 0, 0, 0, 2, 0x08, 0x01], "ServerLiveResponse {{ live: true }}");
}

#[test]
fn a_grpc_message_that_trickles_in_gets_deadline_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 42);
    let server = start(&model, &["--request-timeout-ms", "1000"]);
    let grpc = server.grpc.clone().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A ModelInfer that declares a 4 KB message and sends one byte of it.
    let message = vec![0u8; 4096];
    let answer = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), call(&grpc, "ModelInfer", &message, Some(6))).await
    });
    let (status, text, _) = answer.expect("answered before the 20 s guard");
    assert_eq!(status, "4", "DEADLINE_EXCEEDED: {text}");
    assert!(percent_decoded(&text).contains("--request-timeout-ms"), "{text}");
    let m = metrics(&server.url);
    assert_eq!(metric(&m, "emnist_requests_total{protocol=\"grpc\",status=\"408\"}"), 1, "{m}");
    assert_eq!(metric(&m, "emnist_inflight_requests"), 0, "{m}");
}

/// The reproduction: under `ulimit -n`, idle gRPC connections took every descriptor and the HTTP
/// port could accept nothing. Now each port's cap is fitted under the limit.
#[test]
fn a_flood_of_grpc_connections_cannot_starve_the_http_port() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 43);
    let log = dir.path().join("serve.log");
    let ready_file = dir.path().join("ready.json");
    let script = format!(
        "ulimit -n 200 && exec '{}' serve --port 0 --grpc-port 0 --header-timeout-ms 60000 --model '{}' --ready-file '{}'",
        emnist_bin().display(),
        model.display(),
        ready_file.display()
    );
    let child = Command::new("bash")
        .args(["-c", &script])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let ready = wait_for_ready(&ready_file, &mut child.0, || std::fs::read_to_string(&log).unwrap_or_default());
    let (url, grpc) = (ready["http"].as_str().unwrap(), ready["grpc"].as_str().unwrap());
    let clients: Vec<TcpStream> = (0..300).map(|_| silent_grpc_client(grpc)).collect();
    // Wait until the server has taken all 300: each is either open (held until its header
    // timeout) or refused; the metrics request itself is one more open connection.
    let t0 = Instant::now();
    loop {
        let m = metrics(url);
        let taken =
            metric(&m, "emnist_open_connections ") + metric(&m, "emnist_connections_closed_total{reason=\"refused\"} ");
        if taken > 300 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "the server took {taken} of 301 connections in 20 s\n{m}");
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..20 {
        let r = ureq::get(format!("{url}/v2/health/ready")).call();
        assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(200), "the HTTP port answers beside 300 gRPC connections");
    }
    let m = metrics(url);
    assert!(metric(&m, "emnist_connections_closed_total{reason=\"refused\"}") > 0, "{m}");
    drop(clients);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("does not fit in this process's limit of 200 open files"), "{text}");
    assert!(!text.contains("cannot accept"), "no descriptor ran out:\n{text}");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_with_idle_grpc_connections_exits_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 44);
    let mut server = start(&model, &["--shutdown-grace-s", "2", "--header-timeout-ms", "60000"]);
    let grpc = server.grpc.clone().unwrap();
    let mut silent: Vec<TcpStream> = (0..5).map(|_| silent_grpc_client(&grpc)).collect();
    // And one client that made a call and keeps its connection open.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let kept = rt.block_on(async {
        let (client, resp, mut stream) = open_call(&grpc, "ServerReady").await;
        stream.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true).unwrap();
        assert_eq!(resp.await.unwrap().status(), 200);
        client
    });
    let t0 = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap().success());
    let code = loop {
        if let Some(code) = server.child.try_wait().unwrap() {
            break code;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "still running 20 s after SIGTERM with a 2 s grace period");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code.code(), Some(0));
    for s in &mut silent {
        assert!(until_closed(s).is_some(), "closed");
    }
    drop(kept);
}
