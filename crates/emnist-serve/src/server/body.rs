//! Request bodies read into memory under two limits: `--max-body` for each request, checked at
//! every frame so that a chunked body is refused (and its buffer freed) the moment it crosses
//! the limit, and a server-wide budget of body bytes held at once, so that many large uploads
//! cannot each hold `--max-body`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in units of this many bytes (a semaphore takes at most `u32` permits
/// at a time).
const UNIT: u64 = 1024;

/// How many `--max-body` bodies the server holds at once: the budget is this many times the limit.
pub const BODIES_AT_ONCE: usize = 8;

/// Each body's first bytes are outside the budget, so that uploads that fill it can never turn
/// small requests away (one image as JSON is about 10 KB; 128 as KServe binary UINT8, 100 KB).
/// What this adds to the memory bound: `--max-inflight` × this (256 MiB at the default 1024).
pub const FREE_BYTES_PER_BODY: usize = 256 << 10;

/// Body bytes held at once, server-wide.
pub struct Budget {
    units: Arc<Semaphore>,
    bytes: u64,
    /// Each body's first bytes taken from no budget.
    free_per_body: usize,
}

impl Budget {
    /// A budget of [`BODIES_AT_ONCE`] × `max_body` bytes, each body's first
    /// [`FREE_BYTES_PER_BODY`] outside it.
    pub fn for_max_body(max_body: usize) -> Budget {
        let mut b = Budget::new((max_body as u64).saturating_mul(BODIES_AT_ONCE as u64).max(UNIT));
        b.free_per_body = FREE_BYTES_PER_BODY;
        b
    }

    /// A budget of `bytes` (rounded up to whole KiB) that counts every byte of every body.
    pub fn new(bytes: u64) -> Budget {
        let units = bytes.div_ceil(UNIT).min(Semaphore::MAX_PERMITS as u64) as usize;
        Budget { units: Arc::new(Semaphore::new(units)), bytes: units as u64 * UNIT, free_per_body: 0 }
    }

    /// The budget's size, bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Body bytes not held by any request now.
    pub fn available_bytes(&self) -> u64 {
        self.units.available_permits() as u64 * UNIT
    }
}

/// Why a body was not read whole.
#[derive(Debug)]
pub enum Refused {
    /// It crossed `--max-body`; what was read is already freed, the rest is unread.
    TooLarge(Body),
    /// The server holds its budget of body bytes; the rest is unread.
    Busy(Body),
    /// The client's body broke off or was malformed.
    Broken(String),
}

/// A body read whole, and its share of the budget (held until dropped).
#[derive(Debug)]
pub struct Buffered {
    pub bytes: Bytes,
    _held: Option<OwnedSemaphorePermit>,
}

/// Reads `body` whole: at most `max_body` bytes, taking each frame's bytes from `budget` as it
/// arrives (never ahead: a client that declares a large `Content-Length` and sends nothing holds
/// nothing). A frame that finds no room is refused at once, so that half-read bodies never wait
/// on each other.
pub async fn read(
    mut body: Body,
    declared: Option<u64>,
    max_body: usize,
    budget: &Budget,
) -> Result<Buffered, Refused> {
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut held_units = 0u64;
    // Frames are kept as they came (no buffer that doubles and copies as it grows: that held up
    // to 3× the bytes received) and joined once at the end, into exactly the body's size.
    let mut frames: Vec<Bytes> = Vec::with_capacity(declared.map_or(4, |_| 1));
    let mut len = 0usize;
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(Refused::Broken(format!("the request body could not be read: {e}"))),
        };
        let Ok(data) = frame.into_data() else { continue };
        if data.is_empty() {
            continue;
        }
        let total = len + data.len();
        if total > max_body {
            return Err(Refused::TooLarge(body));
        }
        let units = (total.saturating_sub(budget.free_per_body) as u64).div_ceil(UNIT);
        if units > held_units {
            let more = (units - held_units).min(u32::MAX as u64) as u32;
            let Ok(p) = budget.units.clone().try_acquire_many_owned(more) else { return Err(Refused::Busy(body)) };
            match held.as_mut() {
                Some(h) => h.merge(p),
                None => held = Some(p),
            }
            held_units = units;
        }
        frames.push(data);
        len = total;
    }
    let bytes = match frames.len() {
        0 => Bytes::new(),
        // One frame (a small body, most often): no copy.
        1 => frames.pop().unwrap_or_default(),
        _ => {
            let mut joined = Vec::with_capacity(len);
            for f in frames {
                joined.extend_from_slice(&f);
            }
            Bytes::from(joined)
        }
    };
    Ok(Buffered { bytes, _held: held })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body sent in these chunks, as `Transfer-Encoding: chunked` arrives.
    fn chunked(chunks: Vec<&'static [u8]>) -> Body {
        Body::from_stream(tokio_stream::iter(
            chunks.into_iter().map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        ))
    }

    #[tokio::test]
    async fn bodies_are_read_whole_within_the_limit_and_the_budget() {
        let budget = Budget::new(64 << 10);
        let b = read(chunked(vec![b"ab", b"", b"cd"]), None, 10, &budget).await.unwrap();
        assert_eq!(&b.bytes[..], b"abcd");
        assert_eq!(budget.available_bytes(), (64 << 10) - 1024, "held while the body lives");
        drop(b);
        assert_eq!(budget.available_bytes(), 64 << 10);
        let one = read(Body::from("hello"), Some(5), 10, &budget).await.unwrap();
        assert_eq!(&one.bytes[..], b"hello");
    }

    #[tokio::test]
    async fn a_chunked_body_over_the_limit_is_refused_at_the_crossing_frame() {
        let budget = Budget::new(64 << 10);
        let r = read(chunked(vec![b"abcd", b"efgh", b"ijkl", b"mnop"]), None, 10, &budget).await;
        let Err(Refused::TooLarge(rest)) = r else { panic!("not refused") };
        // The fourth chunk was never read.
        let rest = rest.collect().await.unwrap().to_bytes();
        assert_eq!(&rest[..], b"mnop");
        assert_eq!(budget.available_bytes(), 64 << 10, "nothing held after a refusal");
    }

    #[tokio::test]
    async fn a_chunked_body_beyond_the_budget_is_turned_away() {
        let budget = Budget::new(2048);
        let held = read(chunked(vec![&[7u8; 1500][..]]), None, 4096, &budget).await.unwrap();
        let r = read(chunked(vec![&[1u8; 100][..], &[2u8; 1000][..]]), None, 4096, &budget).await;
        assert!(matches!(r, Err(Refused::Busy(_))));
        drop(held);
        assert!(read(chunked(vec![&[1u8; 100][..], &[2u8; 1000][..]]), None, 4096, &budget).await.is_ok());
    }

    #[tokio::test]
    async fn small_bodies_pass_while_large_ones_fill_the_budget() {
        let budget = Budget::for_max_body(1 << 20);
        let big = vec![0u8; (1 << 20) - 1];
        let mut held = Vec::new();
        for _ in 0..BODIES_AT_ONCE + 2 {
            match read(Body::from(big.clone()), None, 1 << 20, &budget).await {
                Ok(b) => held.push(b),
                Err(Refused::Busy(_)) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(held.len() > BODIES_AT_ONCE, "each body's first bytes are free: {}", held.len());
        assert!(matches!(read(Body::from(big.clone()), None, 1 << 20, &budget).await, Err(Refused::Busy(_))));
        let small = read(Body::from(vec![1u8; 10_000]), None, 1 << 20, &budget).await.unwrap();
        assert_eq!(small.bytes.len(), 10_000, "a one-image request still gets through");
    }
}
