//! Try `matfile` 0.5 and `matrw` 0.1.4 on EMNIST-layout .mat files; one line per (crate, file).
use matrw::MatVariable;

/// Column-major digest of uint8 data: (sum, h = h*31 + b mod 2^64), matched against make_variants.py.
fn digest(v: &[u8]) -> String {
    let (s, h) = v.iter().fold((0u64, 0u64), |(s, h), &b| {
        (s + b as u64, h.wrapping_mul(31).wrapping_add(b as u64))
    });
    format!("sum={s} h={h:016x}")
}

/// One line: drop ANSI colour codes and the multi-line backtrace frame binrw prints.
fn one_line(s: String) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c)
        }
    }
    out.split_whitespace()
        .filter(|w| !w.chars().all(|c| "╺━┅╸".contains(c)) && *w != "Backtrace")
        .collect::<Vec<_>>()
        .join(" ")
}

fn try_matfile(path: &str) -> String {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return format!("ERROR open: {e}"),
    };
    match matfile::MatFile::parse(file) {
        Err(e) => one_line(format!("ERROR {e} ({e:?})")),
        Ok(m) => {
            let vars: Vec<String> = m
                .arrays()
                .iter()
                .map(|a| {
                    let sum = match a.data() {
                        matfile::NumericData::UInt8 { real, .. } => {
                            format!(" uint8 {}", digest(real))
                        }
                        _ => String::new(),
                    };
                    format!("{}{:?}{sum}", a.name(), a.size())
                })
                .collect();
            format!(
                "ok; variables={vars:?}; dataset present={}",
                m.find_by_name("dataset").is_some()
            )
        }
    }
}

/// A 1x1 struct may come back as Structure or as a 1x1 StructureArray.
fn field<'a>(v: &'a MatVariable, name: &str) -> &'a MatVariable {
    match v {
        MatVariable::StructureArray(_) => &v[0usize][name],
        _ => &v[name],
    }
}

fn kind(v: &MatVariable) -> &'static str {
    match v {
        MatVariable::Structure(_) => "Structure",
        MatVariable::StructureArray(_) => "StructureArray",
        MatVariable::NumericArray(_) => "NumericArray",
        MatVariable::Null => "Null",
        _ => "other",
    }
}

fn try_matrw(path: &str) -> String {
    let m = match matrw::load_matfile(path) {
        Ok(m) => m,
        Err(e) => return one_line(format!("ERROR {e:?}")),
    };
    let vars: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{}", kind(v))).collect();
    let mut out = format!(
        "ok; variables={vars:?}; dataset present={}",
        m.contains("dataset")
    );
    if m.contains("dataset") {
        let ds = &m["dataset"];
        let images = field(field(ds, "train"), "images");
        out += &format!(
            "; dataset fields={:?}; train fields={:?}; train.images {} dim={:?} uint8={:?} {}",
            ds.fieldnames().unwrap_or_default(),
            field(ds, "train").fieldnames().unwrap_or_default(),
            kind(images),
            if matches!(images, MatVariable::Null) {
                vec![]
            } else {
                images.dim()
            },
            images.to_vec_u8().is_some(),
            images.to_vec_u8().map_or("-".into(), |v| digest(&v)),
        );
    }
    if m.contains("images") {
        out += &format!(
            "; images dim={:?} {}",
            m["images"].dim(),
            m["images"].to_vec_u8().map_or("-".into(), |v| digest(&v))
        );
    }
    out
}

fn main() {
    for path in std::env::args().skip(1) {
        println!("matfile 0.5.0 | {path} | {}", try_matfile(&path));
        println!("matrw   0.1.4 | {path} | {}", try_matrw(&path));
    }
}
