//! `emnist health`: exit 0 against a ready server, 1 with the reason otherwise (a container's
//! health check without curl).

use std::io::{Read, Write};
use std::process::Output;

use crate::common::{emnist_cmd, Server};
use crate::serve::model_file;

fn health(args: &[&str]) -> Output {
    emnist_cmd().arg("health").args(args).output().unwrap()
}

#[test]
fn health_passes_on_a_ready_server_and_says_why_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 51);
    let mut c = emnist_cmd();
    c.args(["serve", "--port", "0", "--model"]).arg(&model);
    let server = Server::spawn(c);
    for extra in [&[][..], &["--live"][..]] {
        let o = health(&[&["--url", &server.url][..], extra].concat());
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(out.starts_with("healthy: ") && out.contains("/v2/health/"), "{out}");
    }
    let o = health(&["--url", &server.url, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["route"], "/v2/health/ready");
    drop(server);

    // A server that is not ready: its reason is the error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answering = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let body = r#"{"error":"the server is shutting down"}"#;
        let head = format!("HTTP/1.1 503 Service Unavailable\r\ncontent-length: {}\r\n\r\n", body.len());
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body.as_bytes()).unwrap();
    });
    let o = health(&["--url", &url]);
    answering.join().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("answered 503: the server is shutting down"), "{err}");

    // Nobody there: a clear error within the time limit.
    let o = health(&["--url", "http://127.0.0.1:9", "--timeout-ms", "500"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot reach") && err.contains("emnist serve"), "{err}");
}
