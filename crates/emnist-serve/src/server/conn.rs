//! Connections: our own accept loop over hyper's HTTP/1 server (the HTTP port) and HTTP/2 server
//! (the gRPC port), so that the server sheds what a hostile or broken network sends it, on both
//! ports alike. A cap on open connections per port (beyond it: a raw 503, or an HTTP/2 GOAWAY, and
//! close), a header-read timeout (HTTP/1: a request head must arrive whole within it of its first
//! byte; HTTP/2: the first call must arrive within it of the connection's start; a TLS handshake
//! must end within it), an idle timeout (a connection with nothing to do is closed; HTTP/2 pings do
//! not count as something to do), and a bounded shutdown: on SIGINT/SIGTERM no new connections,
//! idle ones closed at once, requests in flight answered, and whatever is still open after the
//! grace period closed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::metrics::Metrics;
use emnist_data::setting::Setting;

/// What a port speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// HTTP/1.1: the REST protocols, the page, metrics.
    Http1,
    /// HTTP/2 for gRPC (KServe v2 / Triton's `GRPCInferenceService`).
    Grpc,
}

/// How many refused connections at once a port lingers on (reading what the client still sends,
/// so that it sees the refusal); beyond that, a refused connection is closed at once. Bounded so
/// that a flood of refused connections cannot hold file descriptors either.
pub const LINGERING_REFUSALS: usize = 32;

/// Most calls one HTTP/2 connection may have open at once (each is also counted towards
/// `--max-inflight`).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 1024;

/// HTTP/2 keep-alive: a ping after this much silence on a gRPC connection, and the connection is
/// closed when the ping is not answered within [`KEEPALIVE_TIMEOUT`].
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// See [`KEEPALIVE_INTERVAL`].
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How connections are treated (the connection flags of `emnist serve`).
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// Connections open at once on each port; more are refused (HTTP: 503; gRPC: GOAWAY) and closed.
    pub max_connections: usize,
    /// Longest a request head may take from its first byte to its last.
    pub header_timeout: Duration,
    /// Longest a connection may sit with no request and no traffic.
    pub idle_timeout: Duration,
    /// After SIGINT/SIGTERM, how long requests in flight may take before every connection is closed.
    pub shutdown_grace: Duration,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            max_connections: super::defaults::MAX_CONNECTIONS as usize,
            header_timeout: Duration::from_millis(super::defaults::HEADER_TIMEOUT_MS),
            idle_timeout: Duration::from_millis(super::defaults::IDLE_TIMEOUT_MS),
            shutdown_grace: Duration::from_secs_f64(super::defaults::SHUTDOWN_GRACE_S),
        }
    }
}

/// How the server's connections ended, for the shutdown log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Closed {
    /// Connections still open when the grace period ran out, closed with whatever they were doing.
    pub cut_at_grace_end: usize,
}

/// Milliseconds since the first call: a clock that fits in an atomic.
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// What a connection's watchdog needs to know, updated by its socket and its requests.
#[derive(Default)]
struct Activity {
    /// Last byte read or written (`now_ms`).
    last_io_ms: AtomicU64,
    /// First byte of a request head not yet handed to the router; 0 when none.
    head_started_ms: AtomicU64,
    /// Requests the router is handling on this connection.
    busy: AtomicUsize,
    /// HTTP/2: traffic alone (pings, window updates) is not activity, and only the first call is
    /// timed as a request head (a call's message is bounded by the request timeout instead).
    h2: bool,
}

impl Activity {
    fn new(wire: Wire) -> Activity {
        let a = Activity { h2: wire == Wire::Grpc, ..Default::default() };
        a.touch();
        if a.h2 {
            // The connection's first call must arrive within the header timeout of its start.
            a.head_started_ms.store(now_ms(), Ordering::Relaxed);
        }
        a
    }

    fn touch(&self) {
        self.last_io_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// A socket that reports its traffic to the connection's [`Activity`].
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before && !self.activity.h2 {
            let a = &self.activity;
            a.touch();
            if a.busy.load(Ordering::Acquire) == 0 && a.head_started_ms.load(Ordering::Relaxed) == 0 {
                a.head_started_ms.store(now_ms(), Ordering::Relaxed);
            }
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) && !self.activity.h2 {
            self.activity.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) && !self.activity.h2 {
            self.activity.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Marks a connection busy while the router handles one of its requests (also when the request
/// is dropped half-way).
struct Busy(Arc<Activity>);

impl Busy {
    fn enter(activity: &Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::AcqRel);
        activity.head_started_ms.store(0, Ordering::Relaxed);
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// Accepts connections speaking `wire` until `shutdown` resolves, then closes them as described
/// in the module documentation and returns once every connection is gone.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    wire: Wire,
    cfg: ConnConfig,
    metrics: Arc<Metrics>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> Closed {
    let (stop_tx, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    let lingering = Arc::new(Semaphore::new(LINGERING_REFUSALS));
    let mut accept_errors = 0u64;
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors or similar: back off instead of spinning, and
                        // say so once a second at most.
                        accept_errors += 1;
                        if accept_errors == 1 || accept_errors.is_multiple_of(20) {
                            tracing::warn!(error = %e, times = accept_errors, "cannot accept a connection");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let (app, cfg, metrics, stop) = (app.clone(), cfg.clone(), metrics.clone(), stop_rx.clone());
                        let tls = tls.clone();
                        tasks.spawn(async move {
                            let _permit = permit;
                            connection(stream, app, wire, &cfg, &metrics, tls, stop).await;
                        });
                    }
                    Err(_) => {
                        metrics.connection_closed("refused");
                        // Over TLS nothing readable can be said before a handshake: just close.
                        if let (None, Ok(slot)) = (&tls, lingering.clone().try_acquire_owned()) {
                            let max = cfg.max_connections;
                            tasks.spawn(async move {
                                let _slot = slot;
                                refuse(stream, wire, max).await;
                            });
                        }
                    }
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = async { while tasks.join_next().await.is_some() {} };
    let mut closed = Closed::default();
    if tokio::time::timeout(cfg.shutdown_grace, drained).await.is_err() {
        closed.cut_at_grace_end = tasks.len();
        for _ in 0..tasks.len() {
            metrics.connection_closed("shutdown_grace");
        }
        tasks.shutdown().await;
    }
    closed
}

/// Serves one connection: hyper's HTTP/1 or HTTP/2 over the router (after a TLS handshake, with
/// `tls`, which must end within the header timeout), watched for header and idle timeouts and for
/// the server's shutdown.
async fn connection(
    stream: TcpStream,
    app: Router,
    wire: Wire,
    cfg: &ConnConfig,
    metrics: &Metrics,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new(wire));
    let _open = metrics.connection_opened();
    let tracked = Tracked { stream, activity: activity.clone() };
    match tls {
        None => drive(TokioIo::new(tracked), app, wire, cfg, metrics, activity, stop).await,
        Some(acceptor) => match tokio::time::timeout(cfg.header_timeout, acceptor.accept(tracked)).await {
            Ok(Ok(stream)) => drive(TokioIo::new(stream), app, wire, cfg, metrics, activity, stop).await,
            Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed; connection closed"),
            Err(_) => {
                metrics.connection_closed("header_timeout");
                tracing::debug!("TLS handshake took longer than the header timeout; connection closed");
            }
        },
    }
}

async fn drive<I>(
    io: TokioIo<I>,
    app: Router,
    wire: Wire,
    cfg: &ConnConfig,
    metrics: &Metrics,
    activity: Arc<Activity>,
    stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let busy = Busy::enter(&activity);
            let call = app.clone().oneshot(req.map(Body::new));
            async move {
                let resp = call.await;
                drop(busy);
                resp
            }
        })
    };
    match wire {
        Wire::Http1 => {
            let mut http = hyper::server::conn::http1::Builder::new();
            // Our watchdog times request heads; hyper's own timer would also close idle keep-alive
            // connections at the same deadline.
            http.timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
            let conn = http.serve_connection(io, service);
            watch_over(conn, |c| c.graceful_shutdown(), cfg, metrics, &activity, stop).await
        }
        Wire::Grpc => {
            let mut http = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            http.timer(TokioTimer::new())
                .keep_alive_interval(KEEPALIVE_INTERVAL)
                .keep_alive_timeout(KEEPALIVE_TIMEOUT)
                .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION);
            let conn = http.serve_connection(io, service);
            watch_over(conn, |c| c.graceful_shutdown(), cfg, metrics, &activity, stop).await
        }
    }
}

/// Drives a connection to its end while closing it past the header or idle timeout (HTTP/1: at
/// once for a head that trickles in; otherwise gracefully) and on the server's shutdown.
async fn watch_over<C>(
    conn: C,
    graceful: impl Fn(Pin<&mut C>),
    cfg: &ConnConfig,
    metrics: &Metrics,
    activity: &Activity,
    mut stop: watch::Receiver<bool>,
) where
    C: Future<Output = Result<(), hyper::Error>>,
{
    tokio::pin!(conn);
    let mut closing = *stop.borrow();
    if closing {
        graceful(conn.as_mut());
    }
    loop {
        let wake = next_check(activity, cfg, now_ms());
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !closing => {
                if changed.is_ok() && *stop.borrow() {
                    closing = true;
                    graceful(conn.as_mut());
                }
            }
            _ = tokio::time::sleep(wake) => {
                match overdue(activity, cfg, now_ms()) {
                    Some("header_timeout") => {
                        // A head (or, over HTTP/2, a first call) that does not come: drop the
                        // connection without a word.
                        metrics.connection_closed("header_timeout");
                        tracing::debug!("closed a connection whose request head took too long");
                        return;
                    }
                    Some(reason) if !closing => {
                        metrics.connection_closed(reason);
                        closing = true;
                        graceful(conn.as_mut());
                    }
                    _ => {}
                }
            }
        }
    }
}

/// How long until the watchdog should look at the connection again.
fn next_check(activity: &Activity, cfg: &ConnConfig, now: u64) -> Duration {
    let head = activity.head_started_ms.load(Ordering::Relaxed);
    let idle_at = activity.last_io_ms.load(Ordering::Relaxed) + cfg.idle_timeout.as_millis() as u64;
    let mut at = idle_at;
    if head != 0 {
        at = at.min(head + cfg.header_timeout.as_millis() as u64);
    }
    // Heads can start between checks: look at least every header timeout.
    let until = at.saturating_sub(now).clamp(10, cfg.header_timeout.as_millis().max(10) as u64);
    Duration::from_millis(until)
}

/// Which limit, if any, the connection has run past.
fn overdue(activity: &Activity, cfg: &ConnConfig, now: u64) -> Option<&'static str> {
    let head = activity.head_started_ms.load(Ordering::Relaxed);
    if head != 0 && activity.busy.load(Ordering::Acquire) == 0 && now >= head + cfg.header_timeout.as_millis() as u64 {
        return Some("header_timeout");
    }
    let idle = activity.busy.load(Ordering::Acquire) == 0 && head == 0;
    if idle && now >= activity.last_io_ms.load(Ordering::Relaxed) + cfg.idle_timeout.as_millis() as u64 {
        return Some("idle");
    }
    None
}

/// Beyond `--max-connections`, what the client is told: HTTP/1, a 503 written straight to the
/// socket; HTTP/2, the server's SETTINGS and a GOAWAY (no stream processed, ENHANCE_YOUR_CALM)
/// whose debug data says why, which gRPC clients report as UNAVAILABLE.
fn refusal(wire: Wire, max: usize) -> Vec<u8> {
    let why = format!(
        "the server is at its limit of {max} open connections; retry shortly or raise {}",
        Setting::MaxConnections
    );
    match wire {
        Wire::Http1 => {
            let body = format!("{{\"error\":\"{why}\"}}");
            let head = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            [head.into_bytes(), body.into_bytes()].concat()
        }
        Wire::Grpc => {
            const SETTINGS: u8 = 0x4;
            const GOAWAY: u8 = 0x7;
            const ENHANCE_YOUR_CALM: u32 = 0xb;
            let frame = |kind: u8, payload: &[u8]| {
                let len = (payload.len() as u32).to_be_bytes();
                let mut f = vec![len[1], len[2], len[3], kind, 0, 0, 0, 0, 0];
                f.extend_from_slice(payload);
                f
            };
            let mut goaway = 0u32.to_be_bytes().to_vec(); // last stream processed: none
            goaway.extend_from_slice(&ENHANCE_YOUR_CALM.to_be_bytes());
            goaway.extend_from_slice(why.as_bytes());
            [frame(SETTINGS, &[]), frame(GOAWAY, &goaway)].concat()
        }
    }
}

/// Refuses a connection beyond `--max-connections` (see [`refusal`]), then closes it lingering:
/// the client's request is read and dropped for a moment, so that it sees the answer, not a reset.
async fn refuse(mut stream: TcpStream, wire: Wire, max: usize) {
    let answer = refusal(wire, max);
    let linger = async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut left: usize = 64 * 1024;
        while left > 0 {
            let n = stream.read(&mut sink).await?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), linger).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ConnConfig {
        ConnConfig {
            header_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(2000),
            ..Default::default()
        }
    }

    fn activity(last_io_ms: u64, head_started_ms: u64, busy: usize) -> Activity {
        Activity {
            last_io_ms: AtomicU64::new(last_io_ms),
            head_started_ms: AtomicU64::new(head_started_ms),
            busy: AtomicUsize::new(busy),
            h2: false,
        }
    }

    #[test]
    fn an_http2_connection_must_open_a_call_within_the_header_timeout() {
        let a = Activity::new(Wire::Grpc);
        assert_ne!(a.head_started_ms.load(Ordering::Relaxed), 0, "timed from the start");
        let later = now_ms() + 500;
        assert_eq!(overdue(&a, &cfg(), later), Some("header_timeout"));
        let busy = Arc::new(a);
        drop(Busy::enter(&busy));
        assert_eq!(overdue(&busy, &cfg(), now_ms() + 1999), None, "a call came: only idleness counts now");
        assert_eq!(overdue(&busy, &cfg(), now_ms() + 2000), Some("idle"));
        assert_eq!(Activity::new(Wire::Http1).head_started_ms.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn refusals_speak_the_port_s_protocol() {
        let http = String::from_utf8(refusal(Wire::Http1, 7)).unwrap();
        assert!(http.starts_with("HTTP/1.1 503 "), "{http}");
        assert!(http.contains("limit of 7 open connections"));
        let h2 = refusal(Wire::Grpc, 7);
        // An empty SETTINGS frame, then GOAWAY (type 7) on stream 0 with ENHANCE_YOUR_CALM.
        assert_eq!(&h2[..9], &[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        let len = u32::from_be_bytes([0, h2[9], h2[10], h2[11]]) as usize;
        assert_eq!((h2[12], &h2[14..18]), (7, &[0u8, 0, 0, 0][..]));
        assert_eq!(h2.len(), 18 + len);
        assert_eq!(&h2[18..26], &[0, 0, 0, 0, 0, 0, 0, 0xb]);
        assert!(String::from_utf8_lossy(&h2[26..]).contains("limit of 7 open connections"));
    }

    #[test]
    fn a_head_is_overdue_after_the_header_timeout_unless_a_request_is_running() {
        let a = activity(10_000, 10_000, 0);
        assert_eq!(overdue(&a, &cfg(), 10_499), None);
        assert_eq!(overdue(&a, &cfg(), 10_500), Some("header_timeout"));
        assert_eq!(overdue(&activity(10_000, 10_000, 1), &cfg(), 20_000), None);
        assert_eq!(next_check(&a, &cfg(), 10_100), Duration::from_millis(400));
    }

    #[test]
    fn a_quiet_connection_is_idle_after_the_idle_timeout() {
        let a = activity(10_000, 0, 0);
        assert_eq!(overdue(&a, &cfg(), 11_999), None);
        assert_eq!(overdue(&a, &cfg(), 12_000), Some("idle"));
        assert_eq!(overdue(&activity(10_000, 0, 1), &cfg(), 20_000), None, "a long model call is not idleness");
        // Heads may start between checks: never sleep longer than the header timeout.
        assert_eq!(next_check(&a, &cfg(), 10_000), Duration::from_millis(500));
    }
}
