//! On-the-fly augmentation of 28×28 training images (`--augment`): a random affine map (rotation,
//! scale, aspect, shear, shift), an elastic displacement field (Simard et al. 2003, here a 4×4 grid
//! of random displacements smoothly interpolated), and sometimes a thicker or thinner stroke
//! (grey dilation or erosion, as Morpho-MNIST perturbs thickness). Each image's randomness comes
//! from (seed, step, row in the batch), so a resumed run augments exactly as an uninterrupted one.

use crate::recipe::Augment;
use emnist_data::rng::{ElasticField, Rng};
use emnist_data::{PIXELS, SIDE};

/// The random stream of one image of one step.
pub fn rng(seed: u64, step: usize, row: usize) -> Rng {
    Rng::derive(seed ^ 0xa06_3e47, step as u64, row as u64)
}

/// Writes an augmented copy of `src` (upright, `PIXELS` bytes) into `out`; `Off` copies it.
pub fn augment(kind: Augment, src: &[u8], rng: &mut Rng, out: &mut [u8]) {
    match kind {
        Augment::Off => out.copy_from_slice(src),
        Augment::Handwriting => handwriting(src, rng, out),
        Augment::Garments => garments(src, rng, out),
    }
}

/// A horizontal flip half the time, and a shift of up to 2 pixels each way (zeros come in).
fn garments(src: &[u8], rng: &mut Rng, out: &mut [u8]) {
    let flip = rng.uniform() < 0.5;
    let (dx, dy) = (rng.below(5) as i32 - 2, rng.below(5) as i32 - 2);
    for y in 0..SIDE as i32 {
        for x in 0..SIDE as i32 {
            let (sx, sy) = (if flip { SIDE as i32 - 1 - x } else { x } - dx, y - dy);
            let inside = (0..SIDE as i32).contains(&sx) && (0..SIDE as i32).contains(&sy);
            out[y as usize * SIDE + x as usize] = if inside { src[sy as usize * SIDE + sx as usize] } else { 0 };
        }
    }
}

/// Random affine, elastic field, and sometimes a thicker or thinner stroke.
fn handwriting(src: &[u8], rng: &mut Rng, out: &mut [u8]) {
    let turn = (0.14 * rng.gauss()).clamp(-0.3, 0.3);
    let scale = rng.range(0.8, 1.1);
    let aspect = (0.08 * rng.gauss()).clamp(-0.2, 0.2).exp();
    let shear = rng.range(-0.3, 0.3);
    let shift = [rng.range(-2.5, 2.5), rng.range(-2.5, 2.5)];
    // Output → input: undo shift, then the inverse of scale·[aspect, shear; 0, 1]·rotation.
    let (sin, cos) = turn.sin_cos();
    let a = [[scale * aspect * cos, scale * (aspect * -sin + shear * cos)], [scale * sin, scale * cos]];
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let inv = [[a[1][1] / det, -a[0][1] / det], [-a[1][0] / det, a[0][0] / det]];

    let amp = rng.range(0.0, 1.3);
    let field = ElasticField::new(rng, amp);
    let c = SIDE as f32 / 2.0;

    let mut img = [0.0f32; PIXELS];
    for (i, v) in img.iter_mut().enumerate() {
        let (ox, oy) = ((i % SIDE) as f32 + 0.5, (i / SIDE) as f32 + 0.5);
        let d = field.at(ox / SIDE as f32, oy / SIDE as f32);
        let (x, y) = (ox - c - shift[0] + d[0], oy - c - shift[1] + d[1]);
        let (sx, sy) = (inv[0][0] * x + inv[0][1] * y + c, inv[1][0] * x + inv[1][1] * y + c);
        *v = bilinear(src, sx - 0.5, sy - 0.5);
    }
    // Thicker strokes three times in ten; thinner (half an erosion: a full one would wipe out
    // the 2-pixel strokes many EMNIST images have) once in ten.
    let img = match rng.below(10) {
        0..=2 => morph(&img, f32::max),
        3 => {
            let thin = morph(&img, f32::min);
            std::array::from_fn(|i| 0.5 * (img[i] + thin[i]))
        }
        _ => img,
    };
    for (o, v) in out.iter_mut().zip(img.iter()) {
        *o = v.round().clamp(0.0, 255.0) as u8;
    }
}

/// The image at a fractional pixel position, zero outside.
fn bilinear(src: &[u8], x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xi: f32, yi: f32| {
        if xi < 0.0 || yi < 0.0 || xi >= SIDE as f32 || yi >= SIDE as f32 {
            0.0
        } else {
            src[yi as usize * SIDE + xi as usize] as f32
        }
    };
    let top = at(x0, y0) + fx * (at(x0 + 1.0, y0) - at(x0, y0));
    let bottom = at(x0, y0 + 1.0) + fx * (at(x0 + 1.0, y0 + 1.0) - at(x0, y0 + 1.0));
    top + fy * (bottom - top)
}

/// Grey dilation (`f32::max`) or erosion (`f32::min`) over a pixel and its four neighbours.
fn morph(img: &[f32; PIXELS], pick: fn(f32, f32) -> f32) -> [f32; PIXELS] {
    let mut out = *img;
    for y in 0..SIDE {
        for x in 0..SIDE {
            let mut v = img[y * SIDE + x];
            // Beyond the border counts as the pixel itself: neutral for either operation.
            let outside = v;
            for (dx, dy) in [(-1i32, 0i32), (1, 0), (0, -1), (0, 1)] {
                let (nx, ny) = (x as i32 + dx, y as i32 + dy);
                let n = if (0..SIDE as i32).contains(&nx) && (0..SIDE as i32).contains(&ny) {
                    img[ny as usize * SIDE + nx as usize]
                } else {
                    outside
                };
                v = pick(v, n);
            }
            out[y * SIDE + x] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar() -> Vec<u8> {
        let mut img = vec![0u8; PIXELS];
        for y in 6..22 {
            for x in 12..16 {
                img[y * SIDE + x] = 255;
            }
        }
        img
    }

    #[test]
    fn augmentation_is_deterministic_by_seed_step_and_row() {
        let src = bar();
        let run = |seed, step, row| {
            let mut out = vec![0u8; PIXELS];
            augment(Augment::Handwriting, &src, &mut rng(seed, step, row), &mut out);
            out
        };
        assert_eq!(run(1, 5, 3), run(1, 5, 3));
        assert_ne!(run(1, 5, 3), run(1, 5, 4));
        assert_ne!(run(1, 5, 3), run(1, 6, 3));
        assert_ne!(run(1, 5, 3), run(2, 5, 3));
    }

    #[test]
    fn augmented_images_keep_most_of_their_ink_near_the_centre() {
        let src = bar();
        let ink: f32 = src.iter().map(|&v| v as f32).sum();
        for row in 0..200 {
            let mut out = vec![0u8; PIXELS];
            augment(Augment::Handwriting, &src, &mut rng(9, 0, row), &mut out);
            let got: f32 = out.iter().map(|&v| v as f32).sum();
            assert!(got > 0.3 * ink && got < 2.5 * ink, "row {row}: {got} vs {ink}");
            let (mut cx, mut cy) = (0.0, 0.0);
            for (i, &v) in out.iter().enumerate() {
                cx += (i % SIDE) as f32 * v as f32 / got;
                cy += (i / SIDE) as f32 * v as f32 / got;
            }
            assert!((cx - 13.5).abs() < 4.0 && (cy - 13.5).abs() < 4.0, "row {row}: centre ({cx}, {cy})");
        }
    }

    #[test]
    fn garments_flip_half_the_time_and_shift_by_at_most_two_pixels() {
        // One lit pixel at (5, 10): it lands within 2 px of (5, 10), or of its mirror (22, 10).
        let mut src = vec![0u8; PIXELS];
        src[10 * SIDE + 5] = 200;
        let (mut left, mut right) = (0, 0);
        for row in 0..100 {
            let mut out = vec![0u8; PIXELS];
            augment(Augment::Garments, &src, &mut rng(4, 1, row), &mut out);
            let lit: Vec<usize> = (0..PIXELS).filter(|&i| out[i] != 0).collect();
            assert_eq!(lit.len(), 1, "row {row}");
            let (x, y) = (lit[0] % SIDE, lit[0] / SIDE);
            assert!(y.abs_diff(10) <= 2 && out[lit[0]] == 200, "row {row}");
            match x {
                3..=7 => left += 1,
                20..=24 => right += 1,
                _ => panic!("row {row}: x = {x}"),
            }
        }
        assert!(left > 30 && right > 30, "flips {right} of 100");
        let mut same = vec![0u8; PIXELS];
        augment(Augment::Off, &src, &mut rng(4, 1, 0), &mut same);
        assert_eq!(same, src);
    }

    #[test]
    fn dilation_thickens_and_erosion_thins() {
        let src: Vec<f32> = bar().iter().map(|&v| v as f32).collect();
        let img: [f32; PIXELS] = src.try_into().unwrap();
        let sum = |a: &[f32; PIXELS]| a.iter().sum::<f32>();
        assert!(sum(&morph(&img, f32::max)) > sum(&img));
        assert!(sum(&morph(&img, f32::min)) < sum(&img));
    }
}
