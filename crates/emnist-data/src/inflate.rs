//! Decompression on a second thread: one thread inflates while the caller parses and transposes.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver};

const CHUNK_BYTES: usize = 1 << 20;
// 24 MiB queued at most: with 64 the first load peaked at 1.23× the decoded bytes (goal 1.2×), with 8
// the transposing thread starved (+0.3 s); 24: 1.16× for +0.07 s (bench/RESULTS.md, issue 11).
const CHUNKS_IN_FLIGHT: usize = 24;

/// Reads bytes that a background thread produces from `source` (typically a zlib or gzip decoder).
///
/// Create it inside [`std::thread::scope`] with [`spawn`]; errors of the source are returned by
/// `read` in order. Dropping the reader stops the producer at its next chunk.
pub struct ChunkReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

/// Starts a thread in `scope` that reads `source` to its end in chunks and hands them to the returned reader.
pub fn spawn<'scope, R: Read + Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    mut source: R,
) -> ChunkReader {
    let (tx, rx) = sync_channel(CHUNKS_IN_FLIGHT);
    scope.spawn(move || loop {
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut filled = 0;
        let result = loop {
            match source.read(&mut buf[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        buf.truncate(filled);
        let end = filled == 0 || result.is_err() || filled < CHUNK_BYTES;
        if filled > 0 && tx.send(Ok(buf)).is_err() {
            return;
        }
        if let Err(e) = result {
            let _ = tx.send(Err(e));
            return;
        }
        if end {
            return;
        }
    });
    ChunkReader { rx, chunk: Vec::new(), pos: 0, done: false }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Wraps a reader and reports the bytes read through a callback (for progress on compressed input).
pub struct Counting<R, F: Fn(u64)> {
    pub inner: R,
    pub on_read: F,
}

impl<R: Read, F: Fn(u64)> Read for Counting<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_bytes_and_errors_through_in_order() {
        let data: Vec<u8> = (0..3 * CHUNK_BYTES + 17).map(|i| (i % 251) as u8).collect();
        let got = std::thread::scope(|s| {
            let mut r = spawn(s, &data[..]);
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v
        });
        assert_eq!(got, data);

        let failing = io::Cursor::new(vec![1u8; 10]).chain(FailingReader);
        std::thread::scope(|s| {
            let mut r = spawn(s, failing);
            let mut v = Vec::new();
            assert!(r.read_to_end(&mut v).is_err());
        });
    }

    struct FailingReader;
    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt deflate stream"))
        }
    }
}
