//! `emnist-core`: the library under the `emnist` command, from handwritten-character data to a
//! production model server. It has no libtorch: training's loop lives in the `emnist-train` crate.
//!
//! The pipeline, one module per step:
//! - [`data`]: EMNIST readers (Matlab, gzip/idx), the synthetic default, the cache, the `Dataset` type
//! - [`explore`]: dataset statistics (the seed's data-exploration step)
//! - [`plot`]: PNG figures
//! - [`download`]: fetching NIST's archives
//! - [`onnx`]: export to ONNX, checked with tract against a pure-Rust forward pass
//! - [`serve`] ↔ [`query`]: the model server (GraphPipe, TF-Serving REST, KServe v2) and its check
//! - [`health`]: one bounded readiness check of a server (container health checks)
//! - [`protocol`]: the wire formats both sides share
//! - [`contract`]: the model's input/output contract every step above holds to
//! - [`preprocess`]: any picture of a character → a 28×28 model input (the web page's path)
//! - [`report`]: the notebooks' equivalent, one self-contained HTML page
//! - [`artifacts`]: where each step's files go, read back typed
//! - [`train`]: a training run's settings, run directory, checkpoints and metrics (the loop is in `emnist-train`)
//!
//! The library never prints; long work reports through [`progress::Progress`].

pub mod artifacts;
pub mod compare;
pub mod contract;
pub mod data;
pub mod download;
pub mod explore;
pub mod fsutil;
pub mod health;
pub mod model;
pub mod onnx;
pub mod plot;
pub mod preprocess;
pub mod progress;
pub mod protocol;
pub mod query;
pub mod report;
pub mod rng;
pub mod serve;
pub mod shutdown;
pub mod train;
