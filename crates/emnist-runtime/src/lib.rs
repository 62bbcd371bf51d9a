//! `emnist-runtime`: the engines that run an exported ONNX classifier. tract (pure Rust) and
//! onnxruntime (loaded at run time), timed against each other by `--engine auto` ([`engine`]);
//! what any 28×28 classifier file is, read from its graph before an engine sees it
//! ([`classifier`]); the limits checked before a file's cost is paid ([`budget`]); a file loaded
//! for serving ([`served`]); and the export's parity check ([`parity`]).
//!
//! Only this crate knows tract and ort.

pub mod budget;
pub mod classifier;
pub mod engine;
pub mod parity;
pub mod served;
pub mod tract;

pub use budget::Limits;
pub use classifier::ModelOptions;
pub use emnist_model::export::sha256_hex;
pub use engine::{Engine, EngineKind, EngineName};
pub use served::ServedModel;
pub use tract::TractModel;
