//! Request ids: every HTTP answer carries `X-Request-Id`, the client's own value when it sent a
//! valid one, else a fresh one (128 random bits as hex). Handlers read the id from the request's
//! extensions ([`RequestId`]); the payload log records it, so a client can point at an answer
//! later (`POST /feedback`).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::response::Response;
use tower::{Layer, Service};

/// The header that carries the id both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The longest id a client may send.
pub const MAX_LEN: usize = 128;

/// One request's id (cheap to clone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A fresh id: 128 bits from a keyed hash of a counter (the key drawn at random once per
    /// process), as 32 lowercase hex digits. Unpredictable without the key, never repeated by
    /// one process, and no system call per request.
    pub fn fresh() -> RequestId {
        static KEYS: OnceLock<(std::collections::hash_map::RandomState, std::collections::hash_map::RandomState)> =
            OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let (a, b) = KEYS.get_or_init(|| (Default::default(), Default::default()));
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let half = |k: &std::collections::hash_map::RandomState| {
            let mut h = k.build_hasher();
            h.write_u64(n);
            h.finish()
        };
        let bits = (u128::from(half(a)) << 64) | u128::from(half(b));
        // Hex digits straight into the header value: one allocation per request.
        let mut hex = [0u8; 32];
        for (i, d) in hex.iter_mut().enumerate() {
            *d = b"0123456789abcdef"[((bits >> (124 - 4 * i)) & 0xf) as usize];
        }
        RequestId(HeaderValue::from_bytes(&hex).expect("hex digits are a header value"))
    }

    /// A client's id: 1 to [`MAX_LEN`] characters of `A-Z a-z 0-9 . _ : -`.
    pub fn parse(value: &[u8]) -> Result<RequestId, String> {
        let ok = !value.is_empty()
            && value.len() <= MAX_LEN
            && value.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if !ok {
            return Err(format!(
                "`X-Request-Id` must be 1 to {MAX_LEN} characters of letters, digits, `.`, `_`, `:` and `-`; \
                 send another or none (the server then makes one)"
            ));
        }
        Ok(RequestId(HeaderValue::from_bytes(value).expect("checked characters")))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.to_str().expect("only ASCII is ever stored")
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request's own `X-Request-Id` was refused; the accounting middleware answers 400 with it (so the
/// refusal is counted like every other answer).
#[derive(Debug, Clone)]
pub struct Refused(pub String);

/// Gives every request an id (its own valid `X-Request-Id`, else a fresh one) in its extensions,
/// and puts the id on the answer, whatever the answer is. A hand-written layer rather than
/// `middleware::from_fn`, which costs a boxed future and a cloned service on every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssignLayer;

impl<S> Layer<S> for AssignLayer {
    type Service = Assign<S>;

    fn layer(&self, inner: S) -> Assign<S> {
        Assign { inner }
    }
}

/// The service of [`AssignLayer`].
#[derive(Debug, Clone)]
pub struct Assign<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Assign<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = AssignFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let id = match req.headers().get(&HEADER).map(|v| RequestId::parse(v.as_bytes())) {
            None => RequestId::fresh(),
            Some(Ok(id)) => id,
            Some(Err(why)) => {
                req.extensions_mut().insert(Refused(why));
                RequestId::fresh()
            }
        };
        req.extensions_mut().insert(id.clone());
        AssignFuture { inner: self.inner.call(req), id: Some(id.0) }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`Assign`], with the request's id put on it.
    pub struct AssignFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, E> Future for AssignFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut resp = std::task::ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take() {
            resp.headers_mut().insert(HEADER, id);
        }
        Poll::Ready(Ok(resp))
    }
}

/// The 400 for a request whose `X-Request-Id` was refused.
pub fn refusal(refused: &Refused) -> super::ApiError {
    super::ApiError { status: StatusCode::BAD_REQUEST, message: refused.0.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_128_bits_of_hex_and_differ() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| RequestId::fresh().to_string()).collect();
        assert_eq!(ids.len(), 1000);
        let mut digits = std::collections::HashSet::new();
        for id in &ids {
            assert_eq!(id.len(), 32);
            digits.extend(id.chars());
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
            assert!(RequestId::parse(id.as_bytes()).is_ok());
        }
        assert_eq!(digits.len(), 16, "every hex digit turns up in 32,000");
    }

    #[test]
    fn client_ids_are_checked() {
        for ok in ["a", "req-42", "2025-01-01T10:00:00.123_x", &"z".repeat(MAX_LEN)] {
            assert_eq!(RequestId::parse(ok.as_bytes()).unwrap().as_str(), ok);
        }
        for bad in ["", " ", "a b", "é", "a/b", "a\"b", &"z".repeat(MAX_LEN + 1)] {
            let e = RequestId::parse(bad.as_bytes()).unwrap_err();
            assert!(e.contains("X-Request-Id") && e.contains("128"), "{bad}: {e}");
        }
    }
}
