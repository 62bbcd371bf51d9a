//! What an ONNX file is as a 28×28 image classifier, read from its graph before any engine sees
//! it: the one image input (any name; `[B, 784]`, `[B, 28, 28]` or `[B, 1, 28, 28]`, `B` symbolic
//! or fixed), its one or two float outputs and which holds probabilities (a final Softmax says
//! so), and the class names (file metadata, a labels file, or the class count). A file that is
//! not such a classifier is refused here, with what was found and what is needed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tract_onnx::pb::{tensor_shape_proto::dimension, type_proto, GraphProto, ModelProto, ValueInfoProto};

use emnist_data::classes::ClassTable;
use emnist_data::setting::Setting;
use emnist_model::contract::{OutputKind, PIXELS, PIXEL_SCALE, SIDE};

/// How to read a file the graph does not fully describe (the interpretation flags of `emnist serve`).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// Pixel bytes times this are the model's input floats (default 1/255).
    pub input_scale: f32,
    /// Transpose each 28×28 image before the model sees it: for models trained on EMNIST's stored,
    /// transposed layout.
    pub transpose: bool,
    /// What a single output holds, when no final Softmax says it.
    pub outputs: Option<OutputKind>,
    /// Class names, one per line or an EMNIST mapping file (`label code` rows).
    pub labels: Option<PathBuf>,
    /// What loading the file may cost (file size, tensor sizes, the batch they are checked at).
    pub limits: super::budget::Limits,
    /// Clamp float inputs outside the pixel range instead of refusing them ([`Signature::clamp`]).
    ///
    /// [`Signature::clamp`]: emnist_model::contract::Signature::clamp
    pub clamp_inputs: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            input_scale: PIXEL_SCALE,
            transpose: false,
            outputs: None,
            labels: None,
            limits: Default::default(),
            clamp_inputs: false,
        }
    }
}

/// How the input lays out one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[B, 784]`
    Flat,
    /// `[B, 28, 28]`
    Square,
    /// `[B, 1, 28, 28]`
    Channel,
}

impl Layout {
    /// The dimensions of a batch of `n`.
    pub fn dims(self, n: usize) -> Vec<usize> {
        match self {
            Layout::Flat => vec![n, PIXELS],
            Layout::Square => vec![n, SIDE, SIDE],
            Layout::Channel => vec![n, 1, SIDE, SIDE],
        }
    }

    /// The dimensions as protocols announce them (`-1`: any batch size).
    pub fn announced(self) -> Vec<i64> {
        let mut d: Vec<i64> = self.dims(1).into_iter().map(|x| x as i64).collect();
        d[0] = -1;
        d
    }
}

/// A classifier's interface as its graph declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    /// The image input's name.
    pub input: String,
    pub layout: Layout,
    /// The batch size the file fixes (`None`: symbolic).
    pub fixed_batch: Option<usize>,
    /// The file's outputs, in graph order, and what each holds.
    pub outputs: Vec<(String, OutputKind)>,
    /// The `ai.onnx` opset the file imports.
    pub opset: i64,
    pub ir_version: i64,
}

const NEEDED_INPUT: &str = "one float32 image input of shape [N, 784], [N, 28, 28] or [N, 1, 28, 28]";

/// Reads `proto`'s interface; `path` names the file in errors.
pub fn inspect(proto: &ModelProto, path: &Path, opts: &ModelOptions) -> Result<Interface> {
    let file = path.display();
    let graph = proto.graph.as_ref().with_context(|| format!("`{file}` holds no graph"))?;
    let opset = proto.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version);
    let opset = opset.with_context(|| format!("`{file}` imports no `ai.onnx` opset"))?;
    if opset < 6 {
        bail!("`{file}` uses opset {opset}; files from opset 6 up are served");
    }
    let input = the_input(graph, path)?;
    let (elem, dims) = tensor_type(input);
    if elem != Some(1) {
        bail!("`{file}` takes input `{}` of type {}; needed: {NEEDED_INPUT}", input.name, elem_name(elem));
    }
    let shown = show_dims(dims.as_deref());
    let dims = dims.with_context(|| {
        format!("`{file}` does not declare the shape of input `{}`; needed: {NEEDED_INPUT}", input.name)
    })?;
    let side = Some(SIDE as i64);
    let layout = match dims[1..] {
        [p] if p == Some(PIXELS as i64) => Layout::Flat,
        [h, w] if h == side && w == side => Layout::Square,
        [c, h, w] if c == Some(1) && h == side && w == side => Layout::Channel,
        _ => bail!("`{file}` takes input `{}` of shape {shown}; needed: {NEEDED_INPUT}", input.name),
    };
    let fixed_batch = match dims.first() {
        Some(Some(b)) if *b >= 1 => Some(*b as usize),
        Some(Some(b)) => bail!("`{file}` fixes the batch of input `{}` at {b}; needed: {NEEDED_INPUT}", input.name),
        _ => None,
    };
    let outputs = output_kinds(graph, path, opts)?;
    Ok(Interface { input: input.name.clone(), layout, fixed_batch, outputs, opset, ir_version: proto.ir_version })
}

/// The graph's one real input (inputs that are also initializers are weights: opsets before 9
/// list them so).
fn the_input<'a>(graph: &'a GraphProto, path: &Path) -> Result<&'a ValueInfoProto> {
    let inputs: Vec<&ValueInfoProto> =
        graph.input.iter().filter(|i| !graph.initializer.iter().any(|t| t.name == i.name)).collect();
    match inputs.as_slice() {
        [one] => Ok(one),
        [] => bail!("`{}` has no input; needed: {NEEDED_INPUT}", path.display()),
        many => {
            let names: Vec<String> =
                many.iter().map(|i| format!("`{}` {}", i.name, show_dims(tensor_type(i).1.as_deref()))).collect();
            bail!("`{}` has {} inputs ({}); needed: {NEEDED_INPUT}", path.display(), many.len(), names.join(", "))
        }
    }
}

/// Element type and dimensions (`None` for a symbolic or unknown one) of a tensor value.
fn tensor_type(v: &ValueInfoProto) -> (Option<i32>, Option<Vec<Option<i64>>>) {
    let Some(type_proto::Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return (None, None);
    };
    let dims = t.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .map(|d| match d.value {
                Some(dimension::Value::DimValue(v)) => Some(v),
                _ => None,
            })
            .collect()
    });
    (Some(t.elem_type), dims)
}

fn show_dims(dims: Option<&[Option<i64>]>) -> String {
    match dims {
        None => "(undeclared)".into(),
        Some(d) => {
            let d: Vec<String> = d.iter().map(|x| x.map_or("?".to_string(), |v| v.to_string())).collect();
            format!("[{}]", d.join(", "))
        }
    }
}

fn elem_name(elem: Option<i32>) -> &'static str {
    match elem {
        Some(1) => "float32",
        Some(2) => "uint8",
        Some(3) => "int8",
        Some(6) => "int32",
        Some(7) => "int64",
        Some(9) => "bool",
        Some(10) => "float16",
        Some(11) => "float64",
        Some(16) => "bfloat16",
        Some(_) => "another element type",
        None => "a non-tensor type",
    }
}

/// The outputs and what each holds: probabilities when a Softmax makes them (looking through
/// nodes that only reshape), else logits; `--outputs` decides for a single output.
fn output_kinds(graph: &GraphProto, path: &Path, opts: &ModelOptions) -> Result<Vec<(String, OutputKind)>> {
    let file = path.display();
    let names: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    if names.is_empty() || names.len() > 2 {
        bail!(
            "`{file}` has {} outputs ({}); needed: one or two float32 outputs of class scores [N, K]",
            names.len(),
            names.join(", ")
        );
    }
    for o in &graph.output {
        let (elem, dims) = tensor_type(o);
        if elem != Some(1) {
            bail!("`{file}` has output `{}` of type {}; needed: float32 class scores [N, K]", o.name, elem_name(elem));
        }
        if let Some(d) = dims.filter(|d| d.len() != 2) {
            bail!("`{file}` has output `{}` of shape {}; needed: class scores [N, K]", o.name, show_dims(Some(&d)));
        }
    }
    let softmax: Vec<bool> = names.iter().map(|n| made_by_softmax(graph, n)).collect();
    let kinds = match (names.len(), opts.outputs) {
        (1, Some(kind)) => vec![kind],
        (1, None) => vec![if softmax[0] { OutputKind::Probabilities } else { OutputKind::Logits }],
        _ => match (softmax[0], softmax[1]) {
            (false, true) => vec![OutputKind::Logits, OutputKind::Probabilities],
            (true, false) => vec![OutputKind::Probabilities, OutputKind::Logits],
            _ => {
                let by_name: Option<Vec<OutputKind>> = names.iter().map(|n| n.parse().ok()).collect();
                match by_name {
                    Some(k) if k[0] != k[1] => k,
                    _ => bail!(
                        "`{file}` has two outputs ({}) and no single final Softmax tells which holds probabilities; name them `logits` and `probabilities`",
                        names.join(", ")
                    ),
                }
            }
        },
    };
    Ok(names.into_iter().zip(kinds).collect())
}

/// Whether `name` is a Softmax's output, possibly through Identity/Reshape/Flatten/Squeeze.
fn made_by_softmax(graph: &GraphProto, name: &str) -> bool {
    let mut current = name.to_string();
    for _ in 0..graph.node.len() {
        let Some(node) = graph.node.iter().find(|n| n.output.contains(&current)) else {
            return false;
        };
        match node.op_type.as_str() {
            "Softmax" => return true,
            "Identity" | "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => match node.input.first() {
                Some(i) => current = i.clone(),
                None => return false,
            },
            _ => return false,
        }
    }
    false
}

/// Where the class names came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelSource {
    /// The file's metadata `class_names`.
    Metadata,
    /// A labels file.
    File(PathBuf),
    /// Guessed from the class count (the EMNIST split of that many classes).
    Inferred(&'static str),
    /// Column numbers: nothing else was known.
    Numbers,
}

impl LabelSource {
    /// A line saying where the names came from.
    pub fn describe(&self) -> String {
        match self {
            LabelSource::Metadata => "class names from the file's metadata".into(),
            LabelSource::File(p) => format!("class names from `{}`", p.display()),
            LabelSource::Inferred(split) => {
                format!(
                    "class names inferred from the class count: EMNIST {split} (pass {} if they are not)",
                    Setting::Labels.given("FILE")
                )
            }
            LabelSource::Numbers => {
                format!(
                    "no class names known: classes are named by their numbers (pass {})",
                    Setting::Labels.given("FILE")
                )
            }
        }
    }
}

/// The class names: the file's metadata, else `--labels`, else by the class count.
pub fn class_names(
    metadata: Option<&str>,
    labels: Option<&Path>,
    classes: usize,
) -> Result<(Vec<String>, LabelSource)> {
    if let Some(path) = labels {
        let names = read_labels(path)?;
        if names.len() != classes {
            bail!("`{}` names {} classes but the model outputs {classes}", path.display(), names.len());
        }
        return Ok((names, LabelSource::File(path.to_path_buf())));
    }
    if let Some(Ok(names)) = metadata.map(serde_json::from_str::<Vec<String>>) {
        if names.len() == classes {
            return Ok((names, LabelSource::Metadata));
        }
    }
    let (names, split): (Vec<String>, &str) = match classes {
        62 => (ClassTable::byclass().names, "byclass"),
        47 => {
            (('0'..='9').chain('A'..='Z').chain("abdefghnqrt".chars()).map(String::from).collect(), "balanced/bymerge")
        }
        26 => (('A'..='Z').zip('a'..='z').map(|(u, l)| format!("{u}/{l}")).collect(), "letters"),
        10 => (('0'..='9').map(String::from).collect(), "digits/mnist"),
        n => return Ok(((0..n).map(|i| i.to_string()).collect(), LabelSource::Numbers)),
    };
    Ok((names, LabelSource::Inferred(split)))
}

/// A labels file: an EMNIST mapping (`label code [code …]` per line, codes as decimal character
/// codes) or one class name per line.
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read labels file `{}`", path.display()))?;
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        bail!("labels file `{}` is empty: write one class name per line", path.display());
    }
    let rows: Option<Vec<Vec<i64>>> = lines
        .iter()
        .map(|l| l.split_whitespace().map(|x| x.parse().ok()).collect::<Option<Vec<i64>>>().filter(|r| r.len() >= 2))
        .collect();
    match rows {
        Some(rows) => {
            Ok(ClassTable::from_mapping(&rows).with_context(|| format!("labels file `{}`", path.display()))?.names)
        }
        None => Ok(lines.into_iter().map(str::to_string).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_by_count_and_from_files() {
        let (n, s) = class_names(None, None, 47).unwrap();
        assert_eq!((n.len(), &n[36][..], s), (47, "a", LabelSource::Inferred("balanced/bymerge")));
        assert_eq!(class_names(None, None, 26).unwrap().0[0], "A/a");
        assert_eq!(class_names(None, None, 7).unwrap().1, LabelSource::Numbers);
        assert_eq!(
            class_names(Some(r#"["x","y"]"#), None, 2).unwrap(),
            (vec!["x".into(), "y".into()], LabelSource::Metadata)
        );
        let dir = std::env::temp_dir().join(format!("emnist-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mapping = dir.join("mapping.txt");
        std::fs::write(&mapping, "0 48\n1 65 97\n").unwrap();
        assert_eq!(read_labels(&mapping).unwrap(), ["0", "A/a"]);
        let plain = dir.join("names.txt");
        std::fs::write(&plain, "cat\ndog\n\n").unwrap();
        assert_eq!(read_labels(&plain).unwrap(), ["cat", "dog"]);
        assert!(class_names(None, Some(&plain), 3).unwrap_err().to_string().contains("names 2 classes"));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn layouts_announce_a_free_batch() {
        assert_eq!(Layout::Flat.announced(), [-1, 784]);
        assert_eq!(Layout::Channel.dims(3), [3, 1, 28, 28]);
    }
}
