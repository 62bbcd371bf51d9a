//! A PNG's chunk layout read without inflating anything: its size from `IHDR` before any pixel
//! is decoded, truncation found at the chunk where the file ends, and the ancillary chunks the
//! prediction never uses (`iCCP`, text, `eXIf`, …: some inflate to hundreds of megabytes) left
//! out of what the decoder sees.

use std::borrow::Cow;

/// The eight bytes every PNG starts with.
pub const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Ancillary chunks the decoder is given: transparency changes the grey the picture is read as;
/// the others (colour profiles, text, metadata, animation) do not change it.
const KEPT_ANCILLARY: [&[u8; 4]; 1] = [b"tRNS"];

/// What the chunk walk found.
#[derive(Debug, Clone, PartialEq)]
pub struct PngLayout<'a> {
    pub width: u32,
    pub height: u32,
    /// The file with only the critical chunks and `tRNS` (borrowed when nothing was left out).
    pub stripped: Cow<'a, [u8]>,
}

/// Reads the chunk layout of `bytes` (which start with [`SIGNATURE`]); `Err` says how the file is
/// damaged, in words for the client.
pub fn layout(bytes: &[u8]) -> Result<PngLayout<'_>, String> {
    let mut at = SIGNATURE.len();
    let mut size = None;
    let mut keep: Vec<(usize, usize)> = Vec::new();
    let mut dropped = false;
    loop {
        if at == bytes.len() {
            return Err("it ends before its last chunk (`IEND`): the file was cut short".into());
        }
        if bytes.len() - at < 8 {
            return Err(format!("it ends inside a chunk header at byte {at}: the file was cut short"));
        }
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().expect("4 bytes");
        let name = String::from_utf8_lossy(&kind).into_owned();
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(format!("byte {at} does not start a chunk (type bytes {kind:02x?})"));
        }
        let end = at.checked_add(12).and_then(|n| n.checked_add(len)).filter(|&e| e <= bytes.len());
        let Some(end) = end else {
            let short = (at + 12).saturating_add(len) - bytes.len();
            return Err(format!("it ends inside its `{name}` chunk, {short} bytes short: the file was cut short"));
        };
        if size.is_none() {
            if &kind != b"IHDR" || len != 13 {
                return Err(format!("its first chunk is `{name}`, not a 13-byte `IHDR`"));
            }
            let w = u32::from_be_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
            let h = u32::from_be_bytes(bytes[at + 12..at + 16].try_into().expect("4 bytes"));
            if w == 0 || h == 0 {
                return Err(format!("its header says {w}×{h} pixels"));
            }
            size = Some((w, h));
        }
        let critical = kind[0].is_ascii_uppercase();
        if critical || KEPT_ANCILLARY.contains(&&kind) {
            match keep.last_mut() {
                Some((_, e)) if *e == at => *e = end,
                _ => keep.push((at, end)),
            }
        } else {
            dropped = true;
        }
        at = end;
        if &kind == b"IEND" {
            break;
        }
    }
    let (width, height) = size.expect("IHDR read first");
    let stripped = if dropped || at != bytes.len() {
        let mut out = Vec::with_capacity(SIGNATURE.len() + keep.iter().map(|(s, e)| e - s).sum::<usize>());
        out.extend_from_slice(SIGNATURE);
        for (s, e) in keep {
            out.extend_from_slice(&bytes[s..e]);
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(bytes)
    };
    Ok(PngLayout { width, height, stripped })
}

/// One chunk, its CRC included: for tests that build PNGs by hand.
#[cfg(test)]
pub fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    // CRC-32 (ISO 3309, as PNG uses it), bit by bit: tests only.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ihdr(w: u32, h: u32) -> Vec<u8> {
        let mut d = w.to_be_bytes().to_vec();
        d.extend_from_slice(&h.to_be_bytes());
        d.extend_from_slice(&[8, 0, 0, 0, 0]);
        chunk(b"IHDR", &d)
    }

    fn file(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        for c in chunks {
            out.extend_from_slice(c);
        }
        out
    }

    #[test]
    fn the_size_is_read_and_ancillary_chunks_are_left_out() {
        let png = file(&[ihdr(8000, 6000), chunk(b"iCCP", b"p\0\0zzz"), chunk(b"IDAT", b"x"), chunk(b"IEND", b"")]);
        let l = layout(&png).unwrap();
        assert_eq!((l.width, l.height), (8000, 6000));
        assert_eq!(&*l.stripped, &file(&[ihdr(8000, 6000), chunk(b"IDAT", b"x"), chunk(b"IEND", b"")])[..]);
        let plain = file(&[ihdr(3, 2), chunk(b"tRNS", b"\0\0"), chunk(b"IDAT", b"x"), chunk(b"IEND", b"")]);
        assert!(matches!(layout(&plain).unwrap().stripped, Cow::Borrowed(_)), "nothing to leave out: no copy");
    }

    #[test]
    fn damage_is_named() {
        let whole = file(&[ihdr(3, 2), chunk(b"IDAT", b"xxxxxxxx"), chunk(b"IEND", b"")]);
        let cut = |n: usize| layout(&whole[..n]).unwrap_err();
        assert!(cut(whole.len() - 12).contains("before its last chunk"), "{}", cut(whole.len() - 12));
        assert!(cut(whole.len() - 14).contains("inside its `IDAT` chunk, 2 bytes short"), "{}", cut(whole.len() - 14));
        assert!(cut(whole.len() - 6).contains("inside a chunk header"), "{}", cut(whole.len() - 6));
        assert!(layout(&file(&[chunk(b"IDAT", b"x")])).unwrap_err().contains("first chunk is `IDAT`"));
        assert!(layout(&file(&[ihdr(0, 5)])).unwrap_err().contains("0×5"));
        let mut garbage = SIGNATURE.to_vec();
        garbage.extend_from_slice(&[0, 0, 0, 1, 0xff, 0, 1, 2]);
        assert!(layout(&garbage).unwrap_err().contains("does not start a chunk"));
        let huge_len = file(&[[0xff, 0xff, 0xff, 0xf0].to_vec(), b"IHDR".to_vec()]);
        assert!(layout(&huge_len).unwrap_err().contains("inside its `IHDR` chunk"));
    }
}
