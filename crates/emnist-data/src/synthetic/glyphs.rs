//! The shapes the pen draws: centre-line strokes for each of the 62 byclass characters, from three
//! single-stroke Hershey faces (simplex roman, simplex script, cursive; embedded with their
//! acknowledgement in `assets/hershey/COPYRIGHT.hershey`) and a few hand-authored allographs that
//! fonts do not have but hands write (stick 1, open 4, crossed 7 and Z, straight-stemmed 9, …).
//!
//! Coordinates are Hershey units, y down: capitals and digits span about y = -12 (top) to 9
//! (baseline), lowercase x-height starts near y = -5.

/// One pen-down path.
pub type Stroke = Vec<[f32; 2]>;

/// Where a shape comes from, for weighting and for the README's ablation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Roman,
    Script,
    Cursive,
    Hand,
}

/// One way of writing a character.
#[derive(Debug, Clone)]
pub struct Shape {
    pub strokes: Vec<Stroke>,
    pub origin: Origin,
    /// Relative frequency among the class's shapes.
    pub weight: f32,
}

const ROMAN: &str = include_str!("../../assets/hershey/futural.jhf");
const SCRIPT: &str = include_str!("../../assets/hershey/scripts.jhf");
const CURSIVE: &str = include_str!("../../assets/hershey/cursive.jhf");

/// Parses a `.jhf` font (one glyph per line for ASCII 32..=127): a 5-character id, a 3-character
/// count of coordinate pairs (the first pair is the left and right bearing), then pairs of letters
/// whose offset from `R` is the coordinate; ` R` lifts the pen.
fn parse_jhf(text: &str) -> Vec<(char, Vec<Stroke>)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(c) = char::from_u32(32 + i as u32) else { break };
        let bytes = line.as_bytes();
        if bytes.len() < 10 {
            continue;
        }
        let mut strokes: Vec<Stroke> = vec![Vec::new()];
        for pair in bytes[10..].chunks_exact(2) {
            if pair == b" R" {
                strokes.push(Vec::new());
                continue;
            }
            let (x, y) = (pair[0] as f32 - b'R' as f32, pair[1] as f32 - b'R' as f32);
            strokes.last_mut().expect("never empty").push([x, y]);
        }
        strokes.retain(|s| !s.is_empty());
        out.push((c, strokes));
    }
    out
}

/// Points on an ellipse arc from `a0` to `a1` radians (0 = right, y down so π/2 = below).
fn arc(c: [f32; 2], r: [f32; 2], a0: f32, a1: f32, n: usize) -> Stroke {
    (0..=n)
        .map(|i| {
            let a = a0 + (a1 - a0) * i as f32 / n as f32;
            [c[0] + r[0] * a.cos(), c[1] + r[1] * a.sin()]
        })
        .collect()
}

fn line(points: &[[f32; 2]]) -> Stroke {
    points.to_vec()
}

/// Handwritten forms the faces lack, drawn in Hershey units.
fn hand_shapes(c: char) -> Vec<Vec<Stroke>> {
    use std::f32::consts::PI;
    match c {
        '1' => vec![
            vec![line(&[[0.0, -12.0], [0.0, 9.0]])],
            vec![line(&[[-4.0, -8.0], [0.5, -12.0], [0.0, 9.0]])],
            vec![line(&[[-4.0, -8.0], [0.5, -12.0], [0.0, 9.0]]), line(&[[-4.0, 9.0], [4.0, 9.0]])],
        ],
        '4' => vec![
            vec![line(&[[-2.0, -12.0], [-7.0, 2.0], [7.0, 2.0]]), line(&[[3.0, -7.0], [3.0, 9.0]])],
            vec![line(&[[-3.0, -12.0], [-6.0, 1.0], [6.0, 1.0]]), line(&[[3.5, -12.0], [3.0, 9.0]])],
        ],
        '7' => vec![
            vec![line(&[[-7.0, -12.0], [7.0, -12.0], [-1.0, 9.0]]), line(&[[-3.0, -1.0], [6.0, -1.0]])],
            vec![line(&[[-7.0, -9.0], [-6.0, -12.0], [7.0, -12.0], [0.0, 9.0]])],
        ],
        '9' => vec![vec![arc([-0.5, -6.5], [5.5, 5.5], 0.0, 2.0 * PI, 16), line(&[[5.0, -7.0], [4.0, 9.0]])]],
        '0' => vec![vec![arc([0.0, -1.5], [5.5, 10.5], -PI / 2.0, 1.5 * PI + 0.3, 20)]],
        '2' => vec![vec![{
            let mut s = arc([0.0, -6.5], [6.0, 5.5], 1.1 * PI, 2.2 * PI, 10);
            s.extend([[-7.0, 9.0], [7.0, 9.0]]);
            s
        }]],
        '3' => vec![vec![
            arc([0.0, -7.0], [5.5, 5.0], 1.2 * PI, 2.5 * PI, 10),
            arc([0.0, 3.0], [6.5, 6.0], 1.5 * PI, 2.8 * PI, 12),
        ]],
        '6' => vec![vec![{
            let mut s = arc([8.0, 1.0], [13.0, 13.0], 1.3 * PI, PI, 6);
            s.extend(arc([0.0, 3.5], [5.5, 5.5], PI, 3.0 * PI, 14));
            s
        }]],
        'Z' => vec![vec![
            line(&[[-7.0, -12.0], [7.0, -12.0], [-7.0, 9.0], [7.0, 9.0]]),
            line(&[[-4.0, -1.5], [4.0, -1.5]]),
        ]],
        'z' => {
            vec![vec![line(&[[-6.0, -5.0], [6.0, -5.0], [-6.0, 9.0], [6.0, 9.0]]), line(&[[-3.0, 2.0], [3.0, 2.0]])]]
        }
        'I' => vec![vec![
            line(&[[0.0, -12.0], [0.0, 9.0]]),
            line(&[[-4.0, -12.0], [4.0, -12.0]]),
            line(&[[-4.0, 9.0], [4.0, 9.0]]),
        ]],
        'J' => vec![vec![line(&[[-3.0, -12.0], [7.0, -12.0]]), {
            let mut s = vec![[3.0, -12.0]];
            s.extend(arc([-1.5, 4.5], [4.5, 4.5], 0.0, PI, 8));
            s
        }]],
        'l' => vec![vec![line(&[[0.0, -12.0], [0.0, 9.0]])]],
        'q' => vec![vec![
            arc([-1.0, 2.0], [5.5, 7.0], -0.3, 2.0 * PI - 0.3, 14),
            line(&[[4.5, -5.0], [4.5, 16.0], [7.0, 13.0]]),
        ]],
        'y' => vec![vec![
            line(&[[-6.0, -5.0], [-5.0, 4.0], [-1.0, 8.0], [5.0, 6.0]]),
            line(&[[6.0, -5.0], [5.0, 13.0], [0.0, 16.0], [-5.0, 14.0]]),
        ]],
        't' => {
            vec![vec![line(&[[0.0, -12.0], [0.0, 6.0], [2.0, 9.0], [5.0, 8.0]]), line(&[[-5.0, -5.0], [5.0, -5.0]])]]
        }
        'f' => vec![vec![
            {
                let mut s = arc([3.5, -8.5], [3.5, 3.5], -0.2, -PI, 6);
                s.push([0.0, 9.0]);
                s
            },
            line(&[[-4.0, -4.0], [4.0, -4.0]]),
        ]],
        _ => vec![],
    }
}

/// Every class's shapes, in class order of `chars`.
pub fn library(chars: &[char]) -> Vec<Vec<Shape>> {
    let faces =
        [(parse_jhf(ROMAN), Origin::Roman), (parse_jhf(SCRIPT), Origin::Script), (parse_jhf(CURSIVE), Origin::Cursive)];
    chars
        .iter()
        .map(|&c| {
            let mut shapes = Vec::new();
            for (face, origin) in &faces {
                let Some((_, strokes)) = face.iter().find(|(g, _)| *g == c) else { continue };
                if strokes.is_empty() {
                    continue;
                }
                // Hands in boxes print: capitals and digits come mostly from the roman face, the
                // script faces' capitals are ornate and rare.
                let weight = match (origin, c.is_ascii_uppercase()) {
                    (Origin::Roman, _) => 1.0,
                    (_, true) => 0.08,
                    (Origin::Script, false) => 0.35,
                    _ => 0.25,
                };
                shapes.push(Shape { strokes: strokes.clone(), origin: *origin, weight });
            }
            let hand = hand_shapes(c);
            let n = hand.len().max(1) as f32;
            for strokes in hand {
                shapes.push(Shape { strokes, origin: Origin::Hand, weight: 1.0 / n });
            }
            // Cursive repeats the roman digits: keep one copy of identical shapes.
            let mut unique: Vec<Shape> = Vec::new();
            for s in shapes {
                if !unique.iter().any(|u| u.strokes == s.strokes) {
                    unique.push(s);
                }
            }
            unique
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byclass_character_has_strokes_within_the_hershey_box() {
        let names = crate::ClassTable::byclass().names;
        let chars: Vec<char> = names.iter().map(|n| n.chars().next().unwrap()).collect();
        let lib = library(&chars);
        for (c, shapes) in chars.iter().zip(&lib) {
            assert!(shapes.iter().any(|s| s.origin == Origin::Roman), "{c} has no roman shape");
            for s in shapes {
                assert!(!s.strokes.is_empty() && s.strokes.iter().all(|k| !k.is_empty()));
                for p in s.strokes.iter().flatten() {
                    assert!(p[0].abs() <= 16.0 && (-16.0..=22.0).contains(&p[1]), "{c}: {p:?}");
                }
            }
        }
        // The roman zero: one closed stroke of 17 points, as the file has it.
        assert_eq!(lib[0][0].strokes.len(), 1);
        assert_eq!(lib[0][0].strokes[0].len(), 17);
        assert_eq!(lib[0][0].strokes[0].first(), lib[0][0].strokes[0].last());
    }
}
