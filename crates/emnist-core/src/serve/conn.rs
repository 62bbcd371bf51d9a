//! Connections: our own accept loop over hyper's HTTP/1 server, so that the server sheds what a
//! hostile or broken network sends it. A cap on open connections (beyond it: a raw 503 and close),
//! a header-read timeout (a request head must arrive whole within it of its first byte), an idle
//! timeout (a keep-alive connection with nothing to do is closed), and a bounded shutdown: on
//! SIGINT/SIGTERM no new connections, idle ones closed at once, requests in flight answered, and
//! whatever is still open after the grace period closed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::metrics::Metrics;

/// How connections are treated (the connection flags of `emnist serve`).
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// Connections open at once; more are answered 503 and closed.
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
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(20),
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
}

impl Activity {
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
        if buf.filled().len() > before {
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
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
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
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
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

/// Accepts connections until `shutdown` resolves, then closes them as described in the module
/// documentation and returns once every connection is gone.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cfg: ConnConfig,
    metrics: Arc<Metrics>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> Closed {
    let (stop_tx, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
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
                        // Out of file descriptors or similar: back off instead of spinning.
                        tracing::warn!(error = %e, "cannot accept a connection");
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
                            connection(stream, app, &cfg, &metrics, tls, stop).await;
                        });
                    }
                    Err(_) => {
                        metrics.connection_closed("refused");
                        tasks.spawn(refuse(stream, cfg.max_connections));
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

/// Serves one connection: hyper's HTTP/1 over the router (after a TLS handshake, with `tls`,
/// which must end within the header timeout), watched for header and idle timeouts and for the
/// server's shutdown.
async fn connection(
    stream: TcpStream,
    app: Router,
    cfg: &ConnConfig,
    metrics: &Metrics,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::default());
    activity.touch();
    let _open = metrics.connection_opened();
    let tracked = Tracked { stream, activity: activity.clone() };
    match tls {
        None => drive(TokioIo::new(tracked), app, cfg, metrics, activity, stop).await,
        Some(acceptor) => match tokio::time::timeout(cfg.header_timeout, acceptor.accept(tracked)).await {
            Ok(Ok(stream)) => drive(TokioIo::new(stream), app, cfg, metrics, activity, stop).await,
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
    cfg: &ConnConfig,
    metrics: &Metrics,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
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
    let mut http = hyper::server::conn::http1::Builder::new();
    // Our watchdog times request heads; hyper's own timer would also close idle keep-alive
    // connections at the same deadline.
    http.timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = *stop.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let wake = next_check(&activity, cfg, now_ms());
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
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = tokio::time::sleep(wake) => {
                match overdue(&activity, cfg, now_ms()) {
                    Some("header_timeout") => {
                        // A head that trickles in: drop the connection without a word.
                        metrics.connection_closed("header_timeout");
                        tracing::debug!("closed a connection whose request head took too long");
                        return;
                    }
                    Some(reason) if !closing => {
                        metrics.connection_closed(reason);
                        closing = true;
                        conn.as_mut().graceful_shutdown();
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

/// Beyond `--max-connections`: a 503 written straight to the socket, then a lingering close (the
/// client's request is read and dropped for a moment, so that it sees the answer, not a reset).
async fn refuse(mut stream: TcpStream, max: usize) {
    let body = format!(
        "{{\"error\":\"the server is at its limit of {max} open connections; retry shortly or raise `--max-connections`\"}}"
    );
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let linger = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
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
        }
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
