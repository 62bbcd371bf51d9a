//! Turning an arbitrary picture of a character (PNG or JPEG, any size, dark on light or light on
//! dark) into a 28×28 model input the way the MNIST family was made: greyscale, light ink on
//! black, cropped to the ink, padded to a square, resized so the character fits 20×20, and
//! placed in 28×28 by its centre of mass. A 28×28 picture is taken as an EMNIST crop, already
//! framed as NIST made it: only its polarity is fixed.
//!
//! Hostile pictures are cheap to refuse: the size is read from the header before a pixel is
//! decoded (at most [`MAX_PIXELS`], [`MAX_SIDE`] a side), the decoder may allocate at most
//! [`DECODE_ALLOC_BYTES`], and a PNG's ancillary chunks (an `iCCP` profile can inflate to
//! hundreds of megabytes) never reach it.

mod png_chunks;

use std::io::Cursor;

use image::imageops::FilterType;
use image::{GrayImage, ImageFormat, ImageReader, Limits, Luma};

use emnist_data::{PIXELS, SIDE};

/// Side of the box the character is scaled into.
pub const BOX: u32 = 20;
/// Grey level (0..255, after inversion) from which a pixel counts as ink for the bounding box.
pub const INK_LEVEL: u8 = 32;
/// Largest picture side accepted.
pub const MAX_SIDE: u32 = 4096;
/// The square of this side is the most pixels a picture may have ([`MAX_PIXELS`]).
pub const MAX_PIXELS_SQUARE: u32 = 2048;
/// Most pixels a picture may have: 2048×2048 (4 MP). The page sends a 280×280 canvas and the
/// model sees 28×28; a photo of a character loses nothing when scaled down to this first.
pub const MAX_PIXELS: u64 = MAX_PIXELS_SQUARE as u64 * MAX_PIXELS_SQUARE as u64;
/// Most bytes the decoder may allocate for one picture (its pixel buffer, at most 8 bytes a
/// pixel for 16-bit RGBA, and its working buffers).
pub const DECODE_ALLOC_BYTES: u64 = 48 << 20;

/// Why a picture cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageError {
    #[error("the body is not a PNG or JPEG image (it starts with neither signature); send one of those")]
    NotPngOrJpeg,
    #[error("the {format} is damaged: {detail}")]
    Damaged { format: &'static str, detail: String },
    #[error("the {format} uses a feature this server cannot decode ({detail}); send a plain PNG or baseline JPEG")]
    Unsupported { format: &'static str, detail: String },
    #[error(
        "the picture is {width}×{height} pixels, over the limit of {max} pixels ({sq}×{sq}) and {side} a side; scale it down (the model sees 28×28)",
        max = MAX_PIXELS, sq = MAX_PIXELS_SQUARE, side = MAX_SIDE
    )]
    TooLarge { width: u32, height: u32 },
    #[error("decoding the {format} would take more than the limit of {limit} bytes of memory; send a smaller picture", limit = DECODE_ALLOC_BYTES)]
    TooMuchMemory { format: &'static str },
    #[error("the image has no ink: draw or send a character")]
    Blank,
}

/// A picture made ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// 28×28 upright grey pixels, light ink (255) on black (0): the model's input before /255.
    pub pixels: Vec<u8>,
    /// The picture was dark ink on a light ground and was inverted.
    pub inverted: bool,
    /// The picture was 28×28 and used as it was (after the polarity fix).
    pub as_is: bool,
    /// Width and height of the picture received.
    pub source: (u32, u32),
}

/// Decodes a PNG or JPEG and prepares it.
pub fn prepare(bytes: &[u8]) -> Result<Prepared, ImageError> {
    prepare_grey(&decode(bytes)?)
}

/// Checks a picture's size against [`MAX_PIXELS`] and [`MAX_SIDE`].
pub fn check_size(width: u32, height: u32) -> Result<(), ImageError> {
    if width > MAX_SIDE || height > MAX_SIDE || width as u64 * height as u64 > MAX_PIXELS {
        return Err(ImageError::TooLarge { width, height });
    }
    Ok(())
}

/// Decodes to 8-bit grey; transparency is laid over white (a drawing on a transparent canvas).
/// The size is checked from the header first, and a PNG's ancillary chunks are left out.
pub fn decode(bytes: &[u8]) -> Result<GrayImage, ImageError> {
    let (format, name) = if bytes.starts_with(png_chunks::SIGNATURE) {
        (ImageFormat::Png, "PNG")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        (ImageFormat::Jpeg, "JPEG")
    } else {
        return Err(ImageError::NotPngOrJpeg);
    };
    let damaged = |detail: String| ImageError::Damaged { format: name, detail };
    let png;
    let bytes = if format == ImageFormat::Png {
        png = png_chunks::layout(bytes).map_err(damaged)?;
        check_size(png.width, png.height)?;
        &png.stripped[..]
    } else {
        let (w, h) =
            ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(|e| read_error(e, name))?;
        check_size(w, h)?;
        bytes
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(DECODE_ALLOC_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| read_error(e, name))?;
    let la = img.into_luma_alpha8();
    let (w, h) = la.dimensions();
    Ok(GrayImage::from_fn(w, h, |x, y| {
        let p = la.get_pixel(x, y).0;
        let (l, a) = (p[0] as u32, p[1] as u32);
        Luma([((l * a + 255 * (255 - a) + 127) / 255) as u8])
    }))
}

/// What a decoder's error means for the client.
fn read_error(e: image::ImageError, format: &'static str) -> ImageError {
    match e {
        image::ImageError::Limits(_) => ImageError::TooMuchMemory { format },
        image::ImageError::Unsupported(u) => ImageError::Unsupported { format, detail: u.to_string() },
        other => ImageError::Damaged { format, detail: other.to_string() },
    }
}

/// Prepares a grey picture (see the module documentation).
pub fn prepare_grey(img: &GrayImage) -> Result<Prepared, ImageError> {
    let (w, h) = img.dimensions();
    let inverted = border_mean(img) > 127.0;
    let ink = |v: u8| if inverted { 255 - v } else { v };
    let mut grey = GrayImage::from_fn(w, h, |x, y| Luma([ink(img.get_pixel(x, y).0[0])]));
    if (w, h) == (SIDE as u32, SIDE as u32) {
        if grey.pixels().all(|p| p.0[0] < INK_LEVEL) {
            return Err(ImageError::Blank);
        }
        return Ok(Prepared { pixels: grey.into_raw(), inverted, as_is: true, source: (w, h) });
    }
    let (x0, y0, x1, y1) = ink_box(&grey).ok_or(ImageError::Blank)?;
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let side = bw.max(bh);
    let mut square = GrayImage::new(side, side);
    image::imageops::replace(
        &mut square,
        &image::imageops::crop(&mut grey, x0, y0, bw, bh).to_image(),
        ((side - bw) / 2) as i64,
        ((side - bh) / 2) as i64,
    );
    let small = image::imageops::resize(&square, BOX, BOX, FilterType::Triangle);
    let max = small.pixels().map(|p| p.0[0]).max().unwrap_or(0);
    if max == 0 {
        return Err(ImageError::Blank);
    }
    // Stretch so the darkest stroke is full ink, as the MNIST scans are.
    let small = GrayImage::from_fn(BOX, BOX, |x, y| {
        Luma([((small.get_pixel(x, y).0[0] as u32 * 255 + max as u32 / 2) / max as u32) as u8])
    });
    let (cx, cy) = centre_of_mass(&small);
    let half = SIDE as f64 / 2.0;
    let limit = (SIDE as u32 - BOX) as f64;
    let ox = (half - cx).round().clamp(0.0, limit) as i64;
    let oy = (half - cy).round().clamp(0.0, limit) as i64;
    let mut out = GrayImage::new(SIDE as u32, SIDE as u32);
    image::imageops::replace(&mut out, &small, ox, oy);
    debug_assert_eq!(out.len(), PIXELS);
    Ok(Prepared { pixels: out.into_raw(), inverted, as_is: false, source: (w, h) })
}

/// Mean grey level of the outermost ring of pixels: the picture's ground.
fn border_mean(img: &GrayImage) -> f64 {
    let (w, h) = img.dimensions();
    let (mut sum, mut n) = (0u64, 0u64);
    for (x, y, p) in img.enumerate_pixels() {
        if x == 0 || y == 0 || x == w - 1 || y == h - 1 {
            sum += p.0[0] as u64;
            n += 1;
        }
    }
    if n == 0 {
        0.0
    } else {
        sum as f64 / n as f64
    }
}

/// Inclusive bounding box of the pixels at or above [`INK_LEVEL`].
fn ink_box(img: &GrayImage) -> Option<(u32, u32, u32, u32)> {
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in img.enumerate_pixels() {
        if p.0[0] >= INK_LEVEL {
            b = Some(match b {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
    }
    b
}

/// Intensity-weighted centre, in pixel-centre coordinates (+0.5).
fn centre_of_mass(img: &GrayImage) -> (f64, f64) {
    let (mut sx, mut sy, mut s) = (0.0, 0.0, 0.0);
    for (x, y, p) in img.enumerate_pixels() {
        let v = p.0[0] as f64;
        sx += v * (x as f64 + 0.5);
        sy += v * (y as f64 + 0.5);
        s += v;
    }
    (sx / s, sy / s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: &GrayImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    /// A dark bar on white, off-centre, in a large picture.
    fn drawing() -> GrayImage {
        GrayImage::from_fn(300, 200, |x, y| {
            Luma([if (40..60).contains(&x) && (20..140).contains(&y) { 0 } else { 255 }])
        })
    }

    #[test]
    fn dark_on_light_is_inverted_cropped_scaled_and_centred() {
        let p = prepare(&png(&drawing())).unwrap();
        assert!(p.inverted && !p.as_is);
        assert_eq!(p.source, (300, 200));
        let img = GrayImage::from_raw(28, 28, p.pixels.clone()).unwrap();
        let (x0, y0, x1, y1) = ink_box(&img).unwrap();
        assert_eq!(y1 - y0 + 1, 20, "the long side fits the 20-pixel box");
        assert!(x1 - x0 < 6, "aspect is kept");
        let (cx, cy) = centre_of_mass(&img);
        assert!((cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0, "centred by mass: {cx} {cy}");
        assert_eq!(*p.pixels.iter().max().unwrap(), 255);
        assert_eq!(p.pixels[0], 0, "the ground is black");
    }

    #[test]
    fn polarity_and_format_do_not_change_the_result() {
        let dark = drawing();
        let light = GrayImage::from_fn(300, 200, |x, y| Luma([255 - dark.get_pixel(x, y).0[0]]));
        let a = prepare(&png(&dark)).unwrap();
        let b = prepare(&png(&light)).unwrap();
        assert_eq!(a.pixels, b.pixels);
        assert!(!b.inverted);
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageLuma8(dark).write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
        let c = prepare(&jpeg).unwrap();
        let diff = a.pixels.iter().zip(&c.pixels).map(|(x, y)| (*x as i32 - *y as i32).abs()).max().unwrap();
        assert!(diff <= 48, "JPEG artefacts only: {diff}");
    }

    #[test]
    fn an_emnist_crop_is_used_as_it_is() {
        let crop = GrayImage::from_fn(28, 28, |x, y| {
            Luma([if (6..22).contains(&x) && (4..24).contains(&y) { ((x * 9 + y * 3) % 256) as u8 } else { 0 }])
        });
        let p = prepare(&png(&crop)).unwrap();
        assert!(p.as_is && !p.inverted);
        assert_eq!(p.pixels, crop.into_raw());
    }

    #[test]
    fn transparency_lies_over_white() {
        let mut rgba = image::RgbaImage::new(100, 100);
        for y in 30..70 {
            for x in 45..55 {
                rgba.put_pixel(x, y, image::Rgba([0, 0, 0, 255]));
            }
        }
        let mut bytes = Vec::new();
        rgba.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
        let p = prepare(&bytes).unwrap();
        assert!(p.inverted);
    }

    #[test]
    fn bad_pictures_are_errors() {
        assert_eq!(prepare(b"not an image"), Err(ImageError::NotPngOrJpeg));
        let blank = GrayImage::from_pixel(50, 50, Luma([255]));
        assert_eq!(prepare(&png(&blank)), Err(ImageError::Blank));
        assert_eq!(prepare(&png(&GrayImage::new(28, 28))), Err(ImageError::Blank));
        let mut bmp = Vec::new();
        image::DynamicImage::ImageLuma8(drawing()).write_to(&mut Cursor::new(&mut bmp), image::ImageFormat::Bmp).ok();
        assert_eq!(prepare(&bmp), Err(ImageError::NotPngOrJpeg));
    }

    /// A PNG of `w`×`h` from its chunks: a header, `extra` chunks, and `idat` as its pixel data.
    fn hand_png(w: u32, h: u32, extra: &[Vec<u8>], idat: &[u8]) -> Vec<u8> {
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        let mut out = png_chunks::SIGNATURE.to_vec();
        out.extend(png_chunks::chunk(b"IHDR", &ihdr));
        for c in extra {
            out.extend_from_slice(c);
        }
        out.extend(png_chunks::chunk(b"IDAT", idat));
        out.extend(png_chunks::chunk(b"IEND", b""));
        out
    }

    fn zlib(bytes: impl std::io::Read) -> Vec<u8> {
        let mut z = flate2::read::ZlibEncoder::new(bytes, flate2::Compression::fast());
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut z, &mut out).unwrap();
        out
    }

    #[test]
    fn the_size_is_refused_from_the_header_before_decoding() {
        // 8000×8000 grey announced, and pixel data that is not even valid: refused for its size.
        let big = hand_png(8000, 8000, &[], b"not zlib at all");
        let e = decode(&big).unwrap_err();
        assert_eq!(e, ImageError::TooLarge { width: 8000, height: 8000 });
        assert!(e.to_string().contains("8000×8000") && e.to_string().contains("2048×2048"), "{e}");
        assert!(matches!(decode(&hand_png(MAX_SIDE + 1, 1, &[], b"")), Err(ImageError::TooLarge { .. })));
        assert!(matches!(decode(&hand_png(2049, 2048, &[], b"")), Err(ImageError::TooLarge { .. })));
        // A JPEG too: its header is read before its pixels.
        let wide = GrayImage::from_pixel(MAX_SIDE + 8, 8, Luma([255]));
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageLuma8(wide).write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
        assert_eq!(decode(&jpeg), Err(ImageError::TooLarge { width: MAX_SIDE + 8, height: 8 }));
    }

    #[test]
    fn the_largest_picture_allowed_decodes_within_the_memory_limit() {
        // 16-bit RGBA, the widest pixel there is: 8 bytes each.
        let side = MAX_PIXELS_SQUARE;
        let img = image::ImageBuffer::<image::Rgba<u16>, Vec<u16>>::from_fn(side, side, |x, _| {
            image::Rgba(if (900..1100).contains(&x) { [0, 0, 0, 65535] } else { [65535; 4] })
        });
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgba16(img).write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
        let p = prepare(&bytes).unwrap();
        assert_eq!(p.source, (side, side));
        assert!(p.inverted);
    }

    #[test]
    fn damaged_pngs_say_so() {
        let whole = png(&drawing());
        for cut in [whole.len() / 2, whole.len() - 12, 40] {
            match decode(&whole[..cut]) {
                Err(ImageError::Damaged { format: "PNG", detail }) => assert!(detail.contains("cut short"), "{detail}"),
                other => panic!("{cut}: {other:?}"),
            }
        }
        // Whole chunks, but pixel data that is not zlib.
        let e = decode(&hand_png(30, 30, &[], b"not zlib at all")).unwrap_err();
        assert!(matches!(&e, ImageError::Damaged { format: "PNG", .. }), "{e:?}");
        assert!(e.to_string().starts_with("the PNG is damaged: "), "{e}");
    }

    #[test]
    fn an_icc_profile_that_inflates_to_64_mib_never_reaches_the_decoder() {
        let mut profile = b"evil\0\0".to_vec();
        profile.extend(zlib(std::io::Read::take(std::io::repeat(0), 64 << 20)));
        assert!(profile.len() < 1 << 20);
        let rows: Vec<u8> = (0..40u32)
            .flat_map(|y| {
                std::iter::once(0u8)
                    .chain((0..40u32).map(move |x| if (15..25).contains(&x) && y > 5 { 0 } else { 255 }))
            })
            .collect();
        let bytes = hand_png(40, 40, &[png_chunks::chunk(b"iCCP", &profile)], &zlib(&rows[..]));
        let layout = png_chunks::layout(&bytes).unwrap();
        assert!(layout.stripped.len() < 1000, "the profile is left out: {} bytes", layout.stripped.len());
        let p = prepare(&bytes).unwrap();
        assert_eq!(p.source, (40, 40));
        assert!(p.inverted);
    }
}
