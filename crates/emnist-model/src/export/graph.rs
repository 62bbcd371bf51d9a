//! The ONNX graph of a [`ModelSpec`] and its weights, as protobuf messages ([`super::onnx_pb`],
//! prost-generated from ONNX's `onnx.proto3`), encoded to deterministic bytes.
//!
//! The graph holds to [`crate::contract`]: input `image`, float32 `[N, 1, 28, 28]`; outputs
//! `logits` and `probabilities` (Softmax over axis 1), float32 `[N, K]`. Weights are initializers
//! holding little-endian `raw_data`.

use super::onnx_pb::{
    self as pb, attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use anyhow::{bail, Result};
use prost::Message;

use crate::record::ModelRecord;
use crate::weights::Weights;
use crate::{Layer, ModelSpec};

use crate::contract::{BATCH, INPUT, LOGITS, PROBABILITIES};

/// The opsets export writes (default [`DEFAULT_OPSET`]): from 13, where Softmax took its current
/// axis semantics, to 21; the operators used keep their meaning across the range.
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=21;
/// The opset written when none is asked for.
pub const DEFAULT_OPSET: i64 = 17;

/// Errors a caller can act on.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GraphError {
    #[error("opset {0} is not supported; choose one from 13 to 21 (default 17)")]
    UnsupportedOpset(i64),
}

/// The IR version of the ONNX release that introduced `opset` (onnx's own version table): the
/// oldest runtime that can read the opset can read the file.
pub fn ir_version(opset: i64) -> Result<i64> {
    Ok(match opset {
        13 | 14 => 7,
        15..=18 => 8,
        19 | 20 => 9,
        21 => 10,
        _ => bail!(GraphError::UnsupportedOpset(opset)),
    })
}

/// The whole model: graph, opset, producer, doc string and metadata.
pub fn build_model(record: &ModelRecord, weights: &Weights, opset: i64) -> Result<ModelProto> {
    let ir_version = ir_version(opset)?;
    weights.check(&record.spec)?;
    let spec = &record.spec;
    Ok(ModelProto {
        ir_version,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: opset }],
        producer_name: "emnist".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: String::new(),
        model_version: 1,
        doc_string: doc_string(record),
        graph: Some(build_graph(spec, weights)?),
        metadata_props: metadata(record, opset)?,
        ..Default::default()
    })
}

/// The encoded model: the same record, weights and opset always give the same bytes.
pub fn encode(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// One sentence on what the model is.
fn doc_string(record: &ModelRecord) -> String {
    let spec = &record.spec;
    let widths: Vec<String> = spec
        .layers()
        .iter()
        .filter_map(|l| match l {
            Layer::Linear { outputs, .. } => Some(outputs.to_string()),
            Layer::Conv2d { out_channels, kernel, .. } => Some(format!("conv{kernel}x{kernel}:{out_channels}")),
            _ => None,
        })
        .collect();
    format!(
        "{} classifier of handwritten characters ({} parameters; 784 -> {}) trained by emnist on {}. \
         Input `{INPUT}`: float32 [N, 1, 28, 28], pixel values / 255 in [0, 1], light ink on dark, upright. \
         Outputs `{LOGITS}` and `{PROBABILITIES}` (softmax): float32 [N, {}], class i is metadata `class_names`[i].",
        spec.architecture.name(),
        spec.parameter_count(),
        widths.join(" -> "),
        record.dataset.name,
        spec.classes.len()
    )
}

/// `metadata_props`, in a fixed order.
fn metadata(record: &ModelRecord, opset: i64) -> Result<Vec<StringStringEntryProto>> {
    let spec = &record.spec;
    let input = &spec.input;
    let normalisation = serde_json::json!({
        "shape": [BATCH, input.channels, input.height, input.width],
        "dtype": "float32",
        "scale": input.scale,
        "formula": "pixel / 255",
        "range": [0.0, 1.0],
        "layout": "upright, row-major, light ink (1.0) on dark (0.0)",
    });
    let entries = [
        ("class_names", serde_json::to_string(&spec.classes.names)?),
        ("class_labels", serde_json::to_string(&spec.classes.labels)?),
        ("architecture", serde_json::to_string(&spec.architecture)?),
        ("dataset", record.dataset.name.clone()),
        ("dataset_split", record.dataset.split.map(|s| s.name().to_string()).unwrap_or_default()),
        ("dataset_fingerprint", record.dataset.fingerprint.clone()),
        ("input_normalisation", normalisation.to_string()),
        ("test_accuracy", record.metrics.test_accuracy.to_string()),
        ("balanced_accuracy", record.metrics.balanced_accuracy.to_string()),
        ("producer", format!("emnist {}", env!("CARGO_PKG_VERSION"))),
        ("opset", opset.to_string()),
    ];
    Ok(entries.into_iter().map(|(k, v)| StringStringEntryProto { key: k.into(), value: v }).collect())
}

/// The graph: one node per layer (Dropout left out: it is the identity at inference), then Softmax.
fn build_graph(spec: &ModelSpec, weights: &Weights) -> Result<GraphProto> {
    let mut nodes = Vec::new();
    let mut current = INPUT.to_string();
    let mut count = std::collections::BTreeMap::<&str, usize>::new();
    let layers: Vec<Layer> = spec.layers().into_iter().filter(|l| !matches!(l, Layer::Dropout { .. })).collect();
    let last_linear = layers.iter().rposition(|l| matches!(l, Layer::Linear { .. }));
    for (i, layer) in layers.iter().enumerate() {
        let (op, params, attrs, label): (&str, Vec<String>, Vec<AttributeProto>, Option<&str>) = match layer {
            Layer::Flatten => ("Flatten", vec![], vec![int("axis", 1)], None),
            Layer::Linear { name, .. } => (
                "Gemm",
                vec![format!("{name}.weight"), format!("{name}.bias")],
                vec![float("alpha", 1.0), float("beta", 1.0), int("transB", 1)],
                Some(name),
            ),
            Layer::Elu { alpha } => ("Elu", vec![], vec![float("alpha", *alpha)], None),
            Layer::Relu => ("Relu", vec![], vec![], None),
            Layer::Conv2d { name, kernel, padding, .. } => {
                let (k, p) = (*kernel as i64, *padding as i64);
                (
                    "Conv",
                    vec![format!("{name}.weight"), format!("{name}.bias")],
                    vec![
                        ints("dilations", &[1, 1]),
                        int("group", 1),
                        ints("kernel_shape", &[k, k]),
                        ints("pads", &[p, p, p, p]),
                        ints("strides", &[1, 1]),
                    ],
                    Some(name),
                )
            }
            Layer::MaxPool2d { kernel, stride } => {
                let (k, s) = (*kernel as i64, *stride as i64);
                let attrs = vec![ints("kernel_shape", &[k, k]), ints("pads", &[0, 0, 0, 0]), ints("strides", &[s, s])];
                ("MaxPool", vec![], attrs, None)
            }
            Layer::Dropout { .. } => unreachable!("dropout layers were filtered out"),
        };
        let n = count.entry(op).or_default();
        *n += 1;
        let node_name = match label {
            Some(l) => l.to_string(),
            None => format!("{}{}", op.to_lowercase(), n),
        };
        let output = if Some(i) == last_linear { LOGITS.to_string() } else { node_name.clone() };
        let mut inputs = vec![current.clone()];
        inputs.extend(params);
        nodes.push(NodeProto {
            input: inputs,
            output: vec![output.clone()],
            name: node_name,
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
        current = output;
    }
    if current != LOGITS {
        bail!("the {} model does not end in a linear layer, so it has no logits", spec.architecture.name());
    }
    nodes.push(NodeProto {
        input: vec![LOGITS.into()],
        output: vec![PROBABILITIES.into()],
        name: "softmax".into(),
        op_type: "Softmax".into(),
        attribute: vec![int("axis", 1)],
        ..Default::default()
    });
    let initializer = spec
        .parameters()
        .iter()
        .map(|(name, _)| {
            let t = weights.get(name).expect("checked against the spec");
            TensorProto {
                dims: t.shape.iter().map(|&d| d as i64).collect(),
                data_type: DataType::Float as i32,
                name: t.name.clone(),
                raw_data: t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ..Default::default()
            }
        })
        .collect();
    let input = &spec.input;
    let k = spec.classes.len() as i64;
    Ok(GraphProto {
        node: nodes,
        name: format!("emnist_{}", spec.architecture.name()),
        initializer,
        doc_string: format!("{} classifier: image -> logits -> probabilities", spec.architecture.name()),
        input: vec![value_info(
            INPUT,
            &[None, Some(input.channels as i64), Some(input.height as i64), Some(input.width as i64)],
        )],
        output: vec![value_info(LOGITS, &[None, Some(k)]), value_info(PROBABILITIES, &[None, Some(k)])],
        ..Default::default()
    })
}

/// Attributes equal to zero are left out (transA, ceil_mode take their default 0): proto3 encoding
/// would drop the value and leave an attribute without one.
fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i, ..Default::default() }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: v.to_vec(), ..Default::default() }
}

fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f, ..Default::default() }
}

/// A float32 tensor's name, type and shape; `None` stands for the symbolic batch dimension.
fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| pb::tensor_shape_proto::Dimension {
            value: Some(match d {
                Some(v) => dimension::Value::DimValue(*v),
                None => dimension::Value::DimParam(BATCH.into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::Tensor;
    use crate::Architecture;
    use emnist_data::ClassTable;

    fn record(arch: Architecture) -> (ModelRecord, Weights) {
        let spec = ModelSpec::new(arch, ClassTable::numbered(3));
        let tensors = spec
            .parameters()
            .into_iter()
            .map(|(name, shape)| Tensor { values: vec![0.5; shape.iter().product()], name, shape })
            .collect();
        let json = serde_json::json!({
            "format_version": 1, "spec": spec, "parameters": 0,
            "dataset": {"name": "d", "split": null, "fingerprint": "f", "train_images": 0, "test_images": 0, "synthetic": true},
            "training": {"learning_rate": 0.1, "batch_size": 1, "epochs": 1, "seed": 0, "class_weights": "none",
                         "eval_every": 1, "eval_fraction": 0.1, "device": "cpu", "threads": 1},
            "metrics": {"test_loss": 1.0, "test_accuracy": 0.5, "balanced_accuracy": 0.5, "per_class_accuracy": [],
                        "top_confusions": [], "steps": 0, "epochs_completed": 0},
            "wall_time_s": 0.0, "versions": {"emnist": "x", "tch": "x", "libtorch": "x"}
        });
        (serde_json::from_value(json).unwrap(), Weights { tensors })
    }

    #[test]
    fn graph_follows_the_contract_and_round_trips() {
        let (r, w) = record(Architecture::Cnn { channels: vec![2], hidden: 4, dropout: 0.5 });
        let model = build_model(&r, &w, 17).unwrap();
        let back = ModelProto::decode(encode(&model).as_slice()).unwrap();
        assert_eq!(back, model);
        assert_eq!((model.ir_version, model.opset_import[0].version, model.producer_name.as_str()), (8, 17, "emnist"));
        let g = model.graph.as_ref().unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Softmax"]);
        assert_eq!(g.node[6].output, [LOGITS]);
        assert_eq!(g.node[7].input, [LOGITS]);
        assert_eq!(g.node[7].output, [PROBABILITIES]);
        let Some(type_proto::Value::TensorType(t)) = &g.input[0].r#type.as_ref().unwrap().value else { panic!() };
        let dims: Vec<_> = t.shape.as_ref().unwrap().dim.iter().map(|d| d.value.clone().unwrap()).collect();
        assert_eq!(dims[0], dimension::Value::DimParam(BATCH.into()));
        assert_eq!(dims[1..], [1, 28, 28].map(dimension::Value::DimValue));
        let conv = &g.initializer[0];
        assert_eq!((conv.name.as_str(), conv.dims.as_slice()), ("conv1.weight", &[2, 1, 3, 3][..]));
        assert_eq!(&conv.raw_data[..4], &0.5f32.to_le_bytes());
        let keys: Vec<&str> = model.metadata_props.iter().map(|e| e.key.as_str()).collect();
        assert!(
            keys.contains(&"class_names") && keys.contains(&"input_normalisation") && keys.contains(&"test_accuracy")
        );
        assert_eq!(model.metadata_props[0].value, r#"["0","1","2"]"#);
    }

    #[test]
    fn opsets_outside_the_range_are_refused() {
        let (r, w) = record(Architecture::Linear);
        for (opset, ir) in [(13, 7), (17, 8), (19, 9), (21, 10)] {
            assert_eq!(build_model(&r, &w, opset).unwrap().ir_version, ir);
        }
        for opset in [12, 22] {
            let e = build_model(&r, &w, opset).unwrap_err();
            assert_eq!(e.downcast_ref::<GraphError>(), Some(&GraphError::UnsupportedOpset(opset)));
        }
    }
}
