//! Byte storage that is either owned or a window of a memory-mapped cache file.

use std::ops::Deref;
use std::sync::Arc;

/// Immutable bytes, owned or memory-mapped; derefs to `[u8]`.
#[derive(Clone)]
pub enum Bytes {
    /// Bytes held in memory.
    Owned(Arc<Vec<u8>>),
    /// A range of a memory-mapped file.
    Mapped {
        /// The mapping, shared by every window of the same file.
        map: Arc<memmap2::Mmap>,
        /// Offset of the first byte.
        start: usize,
        /// Length in bytes.
        len: usize,
    },
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes::Owned(Arc::new(v))
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped { map, start, len } => &map[*start..*start + *len],
        }
    }
}

impl PartialEq for Bytes {
    /// The same bytes, wherever they are held.
    fn eq(&self, other: &Bytes) -> bool {
        self[..] == other[..]
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Bytes::Owned(_) => "owned",
            Bytes::Mapped { .. } => "mapped",
        };
        write!(f, "Bytes({kind}, {} bytes)", self.len())
    }
}
